"""Panels: one graph each, drawn once from a snapshot and then moved to the next.

Every figure in ``minifw.plotting`` is a grid of panels, and a training film is
the same grid updated frame by frame: ``draw(axes, snapshot)`` makes the
artists (lines, images, text) and ``update(snapshot)`` only changes their data,
which is what keeps a film of many frames quick to render.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D

from .scene import Scene, Snapshot
from .text import plain_text

Array = np.ndarray
History = Mapping[str, Sequence[float]]

# One colour per role, the same in every figure, so a reader (and a pixel test) can find them.
TARGET = "#d62728"  # red, as the blog's target dots
LEARNED = "#1f77b4"  # blue, as the blog's learned dots
DEAD = "#7f7f7f"  # tab:gray, which the live units' colours leave out
UNIT_COLOURS = [f"C{i}" for i in range(10) if i != 7]  # C7 is tab:gray
OUTSIDE = "#ffd27f"  # the extrapolation region's shading


class Panel(ABC):
    """One graph: ``draw(axes, snapshot)`` once, then ``update(snapshot)`` for each later moment.

    ``moving`` lists the artists ``update`` changes; a film redraws only those
    over a saved background, which is several times faster than a full redraw.
    """

    moving: list[Artist]

    @abstractmethod
    def draw(self, axes: Axes, snapshot: Snapshot) -> None:
        """Make this panel's artists on ``axes``, showing ``snapshot``."""

    @abstractmethod
    def update(self, snapshot: Snapshot) -> None:
        """Show ``snapshot`` with the artists ``draw`` made."""


def mean_square(error: Array) -> float:
    """The mean of error², nan for no points (so an empty region reads as 'none')."""
    return float(np.mean(error**2)) if error.size else float("nan")


class LossPanel(Panel):
    """Loss per epoch on a log scale: each run's training loss solid, its validation loss dashed.

    ``runs`` maps a label to a history ({"loss": [...], "val_loss": [...]}); a
    snapshot with an ``epoch`` shows the first ``epoch`` epochs of each.
    """

    def __init__(self, runs: Mapping[str, History], *, title: str = "Loss history") -> None:
        self.runs = {
            label: {key: np.asarray(values, dtype=np.float64) for key, values in history.items()}
            for label, history in runs.items()
        }
        self.title = title
        self.lines: list[tuple[Line2D, Array]] = []
        self.moving = []

    def draw(self, axes: Axes, snapshot: Snapshot) -> None:
        one = len(self.runs) == 1
        for i, (label, history) in enumerate(self.runs.items()):
            colour = f"C{i + 3}" if not one else "tab:purple"  # C0-C2 stay free for the fit
            for key, style, name in (("loss", "-", "training"), ("val_loss", "--", "validation")):
                values = history.get(key)
                if values is None or not values.size:
                    continue
                text = name if one else plain_text(label if key == "loss" else f"{label} ({name})")
                (line,) = axes.plot([], [], style, color=colour, label=text)
                self.lines.append((line, values))
        every = np.concatenate([v for _, v in self.lines] or [np.empty(0)])
        finite = every[np.isfinite(every)]
        if finite.size and finite.min() > 0:  # a log scale needs positive losses
            axes.set_yscale("log")
        if finite.size:
            axes.set_xlim(1, max(len(v) for _, v in self.lines) + 1)
            low, high = finite.min(), finite.max()
            axes.set_ylim(*((low / 1.5, high * 1.5) if low > 0 else (low, high + 1e-12)))
        axes.set(title=plain_text(self.title), xlabel="epoch", ylabel="mean loss")
        axes.grid(True, which="both", alpha=0.3)
        if len(self.lines) > 1:
            axes.legend(loc="upper right")
        self.moving = [line for line, _ in self.lines]
        self.update(snapshot)

    def update(self, snapshot: Snapshot) -> None:
        for line, values in self.lines:
            shown = values if snapshot.epoch is None else values[: snapshot.epoch]
            line.set_data(np.arange(1, len(shown) + 1), shown)


