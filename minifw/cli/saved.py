"""``minifw predict`` and ``minifw plot``: what a saved network answers, and what it drew."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..core.data import read_csv
from ..core.errors import ConfigError, DataError
from ..core.targets import target_from
from ..core.validation import plural
from ..files.atomic import atomic_path
from ..files.saving import load, load_saved
from ..lab.plotting.kinds import FIGURE_KINDS, figure_kind
from .flags import finite_number


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add ``minifw predict`` and ``minifw plot``."""
    guess = commands.add_parser(
        "predict",
        help="a saved network's predictions, in the target's own units",
        description="Predict with a network saved by `minifw train --save`. Negative "
        "numbers may be given as they are: --x 1e308 -1e308.",
    )
    guess.add_argument("model", help="the saved network (.npz)")
    given = guess.add_mutually_exclusive_group(required=True)
    given.add_argument("--x", nargs="+", type=finite_number, help="input values")
    given.add_argument("--input", metavar="CSV", help="a CSV file of input rows")
    guess.add_argument(
        "--out", "--output", metavar="CSV", help="write the predictions here, not stdout"
    )
    draw = commands.add_parser(
        "plot",
        help="draw the figures of a saved network",
        description="Draw a figure of a network saved by `minifw train --save` (or a "
        "checkpoint): with the data and loss history the file holds, or --target's.",
    )
    draw.add_argument("model", help="the saved network or checkpoint (.npz)")
    draw.add_argument(
        "--domain",
        nargs=2,
        type=finite_number,
        metavar=("LOW", "HIGH"),
        help="draw over this interval; past the training domain is shaded as extrapolation",
    )
    draw.add_argument(
        "--figure",
        choices=FIGURE_KINDS,
        default="overview",
        help="which figure (default: overview)",
    )
    draw.add_argument(
        "--target",
        help="the function to compare with, by name or formula, if not the file's own data",
    )
    draw.add_argument(
        "--out",
        metavar="PATH",
        help="where to write it, .png, .svg or .pdf (default: MODEL-FIGURE.png)",
    )


def predict(args: argparse.Namespace) -> int:
    """Run ``minifw predict``: a saved network's answers, in the target's own units."""
    network = load(args.model)
    if args.input is not None:
        x = read_csv(args.input)
    else:
        if len(args.x) % network.n_inputs:
            raise ConfigError(
                f"--x gave {plural(len(args.x), 'value')}, which do not make whole samples: "
                f"{args.model} takes {plural(network.n_inputs, 'input')} per sample, so give a "
                f"multiple of {network.n_inputs} values"
            )
        x = np.asarray(args.x, dtype=np.float64).reshape(-1, network.n_inputs)
    with np.errstate(over="ignore", invalid="ignore"):  # said below, once, with the inputs
        y = network.predict(x)
    bad = ~np.isfinite(y).all(axis=1)
    if bad.any():
        first = x[np.argmax(bad)].tolist()
        raise DataError(
            f"{args.model} predicts a value that is not finite for "
            f"{plural(int(bad.sum()), 'input row')} (the first at x = {first}): its weights or "
            "its normaliser's ranges overflow a float64 there; the file cannot be used as it is"
        )
    header = [f"x{i}" for i in range(x.shape[1])] + [f"y{i}" for i in range(y.shape[1])]
    lines = [",".join(header)] + [
        ",".join(repr(float(v)) for v in row) for row in np.hstack([x, y])
    ]
    text = "\n".join(lines) + "\n"
    if args.out is None:
        print(text, end="")
        return 0
    with atomic_path(args.out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(f"{len(y)} predictions written to {args.out}")
    return 0


def plot(args: argparse.Namespace) -> int:
    """Run ``minifw plot``: a figure of a saved network, from the data the file holds."""
    saved = load_saved(args.model)
    source = saved.source
    if args.target is not None:
        source = target_from(args.target).source()
    if source is None:
        raise ConfigError(
            f"{args.model} holds no data to compare with (it was saved without it); "
            "name the target with --target, e.g. --target sin"
        )
    kind = figure_kind(args.figure, saved.network.n_inputs)
    if kind == "loss" and not saved.history:
        raise ConfigError(f"{args.model} holds no loss history to draw")
    from ..lab.plotting import make_figure, save_figure

    figure = make_figure(
        kind, saved.network, source, saved.history, domain=args.domain, title=args.model
    )
    out = args.out or Path(args.model).with_name(f"{Path(args.model).stem}-{kind}.png")
    print(f"Figure written to {save_figure(figure, out)}")
    return 0
