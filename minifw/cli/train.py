"""``minifw train``: build the run the flags describe, train it, report it, record it.

With no flags: the blog's 2-5-1 sigmoid network learning sin(x), its stats
line, the evaluation error and its three graphs. The run is resolved once
(``minifw.run.resolve``) before anything trains; each default that moved
because of another setting is said in one line, and ``--dry-run`` prints the
resolved run and stops. ``--resume`` continues a checkpoint's run and refuses
any setting that would change it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from ..core.callbacks import Callback, ProgressBar, TerminateOnNaN
from ..core.errors import ConfigError, LedgerError, ModelFileError
from ..core.text import aligned
from ..core.trainer import FitResult, Trainer
from ..core.validation import check_output_path
from ..files.atomic import check_writable
from ..files.ledger import Ledger, new_id
from ..files.saving import Checkpoint, load_checkpoint_run, save
from ..lab.plotting.kinds import figure_kind
from ..run.config import SETTINGS, RunConfig, to_toml
from ..run.experiment import Experiment, build, evaluation_target
from ..run.resolve import resolve, summary
from .flags import add_run_flags, flag_for, typed_settings
from .stopping import Stop, stop_cleanly

# The formats save_figure writes (matplotlib would take others, but only after training).
PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add ``minifw train`` and its flags, one per setting of the run."""
    train = commands.add_parser(
        "train",
        help="train a network (by default the blog's) and draw its graphs",
        description="Train a network and print the blog's stats line and the evaluation "
        "error. With no flags: the blog's 2-5-1 sigmoid network learning sin(x) on [0, 6.28] "
        "from 32 points. Components are named as in `minifw list`, with parameters after a "
        "colon: --activation leaky_relu:alpha=0.1, --optimizer adam:beta1=0.8.",
    )
    add_run_flags(train)
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
    files.add_argument(
        "--dry-run",
        action="store_true",
        help="print the run as it would train, every default resolved, and stop",
    )


def configuration(
    args: argparse.Namespace, names: Iterable[str] = SETTINGS
) -> tuple[RunConfig, set[str]]:
    """The run a command line asks for (its --config file, then its flags among ``names``) and
    the names of the settings it gave, in the file or as flags."""
    typed = typed_settings(args, names)
    base = RunConfig()
    given = set(typed)
    if getattr(args, "config", None):
        base = RunConfig.load(args.config)
        given |= {name for table in base.to_dict().values() for name in table}
    return attrs.evolve(base, **typed), given


def run(args: argparse.Namespace) -> int:
    """Run ``minifw train`` with parsed ``args``; print the stats and return the exit code."""
    config, given = configuration(args)
    # Flags only: a configuration file holds every setting, no_plot and figure alike.
    drawing = set(typed_settings(args)) & {"figure", "plot", "plot_domain"}
    if config.no_plot and drawing:
        asked = ", ".join(flag_for(n) for n in sorted(drawing))
        raise ConfigError(f"{asked} choose a figure, and --no-plot draws none; give one of them")
    # The command line's own callbacks, given at construction: its guard replaces the default.
    # It checks once per epoch, as the library's does: checking each batch copies the weights
    # after every update and cost 15-30 % of the blog's training (benchmarks/seed_task.py
    # --guard batch against --guard epoch); a diverged epoch is still caught, one epoch later.
    callbacks: list[Callback] = [guard := TerminateOnNaN(check="epoch")]
    callbacks.append(ProgressBar(enabled=config.progress, file=sys.stderr))
    film = _film(config)
    if film is not None:
        callbacks.append(film)
    resumed = config.resume is not None
    experiment = _resumed(config, given, callbacks) if resumed else build(config, callbacks)
    for note in experiment.notes:
        print(note)
    config = experiment.config
    if args.dry_run:
        print("# The run as it would train (minifw train --config FILE takes this):\n")
        print(to_toml(config.to_dict()).rstrip("\n"))
        return 0
    figure = None if config.no_plot else figure_kind(config.figure, experiment.network.n_inputs)
    _check_outputs(config, experiment, figure)
    if getattr(args, "save_config", None):
        print(f"Configuration written to {config.save(args.save_config)}")
    if config.describe:
        print(experiment.network.describe(experiment.source.arrays()[0]))
    run_id = new_id()
    if config.checkpoint:
        experiment.trainer.callbacks.append(_checkpoint(experiment, run_id))
    epochs = max(config.epochs - experiment.trainer.epochs_done, 0)
    # The guard diagnoses a diverging epoch in one line; numpy's warnings about the same
    # overflow, from the batches before the epoch ends, would only bury it.
    with (
        np.errstate(over="ignore", invalid="ignore", divide="ignore"),
        stop_cleanly(experiment.trainer) as stop,
    ):
        result = experiment.fit(epochs)
    return _report(experiment, result, run_id, guard, film, figure, stop)


