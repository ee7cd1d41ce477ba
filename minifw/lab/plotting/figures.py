"""Figures: each function returns a matplotlib ``Figure`` (shown inline in a notebook),
and ``save_figure`` writes one as PNG or SVG.

Drawn with matplotlib's object API, not pyplot, so no display is needed.
Each figure is a grid of ``panels`` drawn from one ``Snapshot`` of the network
on a ``Scene``; ``overview_figure``'s grid is also the frame of a training film.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ...core.data import DataSource
from ...core.errors import ConfigError
from ...core.network import Network
from ...files.atomic import atomic_path
from .kinds import FIGURE_KINDS
from .panels import (
    ErrorPanel,
    FitPanel,
    HeatmapPanel,
    HiddenUnitsPanel,
    LossPanel,
    Panel,
)
from .scene import Scene, Snapshot
from .text import plain_text

# A run's losses as any of: a list of per-epoch losses, a {"loss": [...], "val_loss": [...]}
# mapping, a LossHistory, or a FitResult.
HistoryLike = Any


def as_history(run: HistoryLike) -> dict[str, Sequence[float]]:
    """{"loss": [...], "val_loss": [...]} from any of the forms ``HistoryLike`` allows."""
    if isinstance(run, Mapping):
        return {key: run[key] for key in ("loss", "val_loss") if key in run}
    if isinstance(getattr(run, "history", None), Mapping):  # a LossHistory
        return as_history(run.history)
    if hasattr(run, "loss") and hasattr(run, "val_loss"):  # a FitResult
        return {"loss": run.loss, "val_loss": run.val_loss}
    return {"loss": list(run)}


def _set_title(figure: Figure, title: str | None) -> None:
    """Give ``figure`` the title ``title`` (none if empty), drawn as it is (see ``plain_text``):
    a title is often a file's name, never mathematics."""
    if title:
        figure.suptitle(plain_text(title))


