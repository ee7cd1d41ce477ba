"""Sweeps: one configuration, some settings varied over a grid, each point run over many seeds.

``sweep(config, grid={"lr": [0.1, 0.3, 0.9], "activation": ["sigmoid", "tanh"]},
seeds=10)`` plans one run per grid point and seed, trains them, and returns a
``SweepResults`` table. Seeds come from ``numpy.random.SeedSequence(sweep_seed)
.spawn(seeds)``, the same ones at every grid point, so that points are compared
on equal terms and the sweep is reproducible.

Runs that differ only in their seed and learning rate, and share their data,
train together as one stacked network (``minifw.stack``): a hundred runs of the
blog's network cost about four runs' time, and each ends with exactly the
weights it would reach alone. Groups of runs go to a ``concurrent.futures``
executor if one is given (a process pool, a dask cluster's), else run here;
the table is the same whichever runs them.

With ``out``, each finished run is appended at once to ``out/ledger.jsonl``
(a ``Ledger``), so an interrupted sweep loses no finished run, and
``resume=True`` runs only those missing.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from ..core.callbacks import EvaluationTarget
from ..core.errors import ConfigError, SweepInterrupted
from ..core.metrics import STANDARD, Metric, scores
from ..core.registry import did_you_mean, load_plugins, parse_spec
from ..core.serialize import rebuilt, to_spec
from ..core.trainer import Trainer
from ..core.validation import check_count
from ..files.atomic import atomic_path
from ..files.ledger import Ledger
from ..run.config import SETTINGS, RunConfig
from ..run.experiment import Experiment, build, evaluation_target
from . import workers
from .results import FLAT, SweepResults, SweepRow, rows_from
from .stacking import stack, unstack

Array = np.ndarray
PLAN_FILE = "sweep.json"
_ALIASES = {"optimizer.lr": "lr"}


# More runs than a sweep plans at all: their plan alone would take minutes and gigabytes.
MAX_RUNS = 1_000_000


# The base run's settings (``minifw sweep``'s flags): what trains, the plugins and the metrics
# each row records; not the seed, which the sweep's seeds choose, nor where files go.
BASE_SETTINGS = [
    n
    for n, s in SETTINGS.items()
    if (s.group != "output" and n != "seed") or n in ("plugins", "metrics")
]


def planned_runs(grid: Mapping[str, Sequence[Any]], seeds: int) -> int:
    """How many runs a sweep of ``grid`` over ``seeds`` seeds trains: every combination."""
    return math.prod(len(values) for values in grid.values()) * seeds


def varied_settings() -> list[str]:
    """The settings a sweep's grid may vary, from the run's declaration: every one that says
    what trains, but the seed (``seeds`` draws it); not where files go."""
    return [n for n, s in SETTINGS.items() if s.group != "output" and n != "seed"]


def with_setting(config: RunConfig, key: str, value: Any) -> RunConfig:
    """``config`` with one setting changed: a field (``"lr"``, ``"layers"``) or a component's
    parameter (``"optimizer.beta1"``, ``"activation.alpha"``); ConfigError if there is none."""
    key = _ALIASES.get(key, key)
    field, _, parameter = key.partition(".")
    varied = varied_settings()
    if field not in varied:
        raise ConfigError(
            f"a sweep cannot vary {key!r}; it varies {', '.join(varied)} (and seeds)"
            + did_you_mean(field, varied)
        )
    if parameter:
        spec = getattr(config, field)
        if SETTINGS[field].kind != "component" or not isinstance(spec, str):
            raise ConfigError(
                f"cannot set {key!r}: {field!r} is not a named component with parameters"
                + (" set in the configuration" if SETTINGS[field].kind == "component" else "")
            )
        name, params = parse_spec(spec)
        value = ":".join(
            [name, ",".join(f"{k}={v}" for k, v in {**params, parameter: value}.items())]
        )
        key = field
    changed = attrs.evolve(config, **{key: value})
    return RunConfig.from_dict(changed.to_dict(), source=f"sweep setting {key}={value!r}")


@attrs.frozen
class PlannedRun:
    """One run of a sweep before it runs: its ``index`` in the plan, a ``key`` naming it, the
    grid ``point``, which of the seeds (``repeat``) and its ``seed``, and its full ``config``."""

    index: int
    key: str
    point: Mapping[str, Any]
    repeat: int
    seed: int
    config: RunConfig


def sweep_seeds(sweep_seed: int, seeds: int) -> list[int]:
    """``seeds`` independent run seeds from ``SeedSequence(sweep_seed).spawn(seeds)``."""
    children = np.random.SeedSequence(sweep_seed).spawn(seeds)
    return [int(child.generate_state(1, dtype=np.uint32)[0]) for child in children]


def plan(
    config: RunConfig, grid: Mapping[str, Sequence[Any]], seeds: int = 1, sweep_seed: int = 0
) -> list[PlannedRun]:
    """Every run of the sweep, grid point by grid point (the last key varying fastest), each
    point once per seed. Each point's settings are checked, and its network built once, now:
    a bad value is a ConfigError before anything runs."""
    check_count("seeds", seeds, low=1)
    for key, values in grid.items():
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise ConfigError(f"grid[{key!r}] must be a non-empty list of values; got {values!r}")
        shown = [repr(v) for v in values]  # two equal values would make two runs of one key
        if len(set(shown)) != len(shown):
            raise ConfigError(f"grid[{key!r}] lists a value twice: {values!r}")
    total = planned_runs(grid, seeds)
    if total > MAX_RUNS:  # refused before a list of them is made, which alone would not fit
        raise ConfigError(
            f"the sweep would train {total:,} runs ({math.prod(map(len, grid.values())):,} grid "
            f"points x {seeds:,} seeds); a sweep holds at most {MAX_RUNS:,}"
        )
    named = [_ALIASES.get(key, key) for key in grid]
    if len(set(named)) != len(named):
        raise ConfigError(f"the grid sets one setting under two names: {list(grid)}")
    load_plugins(config.plugins)
    runs = []
    seed_values = sweep_seeds(sweep_seed, seeds)
    for values in itertools.product(*grid.values()):
        point = dict(zip(grid, values, strict=True))
        point_config = config
        for key, value in point.items():
            point_config = with_setting(point_config, key, value)
        # Built once now, so that a point that cannot run is refused before any runs; its
        # resolved configuration (the learning rate, the domain, ...) is what every seed trains.
        point_config = build(point_config).config
        name = ",".join(f"{k}={v}" for k, v in point.items())
        for repeat, seed in enumerate(seed_values):
            runs.append(
                PlannedRun(
                    index=len(runs),
                    key=f"{name},repeat={repeat}" if name else f"repeat={repeat}",
                    point=point,
                    repeat=repeat,
                    seed=seed,
                    config=attrs.evolve(point_config, seed=seed),
                )
            )
    return runs


def groups(runs: Sequence[PlannedRun], chunk: int | None = None) -> list[list[PlannedRun]]:
    """The runs in groups that may train as one stack: the same configuration but for the seed
    and learning rate, at most ``chunk`` runs each (to share them among workers)."""
    grouped: dict[str, list[PlannedRun]] = {}
    for run in runs:
        tables = attrs.evolve(run.config, seed=0, lr=None).to_dict()
        grouped.setdefault(json.dumps(tables, sort_keys=True), []).append(run)
    size = chunk or max((len(g) for g in grouped.values()), default=1)
    return [g[i : i + size] for g in grouped.values() for i in range(0, len(g), size)]


# Running ------------------------------------------------------------------------------


def run_group(
    runs: Sequence[Mapping[str, Any]], target_loss: float | None = None
) -> list[dict[str, Any]]:
    """Train the runs of one group and return their rows as plain data (``SweepRow.plain`` and
    ``"loss_history"``). Each item of ``runs`` is a ``PlannedRun`` as plain data, its config a
    dict of TOML tables, so that this can run in another process or on another machine.

    The group trains as one stack when it can (see ``stackable``); otherwise, and when
    the stack fails, run by run. A run that raises becomes a row with its reason.
    """
    configs = [RunConfig.from_dict(run["config"]) for run in runs]
    load_plugins(p for c in configs for p in c.plugins)
    with np.errstate(all="ignore"):  # a diverging run is a row that says so, not a warning
        if len(runs) > 1:
            try:
                trained = _train_together(configs)
            except Exception:  # one run's failure would be every run's: try them one by one
                trained = None
            if trained is not None:
                return _rows(runs, *trained, target_loss)
        rows = []
        for run, config in zip(runs, configs, strict=True):
            try:
                trained = _train_together([config])
            except Exception as error:  # any failure of one run is its row, never the sweep's
                rows.append(_failed(run, f"{type(error).__name__}: {error}"))
                continue
            rows.extend(_rows([run], *trained, target_loss))  # type: ignore[misc]
        return rows


# (loss histories, predictions at the evaluation points, the targets there, seconds, how many
# trained together, when each reached the evaluation target, if the runs have one, and the
# engine that trained them)
Trained = tuple[list[Array], list[Array], Array, float, int, EvaluationTarget | None, str | None]


def _train_together(configs: Sequence[RunConfig]) -> Trained | None:
    """Train the runs of ``configs`` as one stack (one run: alone), their ``Trained``, or None
    if they cannot stack. With ``target_eval`` (the same for the whole group, which differs
    only in seed and learning rate) an ``EvaluationTarget`` records, for each network, the
    first epoch its evaluation MSE reached it: one forward pass of the stack over the
    evaluation points at each epoch's end until every network has."""
    runs = [build(c) for c in configs]
    first = runs[0]
    if len(runs) > 1 and not stackable(runs):
        return None
    single = len(runs) == 1
    trainer = stacked_trainer(runs)
    watch = None
    if first.config.target_eval is not None:
        watch = evaluation_target(first.source, first.config.target_eval)
        trainer.callbacks.append(watch)
    result = trainer.fit(first.source, configs[0].epochs)
    seconds = result.seconds  # the fit's own clock: compiling the kernels, once, is not training
    losses = np.array(result.loss).reshape(-1, len(runs))  # (epochs, networks)
    histories = list(losses.T)
    networks = [trainer.network] if single else unstack(trainer.network)
    x, y = first.source.evaluation_arrays()
    predictions = [network.predict(x) for network in networks]
    return histories, predictions, y, seconds, len(runs), watch, trainer.trained_on


