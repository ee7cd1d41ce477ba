"""Each "Try this" chapter's conclusion, re-run over several independent seed sets.

What it teaches: a sweep draws its seeds from one number, ``sweep_seed``; another
``sweep_seed`` draws ten (or forty) other seeds. A conclusion that holds for one seed
set and not for the next was luck, and the median of ten runs that split between two
outcomes can land on either. So this script re-runs the sweeps each chapter's
conclusion rests on, for sweep seeds 0, 1 and 2 (the pages' own sweeps are seed set
0), and prints every grid point per seed set and pooled: the median evaluation error,
its quartiles, how many runs end below 0.02 (the runs that fit sin's trough as well as
its peak) and how many failed; where a chapter needs them, also the runs that end
predicting -1 everywhere, the epochs to a target loss, the share of the target's
variance left unexplained, or the batch sizes on the Pareto front. The docs quote
these tables.

    python examples/seed_sets.py                        # every chapter, a few minutes
    python examples/seed_sets.py no-bias initial-weights --sweep-seeds 0 1 2 3 4
    python examples/seed_sets.py --epochs 50 --seeds 2  # a quick look, not the docs' numbers

``--out DIR`` also writes every table to DIR/seed_sets.csv.
"""

import argparse
import csv
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import attrs
import numpy as np

import minifw
from minifw import RunConfig, presets
from minifw.lab.sweep_report import pareto_front, point_label, run_seconds

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chapters import try_1_4, try_5_8  # the grids the pages and figures use

GOOD = 0.02  # an error below this fits sin's trough too; most runs end near 0.05
AT_MINUS_ONE = 1.4  # predicting -1 everywhere costs about 1.49


class Check(NamedTuple):
    """One sweep a chapter's conclusion rests on, and what to count in it."""

    title: str
    config: RunConfig
    grid: dict
    seeds: int = 10
    target_loss: float | None = None
    at_minus_one: bool = False  # count the runs that end predicting -1 everywhere
    share: bool = False  # the median error over the target's variance (grid: targets)
    front: bool = False  # the batch sizes of the runs on the Pareto front


def _updates_check(batch_size: int, lr: float | None, epochs: int, title: str) -> Check:
    """A batch size given ``epochs`` (its number of updates fixed by the title's budget)."""
    return Check(title, RunConfig(batch_size=batch_size, lr=lr, epochs=epochs), {})


CHAPTERS: dict[str, list[Check]] = {
    "epochs-and-batch-size": [
        Check("more epochs", RunConfig(), {"epochs": [1000, 3000, try_1_4.LONG_EPOCHS]}),
        Check("batch sizes, 3000 epochs each", RunConfig(), {"batch_size": [1, 4, 32]}),
        _updates_check(1, None, 750, "batch 1, the blog's step per point, 24,000 updates"),
        _updates_check(32, None, 24_000, "batch 32, the blog's step per point, 24,000 updates"),
        _updates_check(4, 7.2, 3000, "batch 4 at batch 32's lr 7.2, 24,000 updates"),
        _updates_check(32, 0.9, 24_000, "batch 32 at batch 4's lr 0.9, 24,000 updates"),
    ],
    "activations": [
        Check(
            "three activations, four steps", RunConfig(), try_1_4.ACTIVATION_GRID, at_minus_one=True
        ),
        Check(
            "tanh hidden units, two outputs",
            RunConfig(activation="tanh"),
            {"output_activation": ["tanh", "identity"], "lr": [0.01, 0.03, 0.1, 0.3]},
        ),
    ],
    "functions-and-domains": [
        Check("four targets", RunConfig(), try_1_4.TARGET_GRID, share=True),
        Check("sin on four domains", RunConfig(), try_1_4.DOMAIN_GRID),
    ],
    "hidden-size": [
        Check("five sizes, 3000 epochs", RunConfig(), {"layers": [[1], [2], [5], [10], [20]]}),
        Check(
            "five and ten units, 10000 epochs",
            RunConfig(epochs=try_1_4.LONG_EPOCHS),
            {"layers": [[5], [10]]},
        ),
    ],
    "learning-rate": [
        Check(
            "six rates",
            RunConfig(),
            try_5_8.LR_GRID,
            target_loss=try_5_8.LR_TARGET,
            at_minus_one=True,
        ),
        Check(
            "tanh, six rates",
            RunConfig(activation="tanh"),
            {"lr": [0.003, 0.01, 0.03, 0.1, 0.3, 1.0]},
        ),
    ],
    "no-bias": [
        Check(
            "with and without the bias, two domains",
            RunConfig(),
            {"domain": [(0, 6.28), (-3.14, 3.14)], "bias": [True, False]},
        ),
        Check(
            "more units without the bias", RunConfig(bias=False), {"layers": [(5,), (10,), (20,)]}
        ),
        Check(
            "twenty units without the bias, identity output",
            RunConfig(bias=False, layers=(20,), output_activation="identity"),
            {"lr": [0.01, 0.03, 0.1]},
        ),
    ],
    "initial-weights": [
        Check(
            "the two ends",
            RunConfig(),
            {"init": ["variance_scaling:scale=0.01", "variance_scaling:scale=100"]},
            seeds=20,
            at_minus_one=True,
        ),
        Check(
            "the blog's start against He's",
            RunConfig(),
            {"init": ["blog_uniform", "he_uniform"]},
            seeds=40,
        ),
    ],
    "error-and-time": [
        Check(
            "five batch sizes",
            RunConfig(engine="numpy"),  # as the chapter: its times are the numpy engine's
            try_5_8.BATCH_GRID,
            target_loss=try_5_8.BATCH_TARGET,
            front=True,
        ),
    ],
}