def draw(
    panels: Sequence[Panel], snapshot: Snapshot, *, columns: int = 2, size: float = 5.0
) -> Figure:
    """A figure with ``panels`` on a grid ``columns`` wide, each drawn from ``snapshot``."""
    rows = -(-len(panels) // columns)
    columns = min(columns, len(panels))
    figure = Figure(figsize=(size * 1.3 * columns, size * rows), layout="constrained")
    for i, panel in enumerate(panels):
        panel.draw(figure.add_subplot(rows, columns, i + 1), snapshot)
    return figure


def overview_panels(scene: Scene, history: HistoryLike | None, snapshot: Snapshot) -> list[Panel]:
    """The overview's panels: the loss, then for one input the first hidden layer, target
    against learned and the error; for two inputs the target, prediction and error maps."""
    panels: list[Panel] = []
    if history is not None:
        panels.append(LossPanel({"run": as_history(history)}))
    if scene.inputs == 2:
        shows = ("target", "prediction", "error") if scene.target is not None else ("prediction",)
        return panels + [HeatmapPanel(scene, show) for show in shows]
    if snapshot.hidden:
        panels.append(HiddenUnitsPanel(scene, 0))
    return [*panels, FitPanel(scene), ErrorPanel(scene)]


def overview_figure(
    network: Network,
    source: DataSource,
    history: HistoryLike | None = None,
    *,
    domain: object = None,
    title: str | None = None,
) -> Figure:
    """Everything at once: loss, hidden units, target against learned, and the error
    (for two inputs: loss and the three heat maps). A training film's frames look like this."""
    scene = Scene.of(source, domain)
    snapshot = Snapshot.take(network, scene)
    figure = draw(overview_panels(scene, history, snapshot), snapshot)
    _set_title(figure, title)
    return figure


def loss_figure(runs: Mapping[str, HistoryLike], *, title: str | None = None) -> Figure:
    """Loss per epoch of one or more runs on a log scale, labelled by the keys of ``runs``:
    the training loss solid, the validation loss (when there is one) dashed, in the same colour."""
    panel = LossPanel(
        {label: as_history(run) for label, run in runs.items()}, title=title or "Loss history"
    )
    return draw([panel], Snapshot(np.empty((0, 1)), np.empty((0, 1)), [], []), columns=1)


def hidden_units_figure(network: Network, source: DataSource, *, domain: object = None) -> Figure:
    """Each hidden layer's units across the input domain, a graph per layer, dead units marked."""
    scene = _one_input(Scene.of(source, domain), "hidden-unit figure")
    snapshot = Snapshot.take(network, scene)
    if not snapshot.hidden:
        raise ConfigError("this network has no hidden layer to draw")
    return draw([HiddenUnitsPanel(scene, i) for i in range(len(snapshot.hidden))], snapshot)


def fit_figure(network: Network, source: DataSource, *, domain: object = None) -> Figure:
    """Target against learned, a graph per output; ``domain`` past the training domain is
    shaded, and its mean squared error reported apart from the error inside."""
    scene = _one_input(Scene.of(source, domain), "target-against-learned figure")
    snapshot = Snapshot.take(network, scene, units=False)
    return draw([FitPanel(scene, k) for k in range(network.n_outputs)], snapshot)


def error_figure(network: Network, source: DataSource, *, domain: object = None) -> Figure:
    """Prediction minus target across the domain, a graph per output."""
    scene = _one_input(Scene.of(source, domain), "error figure")
    snapshot = Snapshot.take(network, scene, units=False)
    return draw([ErrorPanel(scene, k) for k in range(network.n_outputs)], snapshot)


def heatmap_figure(
    network: Network, source: DataSource, *, domain: object = None, output: int = 0
) -> Figure:
    """For two inputs: target, prediction and error of output ``output``, heat maps side by side."""
    scene = Scene.of(source, domain)
    if scene.inputs != 2:
        raise ConfigError(f"heat maps are drawn for 2 inputs; this source has {scene.inputs}")
    if not 0 <= output < network.n_outputs:
        raise ConfigError(f"output must be in [0, {network.n_outputs}); got {output}")
    snapshot = Snapshot.take(network, scene, units=False)
    shows = ("target", "prediction", "error") if scene.target is not None else ("prediction",)
    return draw(
        [HeatmapPanel(scene, show, output) for show in shows], snapshot, columns=3, size=4.0
    )


def _one_input(scene: Scene, what: str) -> Scene:
    if scene.inputs != 1:
        raise ConfigError(f"the {what} is drawn for 1 input; for 2 use heatmap_figure")
    return scene


def blog_figure(
    network: Network, source: DataSource, loss: Sequence[float], *, title: str | None = None
) -> Figure:
    """The blog's three graphs in one figure.

    Top: the training loss per epoch (log scale). Bottom left: each unit of
    the first layer on the evaluation inputs. Bottom right: the target (red
    dots) against the learned function at the evaluation points (blue dots).
    """
    x_train, y_train = source.arrays()
    x_eval, _ = source.evaluation_arrays()
    hidden = network.layer_outputs(x_eval)[0]
    learned = network.predict(x_eval)

    figure = Figure(figsize=(12, 9), layout="constrained")
    grid = figure.add_gridspec(2, 2)
    ax_loss = figure.add_subplot(grid[0, :])
    ax_hidden = figure.add_subplot(grid[1, 0])
    ax_fit = figure.add_subplot(grid[1, 1])

    LossPanel({"training": {"loss": loss}}).draw(ax_loss, Snapshot(learned, learned, [], []))
    ax_loss.set_ylabel("mean training loss")

    ax_hidden.plot(x_eval[:, 0], hidden, "-*")
    ax_hidden.set(
        title=f"First layer on the evaluation inputs ({hidden.shape[1]} units)",
        xlabel="x",
        ylabel="unit output",
    )
    ax_hidden.grid(True, alpha=0.3)

    ax_fit.plot(x_train[:, 0], y_train[:, 0], "ro", label="target (training points)")
    ax_fit.plot(x_eval[:, 0], learned[:, 0], "bo", label="learned (evaluation points)")
    ax_fit.set(title="Target against learned", xlabel="x", ylabel="y")
    ax_fit.legend(loc="best")
    ax_fit.grid(True, alpha=0.3)

    _set_title(figure, title)
    return figure


def make_figure(
    kind: str,
    network: Network,
    source: DataSource,
    history: HistoryLike | None = None,
    *,
    domain: object = None,
    title: str | None = None,
) -> Figure:
    """The figure named ``kind`` (one of ``FIGURE_KINDS``) for a network, its data and its
    loss history; ``domain`` applies to the figures drawn across the input domain."""
    losses = as_history(history if history is not None else [])
    if kind == "blog":
        return blog_figure(network, source, losses["loss"], title=title)
    if kind == "overview":
        return overview_figure(network, source, history, domain=domain, title=title)
    if kind == "loss":
        return loss_figure({"run": losses}, title=title)
    drawers = {
        "hidden": hidden_units_figure,
        "fit": fit_figure,
        "error": error_figure,
        "heatmap": heatmap_figure,
    }
    if kind not in drawers:
        raise ConfigError(f"unknown figure {kind!r}; expected one of {', '.join(FIGURE_KINDS)}")
    figure = drawers[kind](network, source, domain=domain)
    _set_title(figure, title)
    return figure


def save_figure(figure: Figure, path: str | Path, *, dpi: int = 100) -> Path:
    """Write ``figure`` to ``path`` atomically; the format follows the suffix (.png, .svg, .pdf).

    Missing parent directories are made, as ``--plot results/fig.png`` leads a user to expect.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lstrip(".").lower() or "png"
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=fmt, dpi=dpi)
    return path