def stacked_trainer(runs: Sequence[Experiment]) -> Trainer:
    """One trainer for the runs (``stackable`` ones): the single run's network, or a stack of
    them, each with its own learning rate. It never stops at divergence: a run that diverges
    goes on to the end either way, so it ends the same whichever way it trained."""
    first = runs[0]
    single = len(runs) == 1
    optimizer = first.trainer.optimizer
    if not single:
        rates = np.array([[r.trainer.optimizer.lr] for r in runs], dtype=np.float64)
        optimizer = rebuilt(optimizer, lr=rates)
    return Trainer(
        first.network if single else stack([r.network for r in runs]),
        first.trainer.loss,
        optimizer,
        batch_size=first.trainer.batch_size,
        shuffle=first.trainer.shuffle,
        seed=first.trainer.seed,
        stop_on_divergence=False,
        engine=first.trainer.engine,
    )


def stackable(runs: Sequence[Experiment]) -> bool:
    """Whether these runs can train as one stack and end exactly as each would alone: the
    same data, no shuffling (each run's order would differ), the same loss and optimizer but
    for the learning rate, without gradient clipping (its norm spans the whole stack), with
    an optimizer that steps batch by batch (L-BFGS's line search would be the stack's)."""
    first = runs[0]

    def settings(run: Experiment) -> Any:
        optimizer = to_spec(run.trainer.optimizer)
        optimizer.pop("lr", None)
        return (to_spec(run.trainer.loss), optimizer, run.trainer.batch_size, run.trainer.shuffle)

    whole_data = getattr(first.trainer.optimizer, "whole_data", False)  # L-BFGS: one at a time
    if first.trainer.shuffle or first.trainer.optimizer.clip_norm is not None or whole_data:
        return False
    data = [first.source.arrays(), first.source.validation_arrays()]
    for run in runs[1:]:
        if settings(run) != settings(first):
            return False
        theirs = [run.source.arrays(), run.source.validation_arrays()]
        if not all(_same(a, b) for a, b in zip(data, theirs, strict=True)):
            return False
    return True