def _report(
    experiment: Experiment,
    result: FitResult,
    run_id: str,
    guard: TerminateOnNaN,
    film: Any,
    figure: str | None,
    stop: Stop,
) -> int:
    """Print what the run did, keep what was asked for (model, ledger, film, figure), and
    return the exit status: 130 after a Ctrl-C, 1 for a result that is not finite."""
    config = experiment.config
    print(experiment.stats_line(result))
    if experiment.trainer.compile_seconds is not None:
        print(
            f"Compiled the engine's kernels in {experiment.trainer.compile_seconds:.1f} s first "
            "(once after installing: numba keeps them on disk); Time counts training alone"
        )
    status = None
    if guard.diagnosis is not None:
        print(f"Training stopped: {guard.diagnosis}")
        status = f"diverged at epoch {experiment.trainer.epochs_done}"
    if stop.signal is not None:
        status = f"interrupted at epoch {experiment.trainer.epochs_done}"
        print(
            f"Stopped by {stop.signal} at the end of epoch {experiment.trainer.epochs_done}; "
            "the model, checkpoint and record asked for are kept"
        )
    if result.val_loss:
        print(f"Final validation loss: {result.val_loss[-1]:.6g} (normalised, like the final loss)")
    x_eval, y_eval = experiment.source.evaluation_arrays()  # type: ignore[attr-defined]
    error = experiment.evaluation_mse()
    print(
        f"Evaluation MSE: {error:.6g} "
        f"(in the target's units, at {len(x_eval)} points shifted by half a step)"
    )
    if experiment.eval_target is not None:
        print(reached_text(experiment))
    scores = experiment.evaluation_metrics()
    if scores:
        print(_metrics_table(experiment, scores))
    if config.save_model:
        save(
            experiment.network,
            config.save_model,
            optimizer=experiment.trainer.optimizer,
            source=experiment.source,
            history=experiment.trainer.run_history,
        )
        print(f"Network saved to {config.save_model}")
    if config.record:
        _record(experiment, error, scores, run_id, status)
    if film is not None:
        print(
            f"Film of {len(film.snapshots)} frames written to {film.path} in "
            f"{film.seconds:.2f} s (training took {result.seconds:.2f} s)"
        )
    if figure is not None and stop.signal is None:
        _draw(experiment, figure, result)
    if stop.signal is not None:
        return 130
    if not np.isfinite(error):
        print(f"minifw: error: {not_finite(error, y_eval)}", file=sys.stderr)
        return 1
    return 0


def reached_text(experiment: Experiment) -> str:
    """One line on when the run's evaluation MSE first reached its ``target_eval``."""
    at = experiment.eval_target.reached()  # type: ignore[union-attr]
    if at["epoch"] is None:
        epochs = experiment.trainer.epochs
        return f"Evaluation MSE never reached {at['target']:g} in {epochs} epochs"
    # A resumed run's record counts from the resume; its epoch is also given as the run's.
    before = experiment.trainer.epochs_done - len(experiment.trainer.history.loss)
    epoch = f"{at['epoch'] + before} ({at['epoch']} after resuming)" if before else at["epoch"]
    since = " since resuming" if before else ""
    return (
        f"Evaluation MSE reached {at['target']:g} at epoch {epoch}, after "
        f"{at['seconds']:.3g} s and {at['work']} {at['work_unit']}{since}"
    )


