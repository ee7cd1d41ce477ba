"""A run's loss history kept append-only beside its checkpoint, so that a checkpoint costs the
same at epoch two million as at epoch ten.

A ``Checkpoint`` callback writing to ``run.npz`` over and over writes the history once, to
``run.npz.<id>.history`` beside it, and then appends only each checkpoint's new epochs;
the checkpoint itself names that file and says how many of its records it covers. The file
is ``MAGIC``, then one 9-byte record per logged value: the index of its key (the order of
the checkpoint's ``trainer.history`` list, a byte) and the value (float64, little-endian).
The values of one key come in epoch order; keys interleave freely.

Appending never disturbs a checkpoint already on disk: it reads only the records it names,
which an append leaves in place. A history that changed otherwise (a new run, a diverged
epoch dropped) starts a new file under a new id; the old one goes once a checkpoint naming
the new one is in place.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

MAGIC = b"MFWHIST1"
RECORD = np.dtype([("key", "u1"), ("value", "<f8")])
MAX_KEYS = 256  # a key's index is one byte


def journal_pattern(target: Path) -> re.Pattern[str]:
    """The names of the journals of the checkpoint ``target`` (its file name and an id)."""
    return re.compile(rf"{re.escape(target.name)}\.[0-9a-f]{{8}}\.history")


def remove_journals(target: Path, keep: str | None = None) -> None:
    """Remove the journals beside the checkpoint ``target`` but the one named ``keep``: those
    of checkpoints it replaced, and of writes that died before their checkpoint was in place."""
    pattern = journal_pattern(target)
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent):
            if entry.name != keep and pattern.fullmatch(entry.name):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


class HistoryJournal:
    """The journal of one checkpoint path, as one ``Checkpoint`` callback writes it.

    ``target`` is the checkpoint's real path (symbolic links resolved). ``keys``,
    ``counts`` and ``records`` say what the file holds; ``table()`` is what the
    checkpoint's header records of it.
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        self.name = f"{target.name}.{os.urandom(4).hex()}.history"
        self.path = target.parent / self.name
        self.keys: list[str] = []
        self.counts: dict[str, int] = {}
        self._last: dict[str, float] = {}  # each key's last value written: a cheap fingerprint
        self._history: Mapping[str, Sequence[float]] | None = None
        self.records = 0
        with open(self.path, "xb") as file:  # "x": never another journal's file
            file.write(MAGIC)

    def follows(self, history: Mapping[str, Sequence[float]]) -> bool:
        """Whether ``history`` is the one written so far with epochs added after it, so that
        appending its new values keeps the file its exact record."""
        if history is not self._history:
            return False
        for key, count in self.counts.items():
            values = history.get(key, ())
            if len(values) < count or (count and not _same(values[count - 1], self._last[key])):
                return False  # shortened (a diverged epoch dropped) or rewritten
        return True

    def extend(self, history: Mapping[str, Sequence[float]]) -> None:
        """Append what ``history`` holds beyond what was written, and make it durable (fsync)
        before the checkpoint that will name it is written."""
        new_keys = [key for key in history if key not in self.counts]
        if len(self.keys) + len(new_keys) > MAX_KEYS:
            raise ValueError(f"a history journal holds at most {MAX_KEYS} keys")
        chunks = []
        for key, values in history.items():
            if key not in self.counts:
                self.keys.append(key)
                self.counts[key] = 0
            added = values[self.counts[key] :]
            if len(added):
                chunk = np.empty(len(added), RECORD)
                chunk["key"], chunk["value"] = self.keys.index(key), added
                chunks.append(chunk)
        data = b"".join(chunk.tobytes() for chunk in chunks)
        fd = os.open(self.path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
        try:
            # Back to what was written whole: an append cut short (a full disk) is cut off.
            end = len(MAGIC) + RECORD.itemsize * self.records
            os.ftruncate(fd, end)
            os.lseek(fd, end, os.SEEK_SET)
            while data:  # os.write may write less than asked
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        for chunk in chunks:
            self.records += len(chunk)
        for key, values in history.items():
            self.counts[key] = len(values)
            if values:
                self._last[key] = float(values[-1])
        self._history = history

    def table(self) -> dict[str, object]:
        """The checkpoint header's ``trainer.journal`` table for the file as it is now."""
        return {"file": self.name, "records": self.records, "counts": dict(self.counts)}


def read_journal(
    path: Path, keys: Sequence[str], records: int, counts: Mapping[str, int]
) -> dict[str, list[float]]:
    """The history a checkpoint's journal holds: its first ``records`` records, split by key.

    ``path`` is the journal; ``keys`` the checkpoint's key list, ``counts`` how many
    values each must have. A ValueError says what is wrong (the caller names the files).
    """
    try:
        with open(path, "rb") as file:
            magic = file.read(len(MAGIC))
            data = file.read(RECORD.itemsize * records)
    except FileNotFoundError:
        raise ValueError(
            f"its loss history is kept in {path.name} beside it, which is missing (a "
            "checkpoint written by the Checkpoint callback is the .npz file and that file)"
        ) from None
    except OSError as error:
        raise ValueError(f"cannot read its history file {path.name}: {error}") from None
    if magic != MAGIC:
        raise ValueError(f"{path.name} is not a minifw history file")
    found = len(data) // RECORD.itemsize
    if found < records:
        raise ValueError(f"{path.name} holds {found} of the {records} values it should (cut short)")
    table = np.frombuffer(data, RECORD)
    if table.size and int(table["key"].max()) >= len(keys):
        raise ValueError(f"{path.name} holds values of keys the checkpoint does not list")
    history = {key: table["value"][table["key"] == i].tolist() for i, key in enumerate(keys)}
    wrong = {key: len(v) for key, v in history.items() if len(v) != counts.get(key)}
    if wrong:
        raise ValueError(f"{path.name} holds {wrong} values per key; the checkpoint says {counts}")
    return history