def _same(a: tuple[Array, Array] | None, b: tuple[Array, Array] | None) -> bool:
    if a is None or b is None:
        return a is b
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _rows(
    runs: Sequence[Mapping[str, Any]],
    histories: Sequence[Array],
    predictions: Sequence[Array],
    targets: Array,
    seconds: float,
    stacked: int,
    watch: EvaluationTarget | None,
    engine: str | None,
    target_loss: float | None,
) -> list[dict[str, Any]]:
    rows = []
    spread = float(np.mean((targets - targets.mean(axis=0)) ** 2))  # predicting the mean's error
    for i, (run, history, prediction) in enumerate(zip(runs, histories, predictions, strict=True)):
        at = {} if watch is None else watch.reached(i)
        error = float(np.mean((prediction - targets) ** 2))
        measured = scores(_metrics(run), prediction, targets)
        bad = np.flatnonzero(~np.isfinite(history))
        reason = None
        if bad.size:
            reason = f"diverged: the loss became {history[bad[0]]} at epoch {bad[0] + 1}"
        elif not math.isfinite(error):
            reason = "diverged: the evaluation error is not finite"
        reached = None if target_loss is None else np.flatnonzero(history <= target_loss)
        epochs_to_target = int(reached[0]) + 1 if reached is not None and reached.size else None
        row = SweepRow(
            index=run["index"],
            key=run["key"],
            point=run["point"],
            repeat=run["repeat"],
            seed=run["seed"],
            final_loss=float(history[-1]) if history.size else math.nan,
            evaluation_error=error,
            seconds=seconds,
            epochs_to_target=epochs_to_target,
            seconds_to_target=None
            if epochs_to_target is None
            else seconds * epochs_to_target / history.size,
            diverged=reason is not None,
            reason=reason,
            stacked=stacked,
            loss_history=(),
            prediction=tuple(map(tuple, prediction.tolist())),
            lr=_lr(run),
            flat=reason is None and error >= FLAT * spread,
            metrics=measured,
            epochs_to_eval_target=at.get("epoch"),
            seconds_to_eval_target=at.get("seconds"),
            work_to_eval_target=at.get("work"),
            engine=engine,
        )
        rows.append({**row.plain(), "loss_history": history.tolist()})
    return rows


