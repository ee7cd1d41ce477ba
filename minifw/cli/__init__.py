"""The ``minifw`` command: one module per subcommand, and this one to dispatch.

``minifw train`` with no flags trains the blog's sigmoid network for 3000
epochs, prints the blog's stats line and the error on the shifted evaluation
points, and writes the blog's three graphs to a PNG. The flags of ``train``
and ``sweep`` are derived from the run's declaration (``minifw.run.config``).
The command line is the only part of minifw that reads ``sys.argv``, and no
other part imports it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..core.errors import MinifwError
from . import lab, runs, saved, sweep, train
from .flags import Parser

# Each subcommand and the function that runs it.
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": train.run,
    "list": runs.list_components,
    "predict": saved.predict,
    "runs": runs.runs,
    "plot": saved.plot,
    "sweep": sweep.run,
    "lab": lab.run,
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every ``minifw`` subcommand."""
    parser = Parser(
        prog="minifw",
        description="A small neural-network framework on numpy, grown from the blog "
        "'A Neural Network in Python, Part 2'.",
    )
    parser.add_argument("--version", action="version", version=f"minifw {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    train.add_parser(commands)
    runs.add_parsers(commands)
    saved.add_parsers(commands)
    sweep.add_parser(commands)
    lab.add_parser(commands)
    return parser


def _subparser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Parser:
    """The parser of the subcommand ``args`` ran (``runs compare``'s for that one)."""
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    chosen = action.choices[args.command]
    nested = getattr(args, "runs_command", None)
    if nested:
        inner = next(a for a in chosen._actions if isinstance(a, argparse._SubParsersAction))
        chosen = inner.choices[nested]
    return chosen  # type: ignore[return-value]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``minifw`` command."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the subcommand, with the flags of its own that they resemble
        _subparser(parser, args).unknown(unknown)
    try:
        status = COMMANDS[args.command](args)
        sys.stdout.flush()  # here, so that a closed pipe is met below and not at exit
        return status
    except MinifwError as error:
        parser.exit(2, f"minifw: error: {error}\n")
    except BrokenPipeError:  # `minifw list | head` closed the pipe: stop quietly, as cat does
        # Python flushes stdout once more at exit; send that to /dev/null, not the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as error:  # a file that cannot be read or written: say which, no traceback
        parser.exit(1, f"minifw: error: {error}\n")
    return 1  # unreachable: parser.exit raises SystemExit


if __name__ == "__main__":
    sys.exit(main())