class HiddenUnitsPanel(Panel):
    """Hidden layer ``layer``'s units across the domain, one line per unit; dead ones grey, dashed.

    A unit is dead when its activation passes no gradient at any training
    input (see ``dead_units``); the title counts them.
    """

    def __init__(self, scene: Scene, layer: int = 0) -> None:
        self.scene, self.layer = scene, layer
        self.lines: list[Line2D] = []
        self.axes: Axes | None = None
        self.moving = []

    def draw(self, axes: Axes, snapshot: Snapshot) -> None:
        self.axes = axes
        units = snapshot.hidden[self.layer]
        x = self.scene.x[:, 0]
        self.lines = [
            axes.plot(x, units[:, u], label=f"unit {u}")[0] for u in range(units.shape[1])
        ]
        axes.set(xlabel="x", ylabel="unit output")
        axes.grid(True, alpha=0.3)
        shade_outside(axes, self.scene)
        self.moving = [*self.lines, axes.title]
        self.update(snapshot)

    def update(self, snapshot: Snapshot) -> None:
        units, dead = snapshot.hidden[self.layer], snapshot.dead[self.layer]
        for u, line in enumerate(self.lines):
            line.set_ydata(units[:, u])
            line.set_color(DEAD if dead[u] else UNIT_COLOURS[u % len(UNIT_COLOURS)])
            line.set_linestyle("--" if dead[u] else "-")
        count = f"{len(dead)} unit{'s' * (len(dead) != 1)}" + (
            f", {int(dead.sum())} dead (grey, dashed)" if dead.any() else ""
        )
        assert self.axes is not None
        self.axes.set_title(f"Hidden layer {self.layer + 1}: {count}")


class FitPanel(Panel):
    """Target against learned for output ``output``: the target curve (red), the training points
    (red dots), the prediction (blue line) and the prediction at the evaluation points (blue
    circles). The title reports the mean squared error; where the plotted domain passes the
    training domain, that part is shaded and its error reported apart from the error inside."""

    def __init__(self, scene: Scene, output: int = 0) -> None:
        self.scene, self.output = scene, output
        self.moving = []

    def draw(self, axes: Axes, snapshot: Snapshot) -> None:
        scene, k = self.scene, self.output
        x = scene.x[:, 0]
        shade_outside(axes, scene)
        if scene.target is not None:
            axes.plot(x, scene.target[:, k], color=TARGET, lw=1.5, label="target")
        x_train, y_train = scene.train
        axes.plot(x_train[:, 0], y_train[:, k], "o", color=TARGET, ms=4, label="training points")
        (learned,) = axes.plot(x, snapshot.prediction[:, k], color=LEARNED, lw=2, label="learned")
        (at_evaluation,) = axes.plot(
            scene.evaluation[0][:, 0],
            snapshot.at_evaluation[:, k],
            "o",
            mfc="none",
            color=LEARNED,
            ms=6,
            label="learned, evaluation points",
        )
        axes.set(xlabel="x", ylabel="y" if scene.train[1].shape[1] == 1 else f"y{k}")
        axes.grid(True, alpha=0.3)
        # Below the graph, where it hides no curve, whatever the target's shape.
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=3, fontsize=8)
        self.moving = [learned, at_evaluation, axes.title]
        self.update(snapshot)

    def update(self, snapshot: Snapshot) -> None:
        learned, at_evaluation, title = self.moving
        learned.set_ydata(snapshot.prediction[:, self.output])  # type: ignore[attr-defined]
        at_evaluation.set_ydata(snapshot.at_evaluation[:, self.output])  # type: ignore[attr-defined]
        title.set_text(f"Target against learned\n{error_report(self.scene, snapshot, self.output)}")  # type: ignore[attr-defined]


def error_report(scene: Scene, snapshot: Snapshot, output: int = 0) -> str:
    """'MSE inside the training domain ..., outside (shaded) ...' for one output.

    Measured against the target across the domain when it is known, else at
    the evaluation points (there is no 'outside' without a target to compare).
    """
    if scene.target is None:
        error = snapshot.at_evaluation[:, output] - scene.evaluation[1][:, output]
        return f"MSE at the evaluation points {mean_square(error):.3g}"
    error = snapshot.prediction[:, output] - scene.target[:, output]
    text = f"MSE inside the training domain {mean_square(error[scene.inside]):.3g}"
    if scene.extrapolates:
        text += f", outside (shaded) {mean_square(error[~scene.inside]):.3g}"
    return text