def _metrics(run: Mapping[str, Any]) -> list[Metric]:
    """The metrics a run's row records: minifw's own, and those its configuration names."""
    named = run["config"].get("output", {}).get("metrics", [])
    return [Metric.resolve(name) for name in dict.fromkeys([*STANDARD, *named])]


def _lr(run: Mapping[str, Any]) -> float:
    """The run's learning rate as resolved (its configuration's), nan if it has none."""
    lr = run["config"].get("training", {}).get("lr")
    return float(lr) if isinstance(lr, int | float) else math.nan


def _failed(run: Mapping[str, Any], reason: str) -> dict[str, Any]:
    row = SweepRow(
        index=run["index"], key=run["key"], point=run["point"], repeat=run["repeat"],
        seed=run["seed"], final_loss=math.nan, evaluation_error=math.nan, seconds=math.nan,
        epochs_to_target=None, seconds_to_target=None, diverged=False, reason=f"failed: {reason}",
        stacked=1, loss_history=(), lr=_lr(run),
    )  # fmt: skip
    return {**row.plain(), "loss_history": []}


# The sweep ------------------------------------------------------------------------------


def sweep(
    config: RunConfig | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    seeds: int = 1,
    *,
    executor: Executor | None = None,
    sweep_seed: int = 0,
    target_loss: float | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    chunk: int | None = None,
    progress: bool = False,
) -> SweepResults:
    """Run ``config`` at every point of ``grid`` over ``seeds`` seeds; the table of results.

    ``grid`` maps a setting (a RunConfig field such as ``"lr"``, ``"activation"``,
    ``"layers"``, or a component parameter such as ``"optimizer.beta1"``) to the
    values to try. ``executor`` runs groups of runs (None: here, one after
    another); ``chunk`` caps how many runs train as one stack, so that a pool has
    several groups to share. ``target_loss`` adds the time each run took to reach
    it. With ``out`` each finished run is recorded in ``out/ledger.jsonl`` at
    once, and ``resume=True`` runs only the runs missing there; without
    ``resume`` a directory that holds a sweep already is refused. ``progress``
    shows a bar counting finished runs.

    Ctrl-C, or SIGTERM (``kill``), stops the sweep with KeyboardInterrupt: the finished
    runs are kept (in ``out``), nothing more starts, and a process pool's workers are
    stopped, so that pool is broken afterwards. The workers of a process pool die with
    the sweep's process even if it is killed outright (``minifw.lab.workers``). A group
    that fails, or whose worker dies, does not stop the others: they run to the end
    (after a worker's death on a fresh pool, the given one being broken), then
    SweepInterrupted says which did not finish.
    """
    config = config or RunConfig()
    grid = dict(grid or {})
    if resume and out is None:
        raise ConfigError("resume=True needs out, the directory of the sweep to resume")
    runs = plan(config, grid, seeds, sweep_seed)
    ledger = None if out is None else Ledger(out)
    done: dict[str, SweepRow] = {}
    if ledger is not None:
        description = {
            "config": config.to_dict(),
            "grid": grid,
            "seeds": seeds,
            "sweep_seed": sweep_seed,
            "target_loss": target_loss,
        }
        done = _start(Path(out), description, resume, ledger)  # type: ignore[arg-type]
    todo = [run for run in runs if run.key not in done]
    bar = _progress_bar(len(runs), len(done)) if progress else None
    finished = dict(done)

    def record(rows: list[dict[str, Any]]) -> None:
        for data in rows:
            history = data.pop("loss_history")
            (row,) = rows_from([data], [history])
            if ledger is not None:
                planned = runs[row.index]
                ledger.append(
                    {
                        "config": planned.config.as_trained(row.engine).to_dict(),
                        "seed": row.seed,
                        "final_loss": row.final_loss,
                        "evaluation_error": row.evaluation_error,
                        "seconds": row.seconds,
                        "loss_history": history,
                        "sweep": data,
                    }
                )
            finished[row.key] = row
            if bar is not None:
                bar.update(1)

    try:
        with workers.sigterm_as_interrupt():
            _execute(groups(todo, chunk), executor, target_loss, record)
    except SweepInterrupted as stopped:
        kept = (
            f"they are recorded in {ledger.path}; resume=True (--resume) runs the rest"
            if ledger is not None
            else "give out= to keep finished runs on disk"
        )
        raise SweepInterrupted(
            f"the sweep stopped with {len(finished)} of {len(runs)} runs finished: {stopped}; "
            f"{kept}"
        ) from stopped.__cause__
    finally:
        if bar is not None:
            bar.close()
    rows = sorted(finished.values(), key=lambda row: row.index)
    return SweepResults(rows, tuple(grid))


