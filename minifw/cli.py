"""The ``minifw`` command.

``minifw train`` with no flags trains the blog's sigmoid network for 3000
epochs, prints the blog's stats line and the error on the shifted evaluation
points, and writes the blog's three graphs to a PNG.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import presets
from .errors import MinifwError


def _bounded(kind: type, low: float, *, strict: bool = False) -> Callable[[str], float]:
    """An argparse type: a number of ``kind`` at least ``low`` (above it if ``strict``)."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {low}, got {text}")
        return value

    return parse


def _activation(text: str) -> str:
    if text.lower() not in presets.SETTINGS:
        raise argparse.ArgumentTypeError(
            f"unknown activation {text!r}; choose from {', '.join(presets.SETTINGS)}"
        )
    return text.lower()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every ``minifw`` subcommand."""
    parser = argparse.ArgumentParser(
        prog="minifw",
        description="A small neural-network framework on numpy, grown from the blog "
        "'A Neural Network in Python, Part 2'.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser(
        "train",
        help="train the blog's network and draw its graphs",
        description="Train the blog's 2-5-1 network to learn sin(x) on [0, 6.28] from 32 "
        "points, print its stats line and the evaluation error, and draw its three graphs. "
        "Every flag turns one knob from the blog's list of things to try.",
    )
    train.add_argument(
        "--activation",
        type=_activation,
        default="sigmoid",
        help="sigmoid, tanh or relu, each with the blog's normalisation range and step "
        "(default: %(default)s)",
    )
    train.add_argument(
        "--epochs",
        type=_bounded(int, 0),
        default=presets.EPOCHS,
        help="passes over the 32 training points (default: %(default)s)",
    )
    train.add_argument(
        "--batch-size",
        type=_bounded(int, 1),
        default=presets.BATCH_SIZE,
        help="samples per weight update, taken in order (default: %(default)s)",
    )
    train.add_argument(
        "--hidden",
        type=_bounded(int, 1),
        default=presets.HIDDEN,
        help="units in the hidden layer (default: %(default)s)",
    )
    train.add_argument(
        "--lr",
        type=_bounded(float, 0, strict=True),
        default=None,
        help="SGD learning rate on the mean squared error (default: the blog's step L "
        "as an MSE rate, L x batch size / 2: 0.9 for sigmoid, 0.01 for tanh, 0.001 for relu)",
    )
    train.add_argument(
        "--no-bias",
        dest="bias",
        action="store_false",
        help="drop the bias unit from the hidden layer (the blog's input layer becomes 1)",
    )
    train.add_argument(
        "--seed",
        type=_bounded(int, 0),
        default=0,
        help="seed of every random choice, here the initial weights (default: %(default)s)",
    )
    plot = train.add_mutually_exclusive_group()
    plot.add_argument(
        "--plot",
        metavar="PATH",
        type=Path,
        default=Path("minifw-blog.png"),
        help="where to write the three graphs, .png or .svg (default: %(default)s)",
    )
    plot.add_argument("--no-plot", action="store_true", help="draw no graphs")
    return parser


def train(args: argparse.Namespace) -> int:
    """Run ``minifw train`` with parsed ``args``; print the stats and return the exit code."""
    run = presets.blog(
        args.activation,
        hidden=args.hidden,
        batch_size=args.batch_size,
        lr=args.lr,
        bias=args.bias,
        seed=args.seed,
    )
    result = run.fit(args.epochs)
    print(run.stats_line(result))
    x_eval, _ = run.source.evaluation_arrays()
    print(
        f"Evaluation MSE: {run.evaluation_mse():.6g} "
        f"(in sin's units, at {len(x_eval)} points shifted by half a step)"
    )
    if not args.no_plot:
        from .plotting import blog_figure, save_figure

        figure = blog_figure(run.network, run.source, result.loss, title=run.stats_line(result))
        save_figure(figure, args.plot)
        print(f"Graphs written to {args.plot}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``minifw`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return {"train": train}[args.command](args)
    except MinifwError as error:
        parser.exit(2, f"minifw: error: {error}\n")
    return 1  # unreachable: parser.exit raises SystemExit


if __name__ == "__main__":
    sys.exit(main())
