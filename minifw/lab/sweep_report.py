"""What a sweep's results look like: figures across the grid and one self-contained HTML report.

Each figure function takes a ``SweepResults`` and returns a matplotlib ``Figure``,
drawn with the object API (no pyplot, so no display is needed):

- ``fits_figure``: a panel per grid point, each seed's learned curve over the target;
- ``loss_spread_figure``: per grid point, the median loss per epoch over the seeds and
  the band between its quartiles;
- ``pareto_figure``: evaluation error against time per run, with the Pareto front.

A grid point keeps one colour in the loss and Pareto figures. ``write_report``
puts the three, the configuration, the grid and the leaderboard into one
``report.html`` that needs no other file; ``write_outputs`` writes everything
``minifw sweep`` leaves in its directory. Importing this module imports
matplotlib; ``import minifw`` does not.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..core.data import DataSource
from ..core.errors import ConfigError, DataError
from ..files.atomic import atomic_path
from ..run.config import RunConfig, to_toml
from ..run.experiment import build
from .plotting import save_figure
from .plotting.panels import LEARNED, TARGET
from .plotting.text import plain_text
from .results import SweepResults, SweepRow
from .sweeps import with_setting

Array = np.ndarray
DPI = 100  # of the PNG files and of the images in the report alike
PANEL_SIZE = (3.6, 2.8)  # inches, one grid point's panel in the fits figure
PLOT_SIZE = (9.0, 5.0)  # inches, the loss and Pareto figures (their legends take the right)
# A row's data source, given once for every row or found per row (see ``point_sources``).
SourceLike = DataSource | Callable[[SweepRow], DataSource]


# Grid points: labels, colours, sources ----------------------------------------------------


def point_label(varied: Sequence[str], values: Sequence[Any]) -> str:
    """A grid point's settings as text, ``"lr=0.3, layers=8,8"``; ``"all runs"`` for no grid."""
    pairs = zip(varied, values, strict=True)
    return ", ".join(f"{key}={_text(value)}" for key, value in pairs) or "all runs"


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(map(_text, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def point_colours(count: int) -> list[Any]:
    """``count`` distinct colours: tab10's for up to 10 grid points, else spread over viridis."""
    if count <= 10:
        return list(colormaps["tab10"].colors[:count])  # type: ignore[attr-defined]
    return list(colormaps["viridis"](np.linspace(0.0, 0.95, count)))


def point_sources(config: RunConfig) -> Callable[[SweepRow], DataSource]:
    """The data each row of a sweep of ``config`` trained and was evaluated on.

    A row's source is ``build``'s for the base configuration with the
    row's grid point and seed applied, so a grid that varies the data (the target,
    the samples, the domain) gets each point's own, and random sampling each seed's.
    Rows whose data settings and seed agree share one source.
    """
    cache: dict[str, DataSource] = {}

    def source(row: SweepRow) -> DataSource:
        settings = config
        for key, value in row.point.items():
            settings = with_setting(settings, key, value)
        settings = attrs.evolve(settings, seed=row.seed)
        data = json.dumps([settings.to_dict().get("data"), row.seed], sort_keys=True)
        if data not in cache:
            cache[data] = build(settings).source
        return cache[data]

    return source


def _source_of(source: SourceLike) -> Callable[[SweepRow], DataSource]:
    if isinstance(source, DataSource):
        return lambda row: source
    return source


def _prediction(row: SweepRow, x: Array) -> Array:
    """The row's prediction as an array (points, outputs), checked against the points ``x``."""
    prediction = np.asarray(row.prediction, dtype=np.float64)
    if prediction.ndim != 2 or len(prediction) != len(x):
        raise ConfigError(
            f"run {row.key!r} holds {len(prediction)} predictions, but its source has "
            f"{len(x)} evaluation points; is the source the one the sweep trained on?"
        )
    return prediction


def _median_error(rows: Sequence[SweepRow]) -> float:
    """The median evaluation error of the rows that went well, as the leaderboard takes it."""
    errors = [row.evaluation_error for row in rows if row.ok]
    return float(np.percentile(errors, 50)) if errors else math.nan


def _columns(results: SweepResults, count: int) -> int:
    """Panels per row: one per value of the last (fastest) grid key, so that each row of
    panels is one value of the keys before it; a square-ish grid if that key has many."""
    if results.varied:
        last = len({_text(row.point[results.varied[-1]]) for row in results})
        if 1 < last <= 6:
            return last
    return max(1, min(count, math.ceil(math.sqrt(count))))


# The figures ---------------------------------------------------------------------------------


def fits_figure(results: SweepResults, source: SourceLike) -> Figure:
    """One panel per grid point: what the trained networks predict at the evaluation points.

    For one input, each seed's prediction (``row.prediction`` against the
    evaluation x) is a thin translucent blue line and the target a red one.
    For two inputs, the panel shows the median seed's prediction (the run whose
    evaluation error is the median, the lower of the two middle ones for an even
    count) as a heat map, triangulated over the evaluation points, with the
    target as red contour lines; every heat map shares the targets' colour
    scale. A panel whose source has more inputs says so instead of drawing.
    Each title gives the point's settings and its median evaluation error;
    diverged and failed runs are not drawn, and the title counts them.

    ``source`` is the data the sweep trained on: one ``DataSource`` for every
    row, or a function of the row (``point_sources(config)``) when the grid
    varies the data.
    """
    points = list(results.points().items())
    if not points:
        raise ConfigError("there are no runs to draw")
    source_of = _source_of(source)
    inputs = [source_of(rows[0]).evaluation_arrays()[0].shape[1] for _, rows in points]
    columns = _columns(results, len(points))
    rows_of_panels = math.ceil(len(points) / columns)
    width, height = PANEL_SIZE
    height = width if 2 in inputs else height  # heat maps are square
    figure = Figure(figsize=(width * columns, height * rows_of_panels + 0.8), layout="constrained")
    grid = figure.add_gridspec(rows_of_panels, columns)
    drawn: dict[int, list[tuple[Axes, list[SweepRow]]]] = {}
    for i, ((values, rows), n_inputs) in enumerate(zip(points, inputs, strict=True)):
        axes = figure.add_subplot(grid[divmod(i, columns)])
        drawn.setdefault(n_inputs, []).append((axes, rows))
        bad = sum(not row.ok for row in rows)
        if bad == len(rows):
            outcome = f"all {bad} diverged or failed"
        else:
            outcome = f"median error {_median_error(rows):.4g}"
            outcome += f", {bad}/{len(rows)} diverged or failed" if bad else ""
            flat = sum(row.flat for row in rows)
            outcome += f", {flat}/{len(rows)} flat" if flat else ""
        axes.set_title(plain_text(f"{point_label(results.varied, values)}\n{outcome}"), fontsize=9)
    handles = []
    for axes, rows in drawn.get(1, []):
        _draw_curves(axes, rows, source_of)
    if 1 in drawn:
        handles += [
            Line2D([], [], color=LEARNED, lw=0.8, alpha=0.6, label="learned, one line per seed"),
            Line2D([], [], color=TARGET, lw=1.5, label="target"),
        ]
    if 2 in drawn:
        _draw_heat_maps(figure, drawn[2], source_of)
        handles.append(Line2D([], [], color=TARGET, lw=0.8, label="target (contours)"))
    for n_inputs, panels in drawn.items():
        if n_inputs > 2:
            for axes, _ in panels:
                axes.text(0.5, 0.5, f"{n_inputs} inputs: fits are drawn\nfor 1 or 2 inputs",
                          ha="center", va="center", transform=axes.transAxes)  # fmt: skip
                axes.set_axis_off()
    if handles:
        figure.legend(handles=handles, loc="outside lower center", ncols=len(handles))
    seeds = max(len(rows) for _, rows in points)
    figure.suptitle(f"Fits at the evaluation points: {len(points)} grid points, {seeds} seeds")
    return figure


def _draw_curves(
    axes: Axes, rows: Sequence[SweepRow], source_of: Callable[[SweepRow], DataSource]
) -> None:
    """Each good run's prediction as a thin line, then the target over them, along x. The
    y-axis reaches at most half the target's span past it, so that one wild run (finite,
    but far off) cannot flatten the rest."""
    reach = []
    for row in rows:
        if row.ok:
            x, _ = source_of(row).evaluation_arrays()
            order = np.argsort(x[:, 0], kind="stable")  # random sampling leaves x unsorted
            prediction = _prediction(row, x)[order]
            axes.plot(x[order, 0], prediction, color=LEARNED, lw=0.8, alpha=0.35)
            reach += [prediction.min(), prediction.max()]
    x, y = source_of(rows[0]).evaluation_arrays()
    order = np.argsort(x[:, 0], kind="stable")
    axes.plot(x[order, 0], y[order], color=TARGET, lw=1.5)
    low, high = float(y.min()), float(y.max())
    margin = (high - low) / 2 or 1.0
    if reach and (min(reach) < low - margin or max(reach) > high + margin):
        axes.set_ylim(max(min(reach), low - margin), min(max(reach), high + margin))
    axes.set(xlabel="x", ylabel="y")
    axes.grid(True, alpha=0.3)


def _draw_heat_maps(
    figure: Figure,
    panels: Sequence[tuple[Axes, list[SweepRow]]],
    source_of: Callable[[SweepRow], DataSource],
) -> None:
    """The median seed's first output as a heat map, the target as contours, one colour scale."""
    targets = [source_of(rows[0]).evaluation_arrays()[1][:, 0] for _, rows in panels]
    norm = Normalize(min(map(np.min, targets)), max(map(np.max, targets)))
    image = None
    for (axes, rows), target in zip(panels, targets, strict=True):
        x, _ = source_of(rows[0]).evaluation_arrays()
        axes.tricontour(x[:, 0], x[:, 1], target, levels=6, colors=TARGET, linewidths=0.8)
        good = sorted((row for row in rows if row.ok), key=lambda row: row.evaluation_error)
        if good:
            median = good[(len(good) - 1) // 2]
            x, _ = source_of(median).evaluation_arrays()
            values = _prediction(median, x)[:, 0]
            image = axes.tripcolor(x[:, 0], x[:, 1], values, shading="gouraud", norm=norm)
            axes.set_title(f"{axes.get_title()}\nshown: the median seed (repeat {median.repeat})",
                           fontsize=9)  # fmt: skip
        axes.set(xlabel="x0", ylabel="x1", aspect="equal")
    if image is not None:
        figure.colorbar(image, ax=[axes for axes, _ in panels], shrink=0.8, label="prediction")


def loss_spread(rows: Sequence[SweepRow]) -> Array | None:
    """The loss per epoch over the seeds of one grid point: an array (3, epochs) holding the
    25th, 50th and 75th percentiles (``np.percentile``) over the runs that went well, or None
    if none did. Diverged and failed runs are left out: their losses are not finite."""
    histories = [row.loss_history for row in rows if row.ok]
    if not histories:
        return None
    if len({len(history) for history in histories}) > 1:
        raise DataError(
            "the runs of one grid point have loss histories of different lengths: "
            f"{sorted({len(history) for history in histories})} epochs"
        )
    return np.percentile(np.array(histories, dtype=np.float64), [25, 50, 75], axis=0)


def loss_spread_figure(results: SweepResults) -> Figure:
    """The training loss per epoch, one colour per grid point, on a log scale: the median over
    the seeds as a line, the band from the 25th to the 75th percentile shaded (see
    ``loss_spread``). The legend gives each point's run count and how many diverged or failed
    runs were left out."""
    points = list(results.points().items())
    figure = Figure(figsize=PLOT_SIZE, layout="constrained")
    axes = figure.add_subplot()
    for (values, rows), colour in zip(points, point_colours(len(points)), strict=True):
        label = point_label(results.varied, values)
        spread = loss_spread(rows)
        left_out = sum(not row.ok for row in rows)
        if spread is None:
            axes.plot(
                [],
                [],
                color=colour,
                label=plain_text(f"{label} (all {len(rows)} diverged or failed)"),
            )
            continue
        count = f"{len(rows)} runs" if not left_out else (
            f"{len(rows) - left_out} of {len(rows)} runs; {left_out} diverged or failed, left out"
        )  # fmt: skip
        epochs = np.arange(1, spread.shape[1] + 1)
        axes.fill_between(epochs, spread[0], spread[2], color=colour, alpha=0.2, lw=0)
        axes.plot(epochs, spread[1], color=colour, lw=1.5, label=plain_text(f"{label} ({count})"))
    axes.set_yscale("log")
    axes.set(
        title="Training loss per epoch: median over the seeds, 25–75 % band shaded",
        xlabel="epoch",
        ylabel="mean training loss (normalised)",
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return figure


def run_seconds(row: SweepRow) -> float:
    """The time that falls to one run: ``seconds / stacked``, its computation's wall time shared
    equally among the runs that trained together in it."""
    return row.seconds / row.stacked


def pareto_front(errors: Sequence[float], seconds: Sequence[float]) -> Array:
    """Which runs are on the Pareto front of error against time: a boolean mask.

    Run i is on it unless another run j beats it on both counts, error_j <= error_i
    and seconds_j <= seconds_i with at least one strictly smaller; a run tied
    exactly with a run on the front is on it too. Sorted by time (then error), a
    run is on the front when its error is below every error before it.
    """
    errors, seconds = np.asarray(errors, dtype=np.float64), np.asarray(seconds, dtype=np.float64)
    front = np.zeros(len(errors), dtype=bool)
    best: tuple[float, float] = (math.inf, math.inf)  # (error, seconds) of the front's last run
    for i in np.lexsort((errors, seconds)):
        if errors[i] < best[0] or (errors[i], seconds[i]) == best:
            front[i] = True
            best = (errors[i], seconds[i])
    return front


def _drawable(row: SweepRow) -> bool:
    return row.ok and math.isfinite(row.evaluation_error) and math.isfinite(row.seconds)


def pareto_figure(results: SweepResults) -> Figure:
    """Evaluation error (log scale) against time per run (``run_seconds``), a dot per run and a
    colour per grid point; the Pareto front (``pareto_front``) is ringed and joined by the
    staircase that bounds what the runs reached. Diverged and failed runs are left out and
    counted in the title."""
    points = list(results.points().items())
    good = [row for row in results if _drawable(row)]
    figure = Figure(figsize=PLOT_SIZE, layout="constrained")
    axes = figure.add_subplot()
    for (values, rows), colour in zip(points, point_colours(len(points)), strict=True):
        kept = [row for row in rows if _drawable(row)]
        axes.scatter(
            [run_seconds(row) for row in kept],
            [row.evaluation_error for row in kept],
            color=colour,
            s=18,
            alpha=0.75,
            label=plain_text(point_label(results.varied, values)),
        )
    if good:
        errors = np.array([row.evaluation_error for row in good])
        seconds = np.array([run_seconds(row) for row in good])
        front = pareto_front(errors, seconds)
        order = np.lexsort((errors[front], seconds[front]))
        axes.plot(
            seconds[front][order], errors[front][order], "o-", drawstyle="steps-post",
            color="black", mfc="none", ms=8, lw=1, label="Pareto front",
        )  # fmt: skip
    axes.set_yscale("log")
    left_out = len(results) - len(good)
    title = f"Evaluation error against time: {len(results)} runs"
    if left_out:
        title += f", {left_out} diverged or failed (left out)"
    axes.set(
        title=title,
        xlabel="seconds per run (a stack's time shared among its runs)",
        ylabel="evaluation error (MSE)",
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return figure


# The report ----------------------------------------------------------------------------------


def _html_table(rows: Sequence[Sequence[Any]]) -> str:
    """An HTML table of escaped text, its first row the header."""
    lines = ["<table>"]
    for i, row in enumerate(rows):
        tag = "th" if i == 0 else "td"
        lines.append(
            "<tr>" + "".join(f"<{tag}>{html.escape(str(c))}</{tag}>" for c in row) + "</tr>"
        )
    lines.append("</table>")
    return "\n".join(lines)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


_STYLE = """
body { font-family: sans-serif; max-width: 75em; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
th { background: #f2f2f2; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
img { max-width: 100%; }
"""

FIGURE_TITLES = {"fits": "Fits", "loss": "Loss curves", "pareto": "Error against time"}


def sweep_figures(results: SweepResults, config: RunConfig) -> dict[str, Figure]:
    """The three figures of a sweep of ``config``, by name: "fits", "loss" and "pareto"."""
    return {
        "fits": fits_figure(results, point_sources(config)),
        "loss": loss_spread_figure(results),
        "pareto": pareto_figure(results),
    }


def _settings(config: RunConfig) -> dict[str, dict[str, Any]]:
    """The configuration's tables without [output], which says where ``minifw train`` writes
    and a sweep ignores, but with the plugins it loads."""
    tables = config.to_dict()
    output = tables.pop("output", {})
    if output.get("plugins"):
        tables["output"] = {"plugins": output["plugins"]}
    return tables


def write_report(
    results: SweepResults,
    out_dir: str | Path,
    config: RunConfig,
    grid: Mapping[str, Sequence[Any]],
    *,
    sweep_seed: int | None = None,
    target_loss: float | None = None,
    images: Mapping[str, bytes] | None = None,
    rank_by: str = "evaluation_error",
) -> Path:
    """Write ``out_dir/report.html`` atomically: one page that needs no other file.

    It holds the base configuration (as TOML), the grid, the leaderboard as a
    table, the diverged and failed runs with their reasons, and the figures as
    PNGs in ``data:`` URLs. ``images`` maps each figure's title to its PNG file's
    bytes (by default ``sweep_figures`` drawn here, the fits from ``point_sources(config)``).
    Every piece of text is HTML-escaped; the page has no script and no link.
    """
    if images is None:
        figures = sweep_figures(results, config).items()
        images = {FIGURE_TITLES[name]: _png(figure) for name, figure in figures}
    seeds = len({row.repeat for row in results})
    points = len(results.points())
    bad = [row for row in results if row.outcome != "learned"]
    details = [f"{seeds} seeds per grid point"]
    if sweep_seed is not None:
        details.append(f"drawn from sweep seed {sweep_seed}")
    if target_loss is not None:
        details.append(f"target loss {target_loss:g}")
    if config.target_eval is not None:
        details.append(f"target evaluation MSE {config.target_eval:g}")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>minifw sweep: {points} grid points, {len(results)} runs</title>",
        f"<style>{_STYLE}</style></head>",
        "<body>",
        f"<h1>minifw sweep: {points} grid points × {seeds} seeds, {len(results)} runs</h1>",
        f"<p>{html.escape(results.verdict())}</p>",
        "<h2>Base configuration</h2>",
        f"<pre>{html.escape(to_toml(_settings(config)))}</pre>",
        "<h2>Grid</h2>",
        _html_table(
            [("setting", "values")]
            + [(key, "; ".join(_text(v) for v in values)) for key, values in grid.items()]
        )
        if grid
        else "<p>No setting varied: the base configuration over the seeds.</p>",
        f"<p>{html.escape(', '.join(details))}.</p>",
        "<h2>Leaderboard</h2>",
        f"<p>Best first, by the median {html.escape(rank_by.replace('_', ' '))} over the seeds "
        "(runs that neither diverged nor failed; flat runs are counted in it, and apart).</p>",
        _html_table(results.leaderboard_cells(by=rank_by)),
        "<p>seconds: the median wall time of the computation a run was part of; runs that "
        "trained together as one stack share theirs (the error-against-time figure divides "
        "it among them).</p>",
        "<h2>Runs that did not learn</h2>",
    ]
    if bad:
        parts.append(f"<p>{len(bad)} of {len(results)} runs:</p>")
        parts.append(
            _html_table(
                [("run", "seed", "outcome", "reason")]
                + [(r.key, r.seed, r.outcome, r.reason or _flat_reason(r)) for r in bad]
            )
        )
    else:
        parts.append(f"<p>None: all {len(results)} runs learned.</p>")
    for title, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(f'<img src="data:image/png;base64,{data}" alt="{html.escape(title)}">')
    parts += ["</body>", "</html>", ""]
    path = Path(out_dir) / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    return path


def _flat_reason(row: SweepRow) -> str:
    return (
        f"its evaluation error {row.evaluation_error:.4g} is no better than predicting the "
        "target's mean"
    )


def write_outputs(
    results: SweepResults,
    out_dir: str | Path,
    config: RunConfig,
    grid: Mapping[str, Sequence[Any]],
    *,
    sweep_seed: int | None = None,
    target_loss: float | None = None,
    rank_by: str = "evaluation_error",
) -> dict[str, Path]:
    """Write what ``minifw sweep`` leaves in ``out_dir``, each file atomically: ``results.csv``,
    ``leaderboard.txt``, ``fits.png``, ``loss.png``, ``pareto.png`` and ``report.html``.
    Returns their paths by what they hold ("Results", "Leaderboard", the figures' titles,
    "Report")."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"Results": results.to_csv(out / "results.csv")}
    with atomic_path(out / "leaderboard.txt") as tmp:
        tmp.write_text(results.leaderboard(by=rank_by) + "\n", encoding="utf-8")
    paths["Leaderboard"] = out / "leaderboard.txt"
    for name, figure in sweep_figures(results, config).items():
        paths[FIGURE_TITLES[name]] = save_figure(figure, out / f"{name}.png", dpi=DPI)
    # The report embeds the files just written: the same images, and each rendered only once.
    images = {title: paths[title].read_bytes() for title in FIGURE_TITLES.values()}
    paths["Report"] = write_report(
        results,
        out,
        config,
        grid,
        sweep_seed=sweep_seed,
        target_loss=target_loss,
        images=images,
        rank_by=rank_by,
    )
    return paths