def _payload(run: PlannedRun) -> dict[str, Any]:
    return {
        "index": run.index,
        "key": run.key,
        "point": dict(run.point),
        "repeat": run.repeat,
        "seed": run.seed,
        "config": run.config.to_dict(),
    }


def _execute(
    planned: list[list[PlannedRun]],
    executor: Executor | None,
    target_loss: float | None,
    record: Callable[[list[dict[str, Any]]], None],
) -> None:
    """Run every group and ``record`` its rows as it finishes; SweepInterrupted at the end if
    any group did not finish, once every other group has.

    A worker process that dies breaks a process pool for good, and every group still in it
    is lost with it, most of them through no fault of their own. Those groups run again on
    a fresh pool of the same size; any lost a second time run once more one by one, each
    alone on a worker, so that only a group whose own worker dies is lost, and reported.
    """
    payloads = [[_payload(run) for run in group] for group in planned]
    if executor is None:
        for payload in payloads:
            record(run_group(payload, target_loss))
        return
    failures: list[BaseException] = []

    def run_on(pool: Executor, indices: Sequence[int]) -> dict[int, BaseException]:
        return _run_on(pool, [(i, payloads[i]) for i in indices], target_loss, record, failures)

    lost = run_on(executor, range(len(payloads)))
    if lost and isinstance(executor, ProcessPoolExecutor):
        with workers.fresh_pool(executor) as pool:
            lost = run_on(pool, sorted(lost))
        alone: ProcessPoolExecutor | None = None
        try:
            for index in sorted(lost):
                alone = alone or workers.fresh_pool(executor, workers=1)
                if run_on(alone, [index]):  # its own worker died: the pool with it
                    alone.shutdown()
                    alone = None
                else:
                    del lost[index]
        finally:
            if alone is not None:
                alone.shutdown()
    failures.extend(lost.values())
    if failures:
        first = failures[0]
        raise SweepInterrupted(
            f"{len(failures)} of {len(payloads)} groups of runs did not finish "
            f"({type(first).__name__}: {first})"
        )