def not_finite(error: float, targets: Any) -> str:
    """Why an evaluation error is not finite, and what to do."""
    largest = float(np.max(np.abs(targets))) if np.size(targets) else 0.0
    limit = np.sqrt(np.finfo(np.float64).max / max(len(targets), 1))  # squares sum past max
    if not np.isfinite(largest) or largest > limit:
        return (
            f"the evaluation error is {error}: the target's values reach {largest:.3g}, whose "
            "squares overflow a float64; scale the target down (divide the formula by a "
            "constant)"
        )
    return (
        f"the evaluation error is {error}: the network's predictions are not finite; it "
        "diverged (lower --lr)"
    )


def _resumed(config: RunConfig, given: set[str], callbacks: list[Callback]) -> Experiment:
    """The run a checkpoint holds, continued: only what a resume may change (the epochs, the
    outputs) is taken from ``config``; any other setting given that differs is refused."""
    path = config.resume
    trainer, described = load_checkpoint_run(path, callbacks=callbacks)  # type: ignore[arg-type]
    if described is None or "config" not in described:
        raise ConfigError(
            f"--resume {path}: the checkpoint records no run settings (it was not written by "
            "`minifw train --checkpoint`); resume it in Python with minifw.load_checkpoint"
        )
    try:
        saved = RunConfig.from_dict(described["config"], source=f"{path}: its run settings")
    except ConfigError as error:
        raise ModelFileError(str(error)) from None
    fixed = [n for n in sorted(given) if not SETTINGS[n].resumable and n != "resume"]
    # Resolved as it would train, so that --lr 0.9 and --optimizer sgd:lr=0.9 both match 0.9.
    typed = {n: getattr(config, n) for n in fixed}
    if "optimizer" in typed and "lr" not in typed:
        typed["lr"] = None  # the spec's own rate, if it has one, is the one to compare
    asked = resolve(attrs.evolve(saved, **typed)).config
    differ = [n for n in fixed if getattr(asked, n) != getattr(saved, n)]
    if differ:
        shown = "; ".join(
            f"{flag_for(n)} {_text(getattr(asked, n))} (the checkpoint's: "
            f"{_text(getattr(saved, n))})"
            for n in differ
        )
        raise ConfigError(
            f"--resume {path} continues the checkpoint's run, which these would change: "
            f"{shown}. A resume takes only --epochs and the outputs; to change the run, "
            "start a new one without --resume"
        )
    resumable = {n: getattr(config, n) for n in SETTINGS if SETTINGS[n].resumable}
    continued = resolve(attrs.evolve(saved, **resumable)).config
    trainer.metrics = list(continued.metrics)  # an output: this command line's, not the saved
    watch = None
    if continued.target_eval is not None:
        watch = evaluation_target(trainer.source, continued.target_eval)  # type: ignore[arg-type]
        trainer.callbacks.append(watch)
    print(
        f"Resuming {path} (run {described.get('id', 'unrecorded')}) after "
        f"{trainer.epochs_done} epochs: "
        f"{max(continued.epochs - trainer.epochs_done, 0)} more, to {continued.epochs}"
    )
    return Experiment(
        trainer.network,
        trainer,
        trainer.source,  # type: ignore[arg-type]
        continued,
        seconds=float(described.get("seconds", 0.0)),
        resumed_from=described.get("id"),
        eval_target=watch,
    )


def _text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _check_outputs(config: RunConfig, experiment: Experiment, figure: str | None) -> None:
    """Refuse now what would fail after training: an output that cannot be written, a film
    that cannot be drawn."""
    written = [name for name in ("save_model", "checkpoint", "animate") if getattr(config, name)]
    for name in written:
        check_output_path(flag_for(name), getattr(config, name))
    if figure is not None:  # save_figure makes missing directories, so only the name is checked
        check_output_path(
            flag_for("plot"), config.plot, suffixes=PLOT_SUFFIXES, parent_must_exist=False
        )
        if Path(config.plot).parent.is_dir():
            written.append("plot")
    for name in written:  # a read-only directory or a full disk, found now, not after training
        check_writable(getattr(config, name))
    if config.animate is not None and experiment.network.n_inputs > 2:
        raise ConfigError(
            f"a film is drawn for 1 or 2 inputs; this target has {experiment.network.n_inputs}"
        )


