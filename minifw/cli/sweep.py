"""``minifw sweep``: a grid of settings over many seeds, stacked; a table, figures, a report.

The base run takes the same flags as ``minifw train`` for what trains (data,
network, training) and ``--plugin``; ``--grid KEY=V1,V2`` varies a setting
(its values read as the setting's own flag reads them) or a component's
parameter (``optimizer.beta1``). Every bad setting is refused before anything
runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import attrs

from ..core.errors import ConfigError
from ..core.metrics import STANDARD, Metric
from ..core.registry import did_you_mean, load_plugins
from ..core.registry import parse_value as spec_value
from ..core.validation import plural
from ..lab.results import TO_TARGET
from ..lab.sweeps import (
    BASE_SETTINGS,
    MAX_RUNS,
    groups,
    plan,
    planned_runs,
    sweep,
    varied_settings,
)
from ..run.config import SETTINGS, RunConfig, parse_text
from ..run.experiment import build
from .flags import add_run_flags, finite_number
from .train import configuration


def count(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number at least ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {text}")
        return value

    return parse


def _grid_entry(text: str) -> tuple[str, str]:
    """An argparse type: ``KEY=V1,V2,...`` as (key, the values' text), both non-empty."""
    key, equals, values = text.partition("=")
    if not equals or not key.strip() or not values.strip():
        raise argparse.ArgumentTypeError(
            f"expected KEY=V1,V2,... such as lr=0.1,0.3 or activation=sigmoid,tanh; got {text!r}"
        )
    return key.strip(), values.strip()


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add ``minifw sweep``: a grid of settings, each point over several seeds; its base run
    takes every flag of ``minifw train`` that describes what trains, and --plugin."""
    sweeping = commands.add_parser(
        "sweep",
        help="train every point of a grid of settings over several seeds; a table, figures "
        "and a report",
        description="Train the --config run at every point of the --grid, each over --seeds "
        "seeds, and write into --out: results.csv (a row per run), leaderboard.txt (a line per "
        "grid point, best first), fits.png, loss.png, pareto.png and report.html (all of it on "
        "one self-contained page). Every finished run is recorded at once in --out/ledger.jsonl, "
        "so an interrupted sweep continues with --resume.",
    )
    add_run_flags(sweeping, BASE_SETTINGS)
    sweeping.add_argument(
        "--config",
        metavar="FILE",
        help="the run to vary, a TOML file as `minifw train --save-config` writes "
        "(default: the blog's); the flags above override it",
    )
    sweeping.add_argument(
        "--grid",
        metavar="KEY=V1,V2,...",
        type=_grid_entry,
        action="append",
        default=[],
        help="a setting and the values to try; repeat for more settings (every combination "
        "runs). KEY is a configuration key (lr, activation, layers, epochs, ...) or a "
        "component's parameter (optimizer.beta1). Values take the setting's type; separate "
        "them with ';' when they hold commas: --grid 'layers=5;8,8', "
        "--grid 'optimizer=adam:beta1=0.8,beta2=0.99;sgd'",
    )
    sweeping.add_argument(
        "--seeds",
        type=count(1),
        default=1,
        metavar="N",
        help="runs per grid point, each from its own seed; every point gets the same seeds "
        "(default: 1)",
    )
    sweeping.add_argument(
        "--sweep-seed",
        type=count(0),
        default=0,
        metavar="S",
        help="the seed the runs' seeds are drawn from (default: 0)",
    )
    where = sweeping.add_mutually_exclusive_group()
    where.add_argument(  # default None, not 1: argparse lets a default pass as not given
        "--jobs",
        type=count(1),
        metavar="N",
        help="worker processes (default: 1, in this process)",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a dask cluster, e.g. tcp://10.0.0.5:8786 (needs dask[distributed])",
    )
    sweeping.add_argument(
        "--chunk",
        type=count(1),
        metavar="N",
        help="at most N runs train together as one stacked network (default: as many as share "
        "their settings but for seed and learning rate, split evenly among the workers); the "
        "results are the same whatever it is",
    )
    sweeping.add_argument(
        "--target-loss",
        type=finite_number,
        metavar="X",
        help="also report the epochs and seconds each run took to reach this training loss",
    )
    sweeping.add_argument(
        "--rank-by",
        default="evaluation_error",
        metavar="NAME",
        help="rank the leaderboard by the median of this over the seeds, best first: "
        "evaluation_error, final_loss, a metric (mae, rmse, r2, max_abs_error, which every "
        "row records, or one of your own), or the time or work to a target: "
        "seconds_to_eval_target, epochs_to_eval_target, work_to_eval_target (with "
        "--target-eval), seconds_to_target, epochs_to_target (with --target-loss); a run "
        "that never reached it ranks last (default: evaluation_error)",
    )
    sweeping.add_argument(
        "--out", default="sweep", metavar="DIR", help="where to write (default: sweep)"
    )
    sweeping.add_argument(
        "--yes",
        action="store_true",
        help=f"run a sweep of more than {CONFIRM_RUNS:,} runs (without it, such a sweep is "
        "refused, after saying how many runs it plans and how long they would take)",
    )
    sweeping.add_argument(
        "--resume",
        action="store_true",
        help="continue the sweep in --out, running only the runs it has not finished",
    )
    sweeping.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress bar (by default one on stderr counts the finished runs)",
    )


def grid_values(key: str, text: str) -> list[Any]:
    """The values of ``--grid KEY=TEXT``, each read as the setting's flag reads it; ConfigError
    for a key that is not a setting a sweep varies, or a value the setting does not take.

    Values are separated by ',', or by ';' when the text holds one (a component spec with
    several parameters), and always by ';' for a setting whose value holds commas
    (``layers=5;8,8``, ``domain=0,3.14;0,6.28``). A component's parameter
    (``optimizer.beta1``) is read as a spec's parameter is.
    """
    field, dot, _ = key.partition(".")
    varied = varied_settings()
    if field not in varied:
        hint = did_you_mean(field, varied)
        raise ConfigError(
            f"--grid {key}: a sweep varies the settings {', '.join(varied)} (and their "
            f"components' parameters, such as optimizer.beta1), not {field!r}{hint}"
        )
    listed = not dot and SETTINGS[field].kind in ("sizes", "interval")
    separator = ";" if listed or ";" in text else ","
    parts = [part.strip() for part in text.split(separator)]
    if not all(parts):
        raise ConfigError(f"--grid {key}: an empty value in {text!r}")
    if separator == "," and any(":" in part for part in parts):
        stray = [part for part in parts if "=" in part and ":" not in part]
        if stray:  # "adam:beta1=0.8,beta2=0.99" was cut at its comma
            raise ConfigError(
                f"--grid {key}: {stray[0]!r} is not a value but a parameter of the spec before "
                f"it; separate specs that hold commas with ';', e.g. "
                "--grid 'optimizer=adam:beta1=0.8,beta2=0.99;sgd'"
            )
    values = [
        spec_value(part) if dot else _plain(parse_text(field, part, where=f"--grid {key}"))
        for part in parts
    ]
    seen = [json.dumps(value) for value in values]
    twice = next((v for i, v in enumerate(values) if seen[i] in seen[:i]), None)
    if twice is not None:  # two runs with one key: the second would replace the first's row
        raise ConfigError(f"--grid {key}: the value {twice!r} is given twice")
    return values


def _plain(value: Any) -> Any:
    """A setting's value as the sweep's plan file and ledger keep it (a tuple as a list)."""
    return list(value) if isinstance(value, tuple) else value


def sweep_grid(entries: Sequence[tuple[str, str]]) -> dict[str, list[Any]]:
    """The grid the ``--grid`` options name, in their order; ConfigError for a key given twice."""
    grid: dict[str, list[Any]] = {}
    for key, text in entries:
        if key in grid:
            raise ConfigError(f"--grid {key} is given twice; give all its values in one --grid")
        grid[key] = grid_values(key, text)
    return grid


def ranked_by(
    config: RunConfig, name: str, target_loss: float | None = None
) -> tuple[RunConfig, str]:
    """``--rank-by NAME`` checked before anything runs: (the configuration, with the metric
    among those each row records if it is not already, and the name the rows record it by).
    Ranking by the time or work to a target needs that target."""
    if name in ("evaluation_error", "final_loss"):
        return config, name
    if name in TO_TARGET:
        needs = "--target-eval MSE" if "eval" in name else "--target-loss X"
        if (config.target_eval if "eval" in name else target_loss) is None:
            raise ConfigError(f"--rank-by {name} needs the target it measures: give {needs}")
        return config, name
    try:
        key = Metric.resolve(name).key
    except ConfigError:
        choices = ["evaluation_error", "final_loss", *TO_TARGET, *Metric.registry.names()]
        raise ConfigError(
            f"--rank-by {name}: expected {', '.join(choices)} (a metric of your own is named "
            "once its file is loaded: --plugin FILE)" + did_you_mean(name, choices)
        ) from None
    if key in STANDARD or key in config.metrics:
        return config, key
    return attrs.evolve(config, metrics=(*config.metrics, key)), key


# More runs than this need --yes: a typo in --seeds should not start hours of training.
CONFIRM_RUNS = 10_000


def _check_size(config: RunConfig, grid: dict[str, list[Any]], args: argparse.Namespace) -> None:
    """Say how many runs the sweep plans and about how long they would take one by one (from
    a short run of the base configuration); refuse more than CONFIRM_RUNS without --yes."""
    total = planned_runs(grid, args.seeds)
    points = math.prod(map(len, grid.values()))
    if total > MAX_RUNS:
        return  # plan() refuses it, saying why
    trial = build(attrs.evolve(config, epochs=min(config.epochs, 20)))
    seconds = trial.fit().seconds  # training alone: a first compile is once, not per run
    per_epoch = seconds / max(trial.trainer.epochs_done, 1)
    estimate = per_epoch * config.epochs * total
    print(
        f"Planned: {plural(total, 'run')} ({plural(points, 'grid point')} x "
        f"{plural(args.seeds, 'seed')}), about {_duration(estimate)} trained one by one "
        "(stacked runs take a fraction of that)"
    )
    if total > CONFIRM_RUNS and not args.yes:
        raise ConfigError(
            f"the sweep would train {total:,} runs, more than {CONFIRM_RUNS:,}; check --grid and "
            "--seeds, or pass --yes to run it"
        )


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.1f} s"


@contextlib.contextmanager
def _executor(args: argparse.Namespace) -> Iterator[tuple[Executor | None, int]]:
    """The executor ``minifw sweep`` runs on and how many runs it runs at once: none (this
    process, 1), a pool of --jobs processes, or a dask cluster's at --scheduler."""
    if args.scheduler is not None:
        try:
            import distributed
        except ImportError:
            raise ConfigError(
                "--scheduler needs dask's distributed package, which is not installed: "
                'pip install "dask[distributed]"'
            ) from None
        with distributed.Client(args.scheduler) as client:
            yield client.get_executor(), max(1, sum(client.nthreads().values()))
    elif args.jobs is not None and args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            yield pool, args.jobs
    else:
        yield None, 1


def run(args: argparse.Namespace) -> int:
    """Run ``minifw sweep``: every bad setting is refused before anything runs; then the sweep,
    the leaderboard printed, and the table, figures and report written into --out."""
    config, _ = configuration(args, BASE_SETTINGS)
    grid = sweep_grid(args.grid)
    load_plugins(config.plugins)  # before planning, which builds each point's network
    config, rank_by = ranked_by(config, args.rank_by, args.target_loss)
    _check_size(config, grid, args)
    runs = plan(config, grid, args.seeds, args.sweep_seed)
    from ..lab.sweep_report import (
        write_outputs,  # imports matplotlib, which the sweep itself needs not
    )

    points = len(runs) // args.seeds
    try:
        with _executor(args) as (executor, workers):
            size = f"{len(runs)} runs ({points} grid points x {args.seeds} seeds)"
            print(f"Sweep of {size} into {args.out}")
            chunk = args.chunk
            if chunk is None and executor is not None:  # every worker gets a share of the stacks
                chunk = math.ceil(max(len(group) for group in groups(runs)) / workers)
            results = sweep(
                config,
                grid,
                args.seeds,
                executor=executor,
                sweep_seed=args.sweep_seed,
                target_loss=args.target_loss,
                out=args.out,
                resume=args.resume,
                chunk=chunk,
                progress=args.progress,
            )
    except (KeyboardInterrupt, BrokenExecutor) as stop:
        # Either way every finished run is in the ledger already: say how to go on from there.
        what = "interrupted" if isinstance(stop, KeyboardInterrupt) else f"a worker died ({stop})"
        print(
            f"minifw: {what}; the finished runs are kept in {Path(args.out) / 'ledger.jsonl'}: "
            "continue with the same command and --resume",
            file=sys.stderr,
        )
        return 130 if isinstance(stop, KeyboardInterrupt) else 1
    print(results.leaderboard(by=rank_by))
    print(results.verdict())
    paths = write_outputs(
        results,
        args.out,
        config,
        grid,
        sweep_seed=args.sweep_seed,
        target_loss=args.target_loss,
        rank_by=rank_by,
    )
    for what, path in paths.items():
        print(f"{what} written to {path}")
    return 0