def _run_on(
    executor: Executor,
    payloads: Sequence[tuple[int, list[dict[str, Any]]]],
    target_loss: float | None,
    record: Callable[[list[dict[str, Any]]], None],
    failures: list[BaseException],
) -> dict[int, BaseException]:
    """Run the numbered ``payloads`` on ``executor``, recording each group's rows and adding
    each group that failed to ``failures``; the groups lost to a broken pool, by number."""
    futures: dict[Any, int] = {}
    lost: dict[int, BaseException] = {}
    try:
        for index, payload in payloads:
            try:
                futures[workers.submit(executor, run_group, payload, target_loss)] = index
            except BrokenExecutor as error:  # broken while submitting: the rest cannot start
                lost.update(dict.fromkeys([i for i, _ in payloads if i not in futures], error))
                break
        for future in as_completed(futures):
            try:
                rows = future.result()
            except BrokenExecutor as error:  # its worker, or another one, died
                lost[futures[future]] = error
                continue
            except Exception as error:  # a group that failed: the other groups go on
                failures.append(error)
                continue
            record(rows)
    except BaseException:  # Ctrl-C, or SIGTERM (see sigterm_as_interrupt): nothing more runs
        for future in futures:
            future.cancel()
        workers.stop_workers(executor)
        raise
    return lost


def _start(
    out: Path, description: dict[str, Any], resume: bool, ledger: Ledger
) -> dict[str, SweepRow]:
    """Check ``out`` for this sweep and write its description; the rows already finished."""
    plan_path = out / PLAN_FILE
    text = json.dumps(description, sort_keys=True, indent=1, default=list)
    if plan_path.exists():
        if not resume:
            raise ConfigError(
                f"{out} holds a sweep already; continue it with resume=True (--resume) "
                "or choose another directory"
            )
        if json.loads(plan_path.read_text(encoding="utf-8")) != json.loads(text):
            raise ConfigError(
                f"{out} holds another sweep (its {PLAN_FILE} differs from this one's "
                "configuration, grid, seeds or target); resume it with the same settings"
            )
    else:
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(plan_path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    records = [r for r in ledger.records() if r.sweep is not None] if ledger.path.exists() else []
    rows = rows_from([r.sweep for r in records], [r.loss_history for r in records])
    return {row.key: row for row in rows}


def _progress_bar(total: int, initial: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="run", desc="sweep")
