"""MkDocs hook: the command-line reference is written from the argument parser at build time.

A page holding the line ``<!-- minifw-cli-reference -->`` gets, in its place,
the ``--help`` of ``minifw`` and of each subcommand, so the reference can never
drift from the parser. (Not a docs page: MkDocs loads it through ``hooks:`` in
mkdocs.yml.)
"""

from __future__ import annotations

import argparse
from typing import Any

MARKER = "<!-- minifw-cli-reference -->"


def cli_reference() -> str:
    """Markdown: ``minifw --help``, then each subcommand's help, in a section of its own."""
    from minifw.cli import build_parser

    parser = build_parser()
    sections = [f"## minifw\n\n```text\n{parser.format_help()}```\n"]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                sections.append(f"## minifw {name}\n\n```text\n{sub.format_help()}```\n")
    return "\n".join(sections)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return markdown.replace(MARKER, cli_reference()) if MARKER in markdown else markdown