def _film(config: RunConfig) -> Any:
    """The film ``--animate`` asks for, or None."""
    if not config.animate:
        return None
    from ..lab.plotting import TrainingFilm

    return TrainingFilm(
        config.animate,
        frames=config.frames,
        spacing=config.frame_spacing,
        domain=config.plot_domain,
    )


def _checkpoint(experiment: Experiment, run_id: str) -> Checkpoint:
    """The ``--checkpoint`` callback; each checkpoint keeps the run's settings, id and time."""
    config, before = experiment.config, experiment.seconds

    def describe(trainer: Trainer) -> dict[str, Any]:
        seconds = before + trainer.timer.elapsed()
        return {"config": _run_tables(config, trainer), "id": run_id, "seconds": seconds}

    return Checkpoint(config.checkpoint, every=config.checkpoint_every, run=describe)  # type: ignore[arg-type]


def _run_tables(config: RunConfig, trainer: Trainer) -> dict[str, dict[str, Any]]:
    """The run's settings as TOML tables, without the output table: what was tried, not where
    its files went; the engine the one that trained it ("auto" chose compiled or numpy)."""
    tables = config.as_trained(trainer.trained_on).to_dict()
    tables.pop("output", None)
    return tables


def _metrics_table(experiment: Experiment, at_evaluation: dict[str, float]) -> str:
    """The metrics on the training data and the validation data (the last epoch's, as logged)
    and at the evaluation points, a row each."""
    names = list(at_evaluation)
    history = experiment.trainer.run_history
    rows = [["Metrics (in the target's units)", *names]]
    for data, prefix in (("training", ""), ("validation", "val_")):
        if all(history.get(prefix + name) for name in names):
            label = f"{data} data, last epoch"
            rows.append([f"  {label}", *(f"{history[prefix + n][-1]:.4g}" for n in names)])
    rows.append(["  evaluation points", *(f"{at_evaluation[n]:.4g}" for n in names)])
    return "\n".join(aligned(rows))


def _record(
    experiment: Experiment,
    error: float,
    scores: dict[str, float],
    run_id: str,
    status: str | None,
) -> None:
    """Add this run to the ledger; a ledger that cannot be written only warns."""
    config = experiment.config
    ledger = Ledger(config.runs_dir)
    try:
        record = ledger.append(
            {
                "id": run_id,
                "config": _run_tables(config, experiment.trainer),
                "seed": config.seed,
                "final_loss": experiment.trainer.run_history["loss"][-1]
                if experiment.trainer.run_history.get("loss")
                else float("nan"),
                "evaluation_error": error,
                "metrics": scores or None,
                "seconds": experiment.seconds,
                "loss_history": experiment.trainer.run_history.get("loss", []),
                "model_path": config.save_model,
                "summary": summary(config),
                "resumed_from": experiment.resumed_from,
                "status": status,
                "eval_target": experiment.eval_target and experiment.eval_target.reached(),
            }
        )
    except (LedgerError, OSError) as problem:
        print(f"warning: run not recorded: {problem}", file=sys.stderr)
        return
    print(f"Run recorded as {record.id} in {ledger.path}")


def _draw(experiment: Experiment, figure: str, result: FitResult) -> None:
    from ..lab.plotting import make_figure, save_figure

    config = experiment.config
    history = experiment.trainer.run_history
    title = experiment.stats_line(result)
    drawn = make_figure(
        figure,
        experiment.network,
        experiment.source,
        history,
        domain=config.plot_domain,
        title=title,
    )
    print(f"Graphs written to {save_figure(drawn, Path(config.plot))}")  # type: ignore[arg-type]
