"""Text for people: tables of aligned columns, as describe(), summary() and leaderboards print."""

from __future__ import annotations

from collections.abc import Sequence


def aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows of text cells as lines, each column as wide as its widest cell, two spaces apart.

    A cell never holds two spaces in a row, so the columns can be split again on them.
    """
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