class ErrorPanel(Panel):
    """Prediction minus target across the domain for output ``output``, with 0 marked.

    Without a known target, the error is shown at the training points only.
    """

    def __init__(self, scene: Scene, output: int = 0) -> None:
        self.scene, self.output = scene, output
        self.moving = []

    def _error(self, snapshot: Snapshot) -> tuple[Array, Array]:
        scene, k = self.scene, self.output
        if scene.target is not None:
            return scene.x[:, 0], snapshot.prediction[:, k] - scene.target[:, k]
        x_eval, y_eval = scene.evaluation
        return x_eval[:, 0], snapshot.at_evaluation[:, k] - y_eval[:, k]

    def draw(self, axes: Axes, snapshot: Snapshot) -> None:
        shade_outside(axes, self.scene)
        axes.axhline(0.0, color="black", lw=0.8)
        style = "-" if self.scene.target is not None else "o"
        (line,) = axes.plot(*self._error(snapshot), style, color=LEARNED, lw=1.5)
        axes.set(title="Error: learned minus target", xlabel="x", ylabel="error")
        axes.grid(True, alpha=0.3)
        self.moving = [line]
        self.update(snapshot)

    def update(self, snapshot: Snapshot) -> None:
        self.moving[0].set_data(*self._error(snapshot))  # type: ignore[attr-defined]


class HeatmapPanel(Panel):
    """For two inputs: the target, the prediction or the error (``show``) as a heat map.

    Target and prediction share one colour scale, the target's range, so they
    can be compared by eye; the error's scale is symmetric about 0. The
    training domain is outlined when the plotted domain is larger.
    """

    def __init__(self, scene: Scene, show: str, output: int = 0) -> None:
        if show not in ("target", "prediction", "error"):
            raise ValueError(f"show must be 'target', 'prediction' or 'error'; got {show!r}")
        if show != "prediction" and scene.target is None:
            raise ValueError(f"a {show} heat map needs a source with a known target function")
        self.scene, self.show, self.output = scene, show, output
        self.image: AxesImage | None = None
        self.moving = []

    def _values(self, snapshot: Snapshot) -> Array:
        scene, k = self.scene, self.output
        values = {
            "target": lambda: scene.target[:, k],  # type: ignore[index]
            "prediction": lambda: snapshot.prediction[:, k],
            "error": lambda: snapshot.prediction[:, k] - scene.target[:, k],  # type: ignore[index]
        }[self.show]()
        # x is a row-major (x0, x1) grid; imshow wants rows of constant x1.
        return values.reshape(self.scene.grid_shape).T

    def draw(self, axes: Axes, snapshot: Snapshot) -> None:
        scene = self.scene
        values = self._values(snapshot)
        (x0_low, x1_low), (x0_high, x1_high) = scene.domain
        if self.show == "error":
            reach = float(np.abs(values).max()) or 1.0
            norm: Normalize = TwoSlopeNorm(0.0, -reach, reach)
            cmap = "RdBu_r"
        else:
            reference = scene.target[:, self.output] if scene.target is not None else values
            norm, cmap = Normalize(float(np.min(reference)), float(np.max(reference))), "viridis"
        self.image = axes.imshow(
            values, origin="lower", extent=(x0_low, x0_high, x1_low, x1_high),
            aspect="equal", norm=norm, cmap=cmap, interpolation="nearest",
        )  # fmt: skip
        axes.figure.colorbar(self.image, ax=axes, shrink=0.85)  # type: ignore[arg-type]
        outline = []
        if scene.extrapolates:
            (low0, low1), (high0, high1) = scene.train_domain
            outline = axes.plot(
                [low0, high0, high0, low0, low0], [low1, low1, high1, high1, low1], "w--", lw=1
            )
        axes.set(title=self.show.capitalize(), xlabel="x0", ylabel="x1")
        # The outline is drawn over the image, so a film that redraws the image redraws it too.
        self.moving = [self.image, *outline] if self.show != "target" else []
        self.update(snapshot)

    def update(self, snapshot: Snapshot) -> None:
        self.image.set_data(self._values(snapshot))


def shade_outside(axes: Axes, scene: Scene) -> None:
    """Shade the parts of a 1-input domain that lie outside the training domain."""
    if scene.inputs != 1 or not scene.extrapolates:
        return
    (low,), (high,) = scene.domain
    (train_low,), (train_high,) = scene.train_domain
    spans = [(low, train_low), (train_high, high)]
    for i, (a, b) in enumerate(s for s in spans if s[1] > s[0]):
        axes.axvspan(
            a, b, color=OUTSIDE, alpha=0.35, lw=0, label="extrapolation" if i == 0 else None
        )
