"""Figures, drawn with matplotlib's object API (no pyplot, so no display is needed).

Importing this module imports matplotlib; ``import minifw`` does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .data import DataSource
from .files import atomic_path
from .network import Network


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

    epochs = np.arange(1, len(loss) + 1)
    ax_loss.plot(epochs, loss, color="tab:purple")
    if len(loss) and min(loss) > 0:
        ax_loss.set_yscale("log")
    ax_loss.set(title="Loss history", xlabel="epoch", ylabel="mean training loss")
    ax_loss.grid(True, which="both", alpha=0.3)

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

    if title:
        figure.suptitle(title)
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


def loss_curves_figure(curves: dict[str, Sequence[float]], *, title: str | None = None) -> Figure:
    """The loss per epoch of several runs on one graph (log scale), a labelled line each.

    ``curves`` maps a label (a run id, say) to its loss history, as
    ``minifw runs compare A B --plot out.png`` draws two runs.
    """
    figure = Figure(figsize=(9, 5), layout="constrained")
    axes = figure.add_subplot()
    for label, loss in curves.items():
        axes.plot(np.arange(1, len(loss) + 1), loss, label=label)
    values = np.concatenate([np.asarray(loss, dtype=float) for loss in curves.values()] or [[]])
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() > 0:  # as in blog_figure: a log scale needs positive losses
        axes.set_yscale("log")
    axes.set(title=title or "Loss history", xlabel="epoch", ylabel="mean training loss")
    axes.grid(True, which="both", alpha=0.3)
    if curves:
        axes.legend(loc="best")
    return figure