def _cut(config: RunConfig, epochs: int | None) -> RunConfig:
    """``config`` with its epochs cut to ``epochs`` (None: as it is)."""
    if epochs is None or config.epochs <= epochs:
        return config
    return attrs.evolve(config, epochs=epochs)


def _variance(target: str) -> float:
    """The variance of ``target`` over its evaluation points."""
    _, y = presets.experiment(target=target).source.evaluation_arrays()
    return float(np.var(y))


def _columns(check: Check) -> list[tuple[str, Callable[[list], str]]]:
    """The columns of a check's table after the point and the seed set: (header, cell)."""

    def errors(rows: list) -> np.ndarray:
        return np.array([row.evaluation_error for row in rows if row.ok])

    columns = [
        ("median error", lambda rows: f"{np.median(errors(rows)):.4g}"),
        ("quartiles", lambda rows: "{:.3g}..{:.3g}".format(*np.percentile(errors(rows), [25, 75]))),
        (f"below {GOOD}", lambda rows: f"{np.sum(errors(rows) < GOOD)}/{len(rows)}"),
        ("failed", lambda rows: f"{sum(not row.ok for row in rows)}/{len(rows)}"),
    ]
    if check.at_minus_one:
        columns.append(("at -1", lambda rows: f"{np.sum(errors(rows) > AT_MINUS_ONE)}/{len(rows)}"))
    if check.target_loss is not None:

        def to_target(rows: list) -> str:
            reached = [row.epochs_to_target for row in rows if row.epochs_to_target is not None]
            median = f", median epoch {np.median(reached):.0f}" if reached else ""
            return f"{len(reached)}/{len(rows)}{median}"

        columns.append((f"reach loss {check.target_loss}", to_target))
    if check.share:

        def share(rows: list) -> str:
            return f"{np.median(errors(rows)) / _variance(rows[0].point['target']):.4f}"

        columns.append(("median / variance", share))
    return columns


def run_check(
    check: Check, sweep_seeds: list[int], epochs: int | None, seeds: int | None
) -> tuple[list[list[str]], list[str]]:
    """The table of one check, header first (each grid point per seed set, then pooled), and
    the lines to print below it: each seed set's Pareto front where the check asks for it
    (from measured times, so it may shift from one run of the script to the next)."""
    config = _cut(check.config, epochs)
    by_set = {
        s: minifw.sweep(
            config, check.grid, seeds or check.seeds, sweep_seed=s, target_loss=check.target_loss
        )
        for s in sweep_seeds
    }
    columns = _columns(check)
    varied = list(check.grid)
    table = [["point", "seed set", *(header for header, _ in columns)]]
    points = list(by_set[sweep_seeds[0]].points())
    for values in points:
        label = point_label(varied, values)
        pooled = []
        for s, results in by_set.items():
            rows = results.points()[values]
            pooled += rows
            table.append([label, str(s), *(cell(rows) for _, cell in columns)])
        table.append([label, "pooled", *(cell(pooled) for _, cell in columns)])
    notes = []
    if check.front:
        for s, results in by_set.items():
            on = pareto_front(
                [row.evaluation_error for row in results], [run_seconds(row) for row in results]
            )
            front = sorted(
                (row.point["batch_size"], round(row.evaluation_error, 4))
                for row, keep in zip(results, on, strict=True)
                if keep
            )
            notes.append(f"seed set {s}: on the Pareto front (batch size, error): {front}")
    return table, notes


def aligned(table: list[list[str]]) -> str:
    """A table of text cells as aligned columns, a line per row."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description="Each chapter's conclusion over seed sets.")
    parser.add_argument("chapters", nargs="*", help=f"any of {', '.join(CHAPTERS)} (default: all)")
    parser.add_argument(
        "--sweep-seeds", type=int, nargs="+", default=[0, 1, 2], help="default: 0 1 2"
    )
    parser.add_argument("--epochs", type=int, default=None, help="cut every run to N epochs")
    parser.add_argument("--seeds", type=int, default=None, help="runs per point and seed set")
    parser.add_argument("--out", type=Path, default=None, help="also write DIR/seed_sets.csv")
    args = parser.parse_args(argv)
    if unknown := sorted(set(args.chapters) - set(CHAPTERS)):
        parser.error(f"unknown chapter(s) {', '.join(unknown)}; expected {', '.join(CHAPTERS)}")
    written = []
    for chapter in args.chapters or list(CHAPTERS):
        for check in CHAPTERS[chapter]:
            seeds = args.seeds or check.seeds
            print(f"## {chapter}: {check.title} ({seeds} seeds per set)")
            table, notes = run_check(check, args.sweep_seeds, args.epochs, args.seeds)
            print(aligned(table), *notes, sep="\n", end="\n\n", flush=True)
            written += [[chapter, check.title, *row] for row in table[1:]]
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        with open(args.out / "seed_sets.csv", "w", newline="") as file:
            csv.writer(file).writerows(written)


if __name__ == "__main__":
    main()
