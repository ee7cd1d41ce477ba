"""The results of a sweep: a table with one row per run, saved as CSV, printed as a leaderboard."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from ..core.errors import ConfigError
from ..core.metrics import Metric
from ..core.registry import did_you_mean
from ..core.text import aligned
from ..files.atomic import atomic_path

# What a run took to reach a target, each a column a leaderboard can rank by (lowest first):
# the sweep's target loss, and the evaluation error's (the run's target_eval).
TO_TARGET = (
    "seconds_to_eval_target",
    "epochs_to_eval_target",
    "work_to_eval_target",
    "seconds_to_target",
    "epochs_to_target",
)

# A run that learned nothing: its evaluation error is at least this fraction of the targets'
# variance at the evaluation points, the error of predicting their mean (it explains < 5 %).
FLAT = 0.95


@attrs.frozen
class SweepRow:
    """One run of a sweep and what came out.

    ``point`` holds the values the grid varied (``{"lr": 0.3, "activation":
    "tanh"}``), ``repeat`` which of the seeds it is (0, 1, ...) and ``seed`` the
    seed that number gave. ``final_loss`` is the last epoch's mean training
    loss (normalised, as training sees it) and ``evaluation_error`` the mean
    squared error on the evaluation points in the target's units; both are nan
    for a run that failed. ``seconds`` is the wall time of the computation the
    run was part of: ``stacked`` runs trained together share it. ``prediction``
    holds the trained network's outputs at the evaluation points, (points,
    outputs), for figures (empty for a run that failed).
    ``epochs_to_target`` is the first epoch (from 1) whose loss reached the
    sweep's target loss, None if none did or there was none;
    ``seconds_to_target`` the time to it, in proportion. ``diverged`` is True
    when the loss or a weight stopped being finite, and ``reason`` says why a
    run diverged or failed (None for a run that finished). ``lr`` is the run's
    learning rate as resolved. ``flat`` marks a finished run that learned
    nothing: its evaluation error is at least 95 % of the targets' variance,
    the error of predicting their mean (``FLAT``). ``metrics`` holds the run's
    metrics at the evaluation points, in the target's units, by name: minifw's
    own (``minifw.core.metrics.STANDARD``) and those of the run's ``metrics``
    setting (empty for a run that failed). With the run's ``target_eval`` set,
    ``epochs_to_eval_target`` is the first epoch (from 1) whose evaluation MSE reached it,
    ``seconds_to_eval_target`` the time to it (measured at that epoch's end, less the time
    the checks took; like ``seconds``, the stack's) and ``work_to_eval_target`` the work
    done by then: updates, or loss evaluations for L-BFGS. All three are None for a run
    that never reached it, or had no target (``EvaluationTarget``).
    """

    index: int
    key: str
    point: Mapping[str, Any]
    repeat: int
    seed: int
    final_loss: float
    evaluation_error: float
    seconds: float
    epochs_to_target: int | None
    seconds_to_target: float | None
    diverged: bool
    reason: str | None
    stacked: int
    loss_history: tuple[float, ...] = attrs.field(repr=False, eq=False)
    prediction: tuple[tuple[float, ...], ...] = attrs.field(
        default=(), repr=False, eq=False, converter=lambda rows: tuple(map(tuple, rows))
    )
    lr: float = math.nan
    flat: bool = False
    metrics: Mapping[str, float] = attrs.field(factory=dict, converter=dict)
    epochs_to_eval_target: int | None = None
    seconds_to_eval_target: float | None = None
    work_to_eval_target: int | None = None
    engine: str | None = None  # the engine that trained the run; None if it failed

    @property
    def ok(self) -> bool:
        """Whether the run finished with a finite loss and error (it may still be flat)."""
        return self.reason is None

    @property
    def outcome(self) -> str:
        """ "diverged", "failed", "flat" (finished, learned nothing) or "learned"."""
        if self.diverged:
            return "diverged"
        if not self.ok:
            return "failed"
        return "flat" if self.flat else "learned"

    def plain(self) -> dict[str, Any]:
        """The row as JSON-safe data (nan as None, tuples as lists), all but the loss history."""
        return _json_safe(attrs.asdict(self, filter=lambda a, _: a.name != "loss_history"))


COLUMNS = (
    "index",
    "repeat",
    "seed",
    "lr",
    "final_loss",
    "evaluation_error",
    "seconds",
    "epochs_to_target",
    "seconds_to_target",
    "epochs_to_eval_target",
    "seconds_to_eval_target",
    "work_to_eval_target",
    "diverged",
    "flat",
    "reason",
    "stacked",
    "engine",
)


@attrs.frozen
class SweepResults:
    """The rows of a sweep, in the order the runs were planned; ``varied`` names the grid's keys.

    ``to_csv(path)`` writes one row per run; ``leaderboard()`` (and ``str``)
    gives one line per grid point, best first: the median evaluation error
    over its seeds with the quartiles, the median final loss and time per run,
    and how many runs diverged or failed. ``leaderboard(by="r2")`` ranks by
    any metric the rows hold instead (best first whichever way is better), or
    by ``"final_loss"``.
    """

    rows: tuple[SweepRow, ...] = attrs.field(converter=tuple)
    varied: tuple[str, ...] = attrs.field(converter=tuple)

    def __iter__(self) -> Iterator[SweepRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def to_csv(self, path: str | Path) -> Path:
        """Write the table as CSV, atomically: the varied settings, then ``COLUMNS`` (but a
        varied one: a sweep of ``lr`` has one lr column), then each metric the rows hold."""
        path = Path(path)
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        columns = [c for c in COLUMNS if c not in self.varied]
        metrics = self.metric_names()
        writer.writerow([*self.varied, *columns, *metrics])
        for row in self.rows:
            cells = [row.point.get(k) for k in self.varied] + [getattr(row, c) for c in columns]
            cells += [row.metrics.get(name) for name in metrics]
            writer.writerow(["" if cell is None else _cell(cell) for cell in cells])
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(text.getvalue(), encoding="utf-8")
        return path

    def points(self) -> dict[tuple[Any, ...], list[SweepRow]]:
        """The rows of each grid point, keyed by its values in ``varied`` order."""
        grouped: dict[tuple[Any, ...], list[SweepRow]] = {}
        for row in self.rows:
            grouped.setdefault(tuple(_hashable(row.point[k]) for k in self.varied), []).append(row)
        return grouped

    def metric_names(self) -> list[str]:
        """The metrics the rows hold, in the order they first appear."""
        return list(dict.fromkeys(name for row in self.rows for name in row.metrics))

    def _ranking(self, by: str) -> tuple[str, bool]:
        """The column ``by`` names (a metric by any of its names) and whether higher is better;
        ConfigError for one the rows do not hold."""
        if by in ("evaluation_error", "final_loss", *TO_TARGET):
            return by, False
        held = self.metric_names()
        try:
            metric = Metric.resolve(by)
        except ConfigError:
            metric = None
        if metric is None or metric.key not in held:
            raise ConfigError(
                f"cannot rank the sweep by {by!r}; it ranks by evaluation_error, final_loss, "
                f"the time or work to a target ({', '.join(TO_TARGET)}) or a metric its runs "
                f"recorded: {', '.join(held) or 'none'}"
                + did_you_mean(by, ["evaluation_error", "final_loss", *TO_TARGET, *held])
            )
        return metric.key, metric.greater_is_better

    def leaderboard_cells(
        self, top: int | None = None, by: str = "evaluation_error"
    ) -> list[list[str]]:
        """The leaderboard as rows of text cells, the header first: one row per grid point,
        sorted by the median of ``by`` over its seeds, best first: the evaluation error
        (lowest first), the final loss, a metric the rows hold (``"r2"``: highest first), or
        what a run took to reach its target (``TO_TARGET``: ``"seconds_to_eval_target"``,
        lowest first, each run's share of its stack's seconds): a run that never reached it
        counts as infinitely slow, so a point whose median run did not reach it comes last,
        shown "not reached", and a column says how many of its runs reached it.
        Failed runs are left out of the medians; a point with no good run comes last.
        ``seconds/run`` is each run's share of the wall time of the stack it trained in."""
        key, higher = self._ranking(by)
        lines = []
        for values, rows in self.points().items():
            good = [r for r in rows if r.ok]
            ranked = np.array([_value(r, key) for r in good])
            ranked = ranked[~np.isnan(ranked)]  # a row recorded before it had metrics
            errors = np.array([r.evaluation_error for r in good])
            losses = np.array([r.final_loss for r in good])
            seconds = float(np.median([r.seconds / r.stacked for r in rows]))
            worst = -math.inf if higher else math.inf
            q1, median, q3 = _quartiles(ranked) if ranked.size else [worst] * 3
            error = float(np.median(errors)) if errors.size else math.inf
            loss = float(np.median(losses)) if losses.size else math.nan
            rates = sorted({f"{r.lr:g}" for r in rows}, key=float)
            counts = [str(sum(r.outcome == o for r in rows)) for o in _OUTCOMES[1:]]
            if key in TO_TARGET:  # how many got there, before the outcomes
                counts.insert(0, f"{sum(math.isfinite(_value(r, key)) for r in rows)}/{len(rows)}")
            lines.append((median, values, "/".join(rates), q1, q3, error, loss, seconds, counts))
        lines.sort(key=lambda line: (-line[0] if higher else line[0], str(line[1])))
        # The learning rate as resolved, unless the grid shows it already: a point's rate may
        # have moved with another setting (the blog's step for its activation, say).
        lr = [] if "lr" in self.varied else ["lr"]
        ranks = {"evaluation_error": "median error", "final_loss": "median final loss"}
        ranks |= {k: f"median {k.replace('_', ' ')}" for k in TO_TARGET}
        header = [*self.varied, *lr, ranks.get(key, f"median {key}"), "quartiles"]
        # The evaluation error and final loss are always shown, once.
        others = [c for c in ("evaluation_error", "final_loss") if c != key]
        header += [
            {"evaluation_error": "median error", "final_loss": "final loss"}[c] for c in others
        ]
        reached = ["reached"] if key in TO_TARGET else []
        cells = [[*header, "seconds/run", *reached, "flat", "diverged", "failed"]]
        for median, values, rates, q1, q3, error, loss, seconds, counts in lines[:top]:
            shown = {"evaluation_error": error, "final_loss": loss}
            numbers = [_ranked(median, ".4g"), f"{_ranked(q1, '.3g')}..{_ranked(q3, '.3g')}"]
            numbers += [f"{shown[c]:.4g}" for c in others] + [f"{seconds:.3g}"]
            rate = [rates] if lr else []
            cells.append([*(_show(v) for v in values), *rate, *numbers, *counts])
        return cells

    def verdict(self) -> str:
        """One line on how the runs ended: how many learned, were flat, diverged or failed.
        It never calls a sweep good that has a flat run."""
        counts = {o: sum(r.outcome == o for r in self.rows) for o in _OUTCOMES}
        total = len(self.rows)
        if counts["learned"] == total:
            return f"All {total} runs learned (none flat, diverged or failed)."
        told = ", ".join(f"{counts[o]} {_OUTCOME_TEXT[o]}" for o in _OUTCOMES if counts[o])
        return f"Of {total} runs: {told}. The report lists each run that did not learn."

    def leaderboard(self, top: int | None = None, by: str = "evaluation_error") -> str:
        """``leaderboard_cells`` as aligned text, a line per grid point, best first by ``by``."""
        return "\n".join(aligned(self.leaderboard_cells(top, by)))

    def __str__(self) -> str:
        return self.leaderboard()


_OUTCOMES = ("learned", "flat", "diverged", "failed")
_OUTCOME_TEXT = {
    "learned": "learned",
    "flat": f"flat (learned nothing: error >= {FLAT:g} x the target's variance)",
    "diverged": "diverged",
    "failed": "failed",
}


def _json_safe(value: Any) -> Any:
    """``value`` with every non-finite float, however deep, as None (strict JSON has no nan)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


def _show(value: Any) -> str:
    return _cell(value) if not isinstance(value, float) else f"{value:g}"


def _value(row: SweepRow, key: str) -> float:
    """The number a leaderboard ranks ``row`` by: a column, what it took to reach a target
    (inf if it never did; seconds as the run's share of its stack's), or a metric."""
    if key in ("evaluation_error", "final_loss"):
        return getattr(row, key)
    if key in TO_TARGET:
        took = getattr(row, key)
        if took is None:
            return math.inf
        return took / row.stacked if key.startswith("seconds") else float(took)
    return row.metrics.get(key, math.nan)


def _quartiles(values: np.ndarray) -> list[float]:
    """The 25th, 50th and 75th percentiles of ``values``, which may hold inf (a run that never
    reached its target): numpy's, but inf wherever it would interpolate towards an inf
    (where numpy gives nan, from inf - inf)."""
    if np.isfinite(values).all():
        return [float(q) for q in np.percentile(values, [25, 50, 75])]
    ordered = np.sort(values)
    quartiles = []
    for q in (0.25, 0.5, 0.75):
        place = q * (ordered.size - 1)
        low, high = ordered[math.floor(place)], ordered[math.ceil(place)]
        weight = place - math.floor(place)
        if weight == 0 or math.isinf(high):
            quartiles.append(float(low if weight == 0 else high))
        else:
            quartiles.append(float(low + weight * (high - low)))
    return quartiles


def _ranked(value: float, spec: str) -> str:
    """A ranked number as the leaderboard shows it; inf only arises for a target not reached."""
    return "not reached" if value == math.inf else format(value, spec)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def rows_from(
    plain: Sequence[Mapping[str, Any]], histories: Sequence[Sequence[float]]
) -> list[SweepRow]:
    """SweepRows from ``SweepRow.plain`` data and loss histories (as a file holds them)."""
    rows = []
    for data, history in zip(plain, histories, strict=True):
        fields = {k: (math.nan if v is None and k in _FLOATS else v) for k, v in data.items()}
        fields["metrics"] = {
            name: math.nan if value is None else value
            for name, value in fields.get("metrics", {}).items()
        }
        fields["prediction"] = [
            [math.nan if v is None else v for v in point] for point in fields.get("prediction", [])
        ]
        rows.append(SweepRow(**fields, loss_history=tuple(history)))
    return rows


_FLOATS = ("final_loss", "evaluation_error", "seconds", "lr")
