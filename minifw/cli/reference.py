"""The command-line reference, ``docs/reference/cli.md``, written from the argument parser.

The page is kept in the repository as text, so that it reads the same on the
repository's web page as on the documentation site. It is made from the parser
by one command, and a test fails when the file and the parser disagree::

    python -m minifw.cli.reference            # (re)write docs/reference/cli.md
    python -m minifw.cli.reference --check    # exit 1, saying so, if it is out of date

Every subcommand gets a section: its description, how it is called, and a
table of its arguments, group by group, each with its help text (defaults
included) as ``--help`` gives it. The tables are written here rather than
copied from ``--help``, whose layout changes with the terminal's width and the
Python version.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import build_parser

PAGE = Path("docs/reference/cli.md")
COMMAND = "python -m minifw.cli.reference"

INTRO = f"""# Command line

Every `minifw` command and its arguments, as `minifw COMMAND --help` gives them. This
page is written from minifw's argument parser by `{COMMAND}`, and a test
fails when the two disagree. The settings of a run (most flags of `minifw train` and
`minifw sweep`) are declared once, in `minifw.RunConfig`: [A run, declared
once](../runs.md) says how.
"""


def reference_text(parser: argparse.ArgumentParser | None = None) -> str:
    """The whole page, Markdown: ``minifw`` and then each subcommand, a section each."""
    parser = parser or build_parser()
    sections = [INTRO]
    for name, command in _commands(parser.prog, parser):
        sections.append(_section(name, command))
    return "\n".join(sections)


def _commands(
    name: str, parser: argparse.ArgumentParser
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """``parser`` and every subcommand's parser below it, with the name each is typed as."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, subparser in action.choices.items():
                yield from _commands(f"{name} {sub}", subparser)


def _section(name: str, parser: argparse.ArgumentParser) -> str:
    lines = [f"## {name}", ""]
    if parser.description:
        lines += [parser.description, ""]
    lines += [f"`{_usage(name, parser)}`", ""]
    for group in parser._action_groups:
        rows = [_row(action) for action in group._group_actions if _shown(action)]
        if rows:
            title = group.title or "arguments"
            lines += [f"### {title[0].upper()}{title[1:]}", "", "| argument | what it does |"]
            lines += ["| --- | --- |", *rows, ""]
    for exclusive in parser._mutually_exclusive_groups:
        flags = ", ".join(f"`{action.option_strings[0]}`" for action in exclusive._group_actions)
        lines += [f"{'Exactly' if exclusive.required else 'At most'} one of {flags}.", ""]
    return "\n".join(lines)


def _shown(action: argparse.Action) -> bool:
    return action.help is not argparse.SUPPRESS and not isinstance(action, argparse._HelpAction)


def _usage(name: str, parser: argparse.ArgumentParser) -> str:
    """How the command is typed: its positional arguments, then [options] if it has any."""
    words = [name]
    options = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            words.append(
                f"[{' | '.join(action.choices)}]" if parser.prog != "minifw" else "COMMAND"
            )
        elif not action.option_strings:
            words.append(_arguments(action, action.dest))
        elif _shown(action):
            options = True
    return " ".join(words + ["[options]"] * options)


def _row(action: argparse.Action) -> str:
    """One table row: how the argument is written, and its help (%(default)s filled in)."""
    if isinstance(action, argparse._SubParsersAction):
        names = "<br>".join(f"`{choice.dest}`: {choice.help}" for choice in action._choices_actions)
        return f"| `{action.metavar or 'COMMAND'}` | {_cell(names)} |"
    if action.option_strings:
        main, *others = action.option_strings
        written = f"`{' '.join(filter(None, [main, _arguments(action, _metavar(action))]))}`"
        if others:
            written += f" (also `{'`, `'.join(others)}`)"
    else:
        written = f"`{_arguments(action, action.dest)}`"
    formatter = argparse.HelpFormatter("minifw")
    help_text = formatter._expand_help(action) if action.help else ""
    return f"| {written} | {_cell(help_text)} |"


def _metavar(action: argparse.Action) -> str | tuple[str, ...]:
    if action.metavar is not None:
        return action.metavar
    if action.choices is not None:
        return "{" + ",".join(map(str, action.choices)) + "}"
    return action.dest.upper()


def _arguments(action: argparse.Action, metavar: str | tuple[str, ...]) -> str:
    """What follows the flag: nothing, a value, several, or a list (as --help writes them)."""
    nargs = action.nargs
    if nargs == 0:
        return ""
    if isinstance(metavar, tuple):
        return " ".join(metavar)
    if nargs == "+":
        return f"{metavar} [{metavar} ...]"
    if nargs == "*":
        return f"[{metavar} ...]"
    if nargs == "?":
        return f"[{metavar}]"
    return " ".join([metavar] * nargs) if isinstance(nargs, int) else metavar


def _cell(text: str) -> str:
    """Text for a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def main(argv: Sequence[str] | None = None) -> int:
    """Write the page (or, with --check, compare it); the exit status says whether it is current."""
    parser = argparse.ArgumentParser(
        prog=COMMAND, description="Write the command-line reference from minifw's parser."
    )
    parser.add_argument(
        "page", nargs="?", default=str(PAGE), help=f"the page to write (default: {PAGE})"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the page differs from what the parser gives",
    )
    args = parser.parse_args(argv)
    page, text = Path(args.page), reference_text()
    current = page.read_text(encoding="utf-8") if page.exists() else None
    if args.check:
        if current != text:
            print(f"{page} is out of date with minifw's parser: run {COMMAND}", file=sys.stderr)
            return 1
        print(f"{page} matches minifw's parser")
        return 0
    if current != text:
        page.write_text(text, encoding="utf-8")
        print(f"{page} written")
    else:
        print(f"{page} is already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
