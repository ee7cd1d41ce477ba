"""The ``minifw`` command.

``minifw train`` with no flags trains the blog's sigmoid network for 3000
epochs, prints the blog's stats line and the error on the shifted evaluation
points, and writes the blog's three graphs to a PNG.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from ..core.activations import Activation
from ..core.callbacks import Callback, TerminateOnNaN
from ..core.data import checked_domain, read_csv
from ..core.errors import ConfigError, LedgerError, MinifwError
from ..core.initializers import Initializer
from ..core.losses import Loss
from ..core.optimizers import Optimizer
from ..core.registry import load_plugins
from ..core.registry import parse_value as spec_value
from ..core.schedules import Schedule
from ..core.targets import Target, target_from
from ..core.trainer import FitResult
from ..core.validation import check_output_path
from ..files.atomic import atomic_path
from ..files.ledger import Ledger, compare, table
from ..files.saving import Checkpoint, load, load_checkpoint, load_saved, save
from ..lab.plotting.kinds import FIGURE_KINDS, figure_kind
from ..lab.sweeps import groups, plan, sweep
from ..run import presets
from ..run.config import RunConfig

# The formats save_figure writes (matplotlib would take others, but only after training).
PLOT_SUFFIXES = (".png", ".svg", ".pdf")


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


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected hidden layer sizes like 8,8; got {text!r}"
        ) from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"every layer needs at least 1 unit; got {text!r}")
    return sizes


def _interval(group: argparse._ActionsContainer, flag: str, help: str) -> None:
    """Add ``flag LOW HIGH``, two finite numbers, to ``group``."""
    group.add_argument(
        flag, nargs=2, type=_bounded(float, -math.inf), metavar=("LOW", "HIGH"), help=help
    )


# The component families that `minifw list` shows and the flags take by name.
FAMILIES = {
    "activations": Activation,
    "initializers": Initializer,
    "losses": Loss,
    "optimizers": Optimizer,
    "schedules": Schedule,
    "targets": Target,
}


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
        help="train a network (by default the blog's) and draw its graphs",
        description="Train a network and print the blog's stats line and the evaluation "
        "error. With no flags: the blog's 2-5-1 sigmoid network learning sin(x) on [0, 6.28] "
        "from 32 points. Components are named as in `minifw list`, with parameters after a "
        "colon: --activation leaky_relu:alpha=0.1, --optimizer adam:beta1=0.8.",
    )
    D = RunConfig()  # the defaults, shown in the help; flags left out keep the config's value
    data = train.add_argument_group("data")
    data.add_argument(
        "--target", help=f"function to learn, see `minifw list` (default: {D.target})"
    )
    _interval(
        data,
        "--domain",
        "input interval, per axis (default: the target's own, [0, 6.28] for sin)",
    )
    data.add_argument(
        "--samples",
        type=_bounded(int, 2),
        help=f"training points per input axis (default: {D.samples})",
    )
    data.add_argument(
        "--sampling",
        choices=["grid", "uniform"],
        help=f"evenly spaced points, or uniform random ones (default: {D.sampling})",
    )
    data.add_argument(
        "--noise",
        type=_bounded(float, 0),
        help="standard deviation of Gaussian noise on the training targets (default: 0)",
    )
    data.add_argument(
        "--validation",
        type=_bounded(float, 0),
        help="fraction of the points held out at random to report val_loss (default: 0)",
    )
    net = train.add_argument_group("network")
    size = net.add_mutually_exclusive_group()
    size.add_argument(
        "--hidden",
        type=lambda text: (_bounded(int, 1)(text),),
        dest="layers",
        metavar="N",
        help=f"units in the one hidden layer (default: {D.layers[0]})",
    )
    size.add_argument(
        "--layers", type=_sizes, help="hidden layer sizes, e.g. 8,8 for a 1-8-8-1 network"
    )
    net.add_argument(
        "--activation",
        help="hidden (and output) activation; sigmoid, tanh and relu bring the blog's "
        f"normalisation range and step (default: {D.activation})",
    )
    net.add_argument(
        "--output-activation",
        help="output layer's activation, if not the hidden one (e.g. identity)",
    )
    net.add_argument(
        "--init",
        help="weight initializer (default: the blog's, uniform in ±sqrt(2 / fan_in))",
    )
    net.add_argument(
        "--dtype",
        choices=["float64", "float32"],
        help="the precision of weights, data and every computation in training "
        f"(default: {D.dtype}, as the blog)",
    )
    net.add_argument(
        "--no-bias",
        dest="bias",
        action="store_false",
        help="drop the bias unit from the hidden layers (the blog's input layer becomes 1)",
    )
    fit = train.add_argument_group("training")
    fit.add_argument("--loss", help=f"loss to minimise (default: {D.loss})")
    fit.add_argument("--optimizer", help=f"update rule (default: {D.optimizer})")
    fit.add_argument(
        "--lr",
        type=_bounded(float, 0, strict=True),
        help="learning rate (default: with sgd on mse and a blog activation, the blog's step "
        "L as an MSE rate, L x batch size / 2: 0.9 for sigmoid, 0.01 for tanh, 0.001 for "
        "relu; otherwise the optimizer's own default)",
    )
    fit.add_argument(
        "--schedule",
        help="learning-rate schedule over the updates, e.g. cosine:decay_steps=24000 "
        "(default: constant)",
    )
    fit.add_argument(
        "--epochs",
        type=_bounded(int, 0),
        help=f"passes over the training points (default: {D.epochs})",
    )
    fit.add_argument(
        "--batch-size",
        type=_bounded(int, 1),
        help=f"samples per weight update (default: {D.batch_size})",
    )
    fit.add_argument(
        "--shuffle",
        action="store_true",
        help="reshuffle the samples every epoch (default: in order)",
    )
    fit.add_argument(
        "--seed",
        type=_bounded(int, 0),
        help=f"seed of every random choice: weights, shuffling, sampling (default: {D.seed})",
    )
    out = train.add_argument_group("output")
    plot = out.add_mutually_exclusive_group()
    plot.add_argument(
        "--plot",
        metavar="PATH",
        help=f"where to write the --figure, .png or .svg (default: {D.plot})",
    )
    plot.add_argument("--no-plot", action="store_true", help="draw no graphs")
    out.add_argument(
        "--figure",
        choices=FIGURE_KINDS,
        help="which figure --plot draws: the blog's three graphs, an overview of loss, hidden "
        "units, fit and error, or one of them alone; heatmap is for two inputs, and for two "
        f"inputs blog means overview (default: {D.figure})",
    )
    _interval(
        out,
        "--plot-domain",
        "draw the curves over this interval; past the training domain is shaded as "
        "extrapolation, its error reported apart (default: the data's own span)",
    )
    out.add_argument(
        "--animate",
        metavar="FILM",
        help="write a film of training, .gif (or .mp4 with ffmpeg): loss, hidden units and "
        "learned curve evolving together",
    )
    out.add_argument(
        "--frames",
        type=_bounded(int, 2),
        metavar="N",
        help=f"frames in the --animate film (default: {D.frames})",
    )
    out.add_argument(
        "--frame-spacing",
        choices=["linear", "log"],
        help="space the frames evenly over the epochs, or evenly in log(epoch) to show the "
        f"first epochs, where most is learned, in more detail (default: {D.frame_spacing})",
    )
    out.add_argument(
        "--describe",
        action="store_true",
        help="before training, print each layer's shape, initializer and expected variances "
        "(with E[x²] measured on the training inputs)",
    )
    out.add_argument(
        "--plugin",
        metavar="FILE",
        dest="plugins",
        action="append",
        help="a Python file to import first, so the components it defines can be named",
    )
    out.add_argument(
        "--save",
        dest="save_model",
        metavar="FILE",
        help="save the trained network to FILE (.npz), with its data and loss history for "
        "`minifw plot`",
    )
    out.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="write a checkpoint to FILE every --checkpoint-every epochs and at the end",
    )
    out.add_argument(
        "--checkpoint-every",
        type=_bounded(int, 1),
        metavar="N",
        help=f"epochs between checkpoints (default: {D.checkpoint_every})",
    )
    out.add_argument(
        "--resume",
        metavar="FILE",
        help="continue the run a checkpoint holds, up to --epochs in all (its settings win)",
    )
    out.add_argument(
        "--runs-dir",
        metavar="DIR",
        help=f"where the ledger of runs is kept, one record per train (default: {D.runs_dir})",
    )
    files = train.add_argument_group("configuration files")
    files.add_argument(
        "--config",
        metavar="FILE",
        help="start from this TOML configuration; flags given as well override it",
    )
    files.add_argument(
        "--save-config",
        metavar="FILE",
        help="write the configuration this command line implies to a TOML file, then train",
    )
    for action in train._actions:  # a flag not given leaves the configuration's value alone
        if action.dest != "help":
            action.default = argparse.SUPPRESS
    commands.add_parser(
        "list",
        help="list every component by name",
        description="List every activation, initializer, loss, optimizer, schedule and target.",
    ).add_argument(
        "--plugin",
        metavar="FILE",
        dest="plugins",
        action="append",
        default=[],
        help="a Python file to import first",
    )
    guess = commands.add_parser(
        "predict",
        help="a saved network's predictions, in the target's own units",
        description="Predict with a network saved by `minifw train --save`.",
    )
    guess.add_argument("model", help="the saved network (.npz)")
    given = guess.add_mutually_exclusive_group(required=True)
    given.add_argument("--x", nargs="+", type=_bounded(float, -math.inf), help="input values")
    given.add_argument("--input", metavar="CSV", help="a CSV file of input rows")
    guess.add_argument("--output", metavar="CSV", help="write the predictions here, not stdout")
    ledger = commands.add_parser(
        "runs",
        help="list the runs recorded in the ledger, or compare two",
        description="Every `minifw train` adds a record to DIR/ledger.jsonl.",
    )
    ledger.add_argument("--runs-dir", default="runs", metavar="DIR", help="(default: runs)")
    which = ledger.add_subparsers(dest="runs_command", metavar="compare")
    pair = which.add_parser("compare", help="configuration differences and loss curves of two")
    pair.add_argument("a", help="a run id or unique prefix")
    pair.add_argument("b", help="another")
    pair.add_argument("--plot", metavar="PATH", help="overlay their loss curves in a PNG")
    draw = commands.add_parser(
        "plot",
        help="draw the figures of a saved network",
        description="Draw a figure of a network saved by `minifw train --save` (or a "
        "checkpoint): with the data and loss history the file holds, or --target's.",
    )
    draw.add_argument("model", help="the saved network or checkpoint (.npz)")
    _interval(
        draw,
        "--domain",
        "draw over this interval; past the training domain is shaded as extrapolation",
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
        "--out", metavar="PATH", help="where to write it, .png or .svg (default: MODEL.png)"
    )
    _add_sweep_parser(commands)
    return parser


def _grid_entry(text: str) -> tuple[str, str]:
    """An argparse type: ``KEY=V1,V2,...`` as (key, the values' text), both non-empty."""
    key, equals, values = text.partition("=")
    if not equals or not key.strip() or not values.strip():
        raise argparse.ArgumentTypeError(
            f"expected KEY=V1,V2,... such as lr=0.1,0.3 or activation=sigmoid,tanh; got {text!r}"
        )
    return key.strip(), values.strip()


def _add_sweep_parser(commands: argparse._SubParsersAction) -> None:
    """Add ``minifw sweep``: a grid of settings, each point over several seeds."""
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
    sweeping.add_argument(
        "--config",
        metavar="FILE",
        help="the run to vary, a TOML file as `minifw train --save-config` writes "
        "(default: the blog's)",
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
        type=_bounded(int, 1),
        default=1,
        metavar="N",
        help="runs per grid point, each from its own seed; every point gets the same seeds "
        "(default: 1)",
    )
    sweeping.add_argument(
        "--sweep-seed",
        type=_bounded(int, 0),
        default=0,
        metavar="S",
        help="the seed the runs' seeds are drawn from (default: 0)",
    )
    where = sweeping.add_mutually_exclusive_group()
    where.add_argument(  # default None, not 1: argparse lets a default pass as not given
        "--jobs",
        type=_bounded(int, 1),
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
        type=_bounded(int, 1),
        metavar="N",
        help="at most N runs train together as one stacked network (default: as many as share "
        "their settings but for seed and learning rate, split evenly among the workers); the "
        "results are the same whatever it is",
    )
    sweeping.add_argument(
        "--target-loss",
        type=_bounded(float, 0),
        metavar="X",
        help="also report the epochs and seconds each run took to reach this training loss",
    )
    sweeping.add_argument(
        "--out", default="sweep", metavar="DIR", help="where to write (default: sweep)"
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


def list_components(args: argparse.Namespace) -> int:
    """Run ``minifw list``: every registered component, a line each."""
    load_plugins(args.plugins)
    for kind, base in FAMILIES.items():
        print(f"{kind}:")
        for name in base.registry.names():
            doc = (base.registry.get(name).__doc__ or "").strip().splitlines()
            aliases = base.registry.aliases_of(name)
            also = f" (also: {', '.join(aliases)})" if aliases else ""
            print(f"  {name:<22} {doc[0] if doc else ''}{also}")
    return 0


def configuration(args: argparse.Namespace) -> RunConfig:
    """The run a ``minifw train`` command line asks for: its --config file, then its flags."""
    flags = {k: v for k, v in vars(args).items() if k not in ("command", "config", "save_config")}
    if "plugins" in flags:
        flags["plugins"] = tuple(flags["plugins"])
    if "domain" in flags:
        flags["domain"] = tuple(flags["domain"])
    base = RunConfig.load(args.config) if "config" in args else RunConfig()
    return attrs.evolve(base, **flags)


def train(args: argparse.Namespace) -> int:
    """Run ``minifw train`` with parsed ``args``; print the stats and return the exit code."""
    config = configuration(args)
    load_plugins(config.plugins)
    callbacks: list[Callback] = [guard := TerminateOnNaN()]
    film = None
    if config.animate:
        from ..lab.plotting import TrainingFilm

        film = TrainingFilm(
            config.animate,
            frames=config.frames,
            spacing=config.frame_spacing,
            domain=config.plot_domain,
        )
        callbacks.append(film)
    if config.checkpoint:
        callbacks.append(Checkpoint(config.checkpoint, every=config.checkpoint_every))
    if config.resume:
        trainer = load_checkpoint(config.resume, callbacks=callbacks)
        run = presets.Experiment(trainer.network, trainer, trainer.source)  # type: ignore[arg-type]
        epochs = max(config.epochs - trainer.epochs_done, 0)
        print(f"Resuming {config.resume} after {trainer.epochs_done} epochs: {epochs} more")
    else:
        run = presets.experiment(**config.experiment_settings(), callbacks=callbacks)
        epochs = config.epochs
    if config.describe:
        print(run.network.describe(run.source.arrays()[0]))  # E[x²] of the training inputs
    # What would fail after training is refused before it: a figure or domain that cannot be drawn.
    figure = None if config.no_plot else figure_kind(config.figure, run.network.n_inputs)
    if config.plot_domain is not None:
        checked_domain(config.plot_domain)
    for flag, path in (("--save", config.save_model), ("--checkpoint", config.checkpoint)):
        if path is not None:
            check_output_path(flag, path)
    if figure is not None:  # save_figure makes missing directories, so only the name is checked
        check_output_path("--plot", config.plot, suffixes=PLOT_SUFFIXES, parent_must_exist=False)
    if film is not None and run.network.n_inputs > 2:
        raise ConfigError(
            f"a film is drawn for 1 or 2 inputs; this target has {run.network.n_inputs}"
        )
    # Written only now that the run is built and every setting checked: a configuration
    # that is refused is not left behind as a file.
    if "save_config" in args:
        print(f"Configuration written to {config.save(args.save_config)}")
    result = run.fit(epochs)
    print(run.stats_line(result))
    if guard.diagnosis is not None:
        print(f"Training stopped: {guard.diagnosis}")
    if result.val_loss:
        print(f"Final validation loss: {result.val_loss[-1]:.6g} (normalised, like the final loss)")
    x_eval, _ = run.source.evaluation_arrays()
    error = run.evaluation_mse()
    print(
        f"Evaluation MSE: {error:.6g} "
        f"(in the target's units, at {len(x_eval)} points shifted by half a step)"
    )
    if config.save_model:
        save(
            run.network,
            config.save_model,
            optimizer=run.trainer.optimizer,
            source=run.source,
            history=run.trainer.run_history,
        )
        print(f"Network saved to {config.save_model}")
    record_run(config, run, result, error)
    if film is not None:
        print(
            f"Film of {len(film.snapshots)} frames written to {film.path} in "
            f"{film.seconds:.2f} s (training took {result.seconds:.2f} s)"
        )
    if figure is None:
        return 0
    from ..lab.plotting import make_figure, save_figure

    title = run.stats_line(result)
    drawn = make_figure(
        figure, run.network, run.source, result, domain=config.plot_domain, title=title
    )
    print(f"Graphs written to {save_figure(drawn, config.plot)}")
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
    out = args.out or Path(args.model).with_suffix(".png")
    print(f"Figure written to {save_figure(figure, out)}")
    return 0


# What a --grid value of each kind of setting is read as, from the configuration's own fields.
_FIELD_KINDS = {f.name: f.metadata["kinds"] for f in attrs.fields(RunConfig)}


def grid_values(key: str, text: str) -> list[Any]:
    """The values of ``--grid KEY=TEXT``, each of the setting's type; ConfigError if one is not.

    Values are separated by ',', or by ';' when the text holds one (a component spec with
    several parameters), and always by ';' for a list-valued setting (``layers``, ``domain``),
    whose items are separated by ','. Numeric settings take numbers, ``bias`` and
    ``shuffle`` true or false, component specs and targets text; a component's parameter
    (``optimizer.beta1``) is read as a spec's parameter is. A key the sweep cannot vary is
    left for ``sweeps.plan`` to refuse by name.
    """
    field, dot, _ = key.partition(".")
    kinds = None if dot else _FIELD_KINDS.get(field)
    separator = ";" if kinds == (list,) or ";" in text else ","
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
    values = [_grid_value(key, kinds, part) for part in parts]
    seen = [json.dumps(value) for value in values]
    twice = next((v for i, v in enumerate(values) if seen[i] in seen[:i]), None)
    if twice is not None:  # two runs with one key: the second would replace the first's row
        raise ConfigError(f"--grid {key}: the value {twice!r} is given twice")
    return values


def _grid_value(key: str, kinds: tuple[type, ...] | None, text: str) -> Any:
    if kinds is None:  # a component's parameter, or a key that plan() refuses by name
        return spec_value(text)
    if kinds == (list,):
        return [spec_value(item.strip()) for item in text.split(",")]
    if kinds == (bool,):
        if text.lower() not in ("true", "false"):
            raise ConfigError(f"--grid {key}: expected true or false; got {text!r}")
        return text.lower() == "true"
    if kinds == (str,):
        return text
    kind = int if kinds == (int,) else float
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"--grid {key}: expected {what}; got {text!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"--grid {key}: expected a finite number; got {text!r}")
    return value


def sweep_grid(entries: Sequence[tuple[str, str]]) -> dict[str, list[Any]]:
    """The grid the ``--grid`` options name, in their order; ConfigError for a key given twice."""
    grid: dict[str, list[Any]] = {}
    for key, text in entries:
        if key in grid:
            raise ConfigError(f"--grid {key} is given twice; give all its values in one --grid")
        grid[key] = grid_values(key, text)
    return grid


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


def run_sweep(args: argparse.Namespace) -> int:
    """Run ``minifw sweep``: every bad setting is refused before anything runs; then the sweep,
    the leaderboard printed, and the table, figures and report written into --out."""
    config = RunConfig.load(args.config) if args.config else RunConfig()
    grid = sweep_grid(args.grid)
    load_plugins(config.plugins)  # before planning, which builds each point's network
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
    print(results.leaderboard())
    bad = sum(not row.ok for row in results)
    if bad:
        print(f"{bad} of {len(results)} runs diverged or failed; the report says why")
    paths = write_outputs(
        results,
        args.out,
        config,
        grid,
        sweep_seed=args.sweep_seed,
        target_loss=args.target_loss,
    )
    for what, path in paths.items():
        print(f"{what} written to {path}")
    return 0


def record_run(config: RunConfig, run: presets.Experiment, result: FitResult, error: float) -> None:
    """Add this run to the ledger; a ledger that cannot be written only warns."""
    settings = attrs.evolve(config, lr=run.trainer.optimizer.lr).to_dict()  # type: ignore[attr-defined]
    settings.pop("output", None)  # where files went is not part of what was tried
    ledger = Ledger(config.runs_dir)
    try:
        record = ledger.append(
            {
                "config": settings,
                "seed": config.seed,
                "final_loss": result.final_loss,
                "evaluation_error": error,
                "seconds": result.seconds,
                "loss_history": result.loss,
                "model_path": config.save_model,
            }
        )
    except (LedgerError, OSError) as problem:
        print(f"warning: run not recorded: {problem}", file=sys.stderr)
        return
    print(f"Run recorded as {record.id} in {ledger.path}")


def predict(args: argparse.Namespace) -> int:
    """Run ``minifw predict``: a saved network's answers, in the target's own units."""
    network = load(args.model)
    if args.input is not None:
        x = read_csv(args.input)
    else:
        if len(args.x) % network.n_inputs:
            raise ConfigError(
                f"--x gave {len(args.x)} value(s), which do not make whole samples: "
                f"{args.model} takes {network.n_inputs} inputs per sample, so give a "
                f"multiple of {network.n_inputs} values"
            )
        x = np.asarray(args.x, dtype=np.float64).reshape(-1, network.n_inputs)
    y = network.predict(x)
    header = [f"x{i}" for i in range(x.shape[1])] + [f"y{i}" for i in range(y.shape[1])]
    lines = [",".join(header)] + [
        ",".join(repr(float(v)) for v in row) for row in np.hstack([x, y])
    ]
    text = "\n".join(lines) + "\n"
    if args.output is None:
        print(text, end="")
        return 0
    with atomic_path(args.output) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(f"{len(y)} predictions written to {args.output}")
    return 0


def runs(args: argparse.Namespace) -> int:
    """Run ``minifw runs``: the ledger as a table, or two runs compared."""
    ledger = Ledger(args.runs_dir)
    if args.runs_command == "compare":
        a, b = ledger.find(args.a), ledger.find(args.b)
        print(compare(a, b))
        if args.plot:
            from ..lab.plotting import loss_figure, save_figure

            curves = {a.id: a.loss_history, b.id: b.loss_history}
            figure = loss_figure(curves, title=f"{a.id} against {b.id}")
            print(f"Loss curves written to {save_figure(figure, args.plot)}")
        return 0
    records = ledger.records()
    print(table(records) if records else f"No runs recorded in {ledger.path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``minifw`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        commands = {
            "train": train,
            "list": list_components,
            "predict": predict,
            "runs": runs,
            "plot": plot,
            "sweep": run_sweep,
        }
        status = commands[args.command](args)
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
