"""Training films: the learned curve, the hidden units and the loss evolving together.

``TrainingFilm`` is a callback. During ``fit`` it keeps a ``Snapshot`` of the
network at ``frames`` evenly spaced epochs (the first before any update, the
last after the final one): only what the frames show, so memory grows with the
number of frames, never with the number of epochs. When training ends it draws
each snapshot as an ``overview_figure`` frame, with the epoch and loss in the
title, and writes them as an animated GIF (Pillow), or an MP4 when the path
ends in .mp4 and an ffmpeg program is found.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ...core.callbacks import Callback, Logs
from ...core.errors import ConfigError
from ...core.validation import at_most, integer, number, one_of
from ...files.atomic import atomic_path
from .figures import draw, overview_panels
from .panels import Panel
from .scene import Scene, Snapshot

if TYPE_CHECKING:
    from ...core.trainer import Trainer

Array = np.ndarray
FORMATS = (".gif", ".mp4")


def find_ffmpeg() -> str | None:
    """An ffmpeg program: the one on PATH, else imageio-ffmpeg's (``pip install minifw[film]``)."""
    found = shutil.which("ffmpeg")
    if found is None:
        try:
            import imageio_ffmpeg

            found = imageio_ffmpeg.get_ffmpeg_exe()
        except (ImportError, RuntimeError):
            return None
    return found


def _film_path(instance: object, attribute: attrs.Attribute[Path], value: Path) -> None:
    if value.suffix.lower() not in FORMATS:
        raise ConfigError(f"a film is written as .gif or .mp4; got {str(value)!r}")
    if value.suffix.lower() == ".mp4" and find_ffmpeg() is None:
        raise ConfigError(
            f"cannot write {value}: an MP4 needs ffmpeg, on PATH or from "
            "`pip install imageio-ffmpeg`; a .gif needs nothing more"
        )


def frame_epochs(start: int, epochs: int, frames: int, spacing: str = "linear") -> list[int]:
    """The epochs to snapshot: ``frames`` of them from ``start`` to ``start + epochs``.

    ``"linear"`` spaces them evenly; ``"log"`` evenly in log(1 + epoch), so that
    the first epochs, where most of the learning happens, get more frames.
    Fewer when there are fewer epochs than frames: one per epoch, both ends included.
    """
    if epochs + 1 <= frames:
        return list(range(start, start + epochs + 1))
    if spacing == "linear":
        wanted = np.linspace(0, epochs, frames)
    else:
        wanted = np.expm1(np.linspace(0, np.log1p(epochs), frames))
    # Rounded, then pushed apart where rounding made two equal (the log scale's first
    # frames), so that there are exactly ``frames``; the last stays at ``epochs``.
    chosen: list[int] = []
    for k, e in enumerate(wanted):
        low = chosen[-1] + 1 if chosen else 0
        high = epochs - (frames - 1 - k)
        chosen.append(min(max(round(e), low), high))
    return [start + e for e in chosen]


@attrs.define(eq=False)
class TrainingFilm(Callback):
    """Snapshots at ``frames`` evenly spaced epochs of each fit, written as a film at its end.

    ``path`` ends in .gif (Pillow) or .mp4 (ffmpeg, checked when the callback
    is made). ``spacing="log"`` puts more frames early (see ``frame_epochs``).
    ``domain`` widens the plotted domain past the training domain; ``fps`` is
    frames per second, ``dpi`` the frames' resolution (80: 832 × 640 pixels
    for one input). ``seconds`` is how long drawing and writing took.
    """

    path: Path = attrs.field(converter=Path, validator=_film_path)
    frames: int = attrs.field(default=60, validator=integer(low=2), kw_only=True)
    fps: float = attrs.field(default=10.0, validator=[number(low=0.1), at_most(100)], kw_only=True)
    domain: object = attrs.field(default=None, kw_only=True)
    dpi: int = attrs.field(default=80, validator=[integer(low=20), at_most(600)], kw_only=True)
    spacing: str = attrs.field(default="linear", validator=one_of("linear", "log"), kw_only=True)
    snapshots: list[Snapshot] = attrs.field(factory=list, init=False, repr=False)
    seconds: float = attrs.field(default=0.0, init=False)
    _scene: Scene | None = attrs.field(default=None, init=False, repr=False)
    _due: set[int] = attrs.field(factory=set, init=False, repr=False)

    def on_train_begin(self, trainer: Trainer) -> None:
        assert trainer.source is not None
        self._scene = Scene.of(trainer.source, self.domain)
        start = trainer.epochs_done
        self._due = set(frame_epochs(start, trainer.epochs, self.frames, self.spacing))
        self.snapshots = []
        self._take(trainer, start)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: Logs) -> None:
        if trainer.epochs_done in self._due:
            self._take(trainer, trainer.epochs_done)

    def on_train_end(self, trainer: Trainer, logs: Logs) -> None:
        done = trainer.epochs_done
        if self.snapshots[-1].epoch != done:  # stopped early: end the film where training did
            self._take(trainer, done)
        assert self._scene is not None
        began = time.perf_counter()
        write_film(
            self.path, self._scene, trainer.run_history, self.snapshots, fps=self.fps, dpi=self.dpi
        )
        self.seconds = time.perf_counter() - began

    def _take(self, trainer: Trainer, epoch: int) -> None:
        assert self._scene is not None
        losses = trainer.run_history.get("loss", [])
        loss = losses[epoch - 1] if 0 < epoch <= len(losses) else None
        units = self._scene.inputs == 1  # two inputs: heat maps only, no unit lines to keep
        self.snapshots.append(
            Snapshot.take(trainer.network, self._scene, epoch=epoch, loss=loss, units=units)
        )


def render_frames(
    scene: Scene,
    history: Mapping[str, Sequence[float]],
    snapshots: Sequence[Snapshot],
    *,
    dpi: int = 80,
) -> Iterator[Array]:
    """Each snapshot drawn as an overview frame: an (height, width, 3) uint8 RGB array.

    The figure is laid out and drawn once, without the panels' moving artists;
    each frame puts that background back and draws only the moving artists on
    it (blitting). The axes keep limits that fit every frame, so nothing jumps.
    """
    first = snapshots[0]
    panels = overview_panels(scene, history, first)
    figure = draw(panels, first, size=4.0)
    figure.set_dpi(dpi)
    title = figure.suptitle("epoch 0")
    _hold_limits(figure, panels, snapshots)
    moving = [artist for panel in panels for artist in panel.moving] + [title]
    for artist in moving:  # left out of the full draw: the background is what never moves
        artist.set_animated(True)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    figure.set_layout_engine("none")  # positions fixed now: no re-layout per frame
    background = canvas.copy_from_bbox(figure.bbox)
    for snapshot in snapshots:
        canvas.restore_region(background)
        for panel in panels:
            panel.update(snapshot)
        loss = "" if snapshot.loss is None else f", training loss {snapshot.loss:.4g}"
        title.set_text(f"epoch {snapshot.epoch}{loss}")
        for artist in moving:
            figure.draw_artist(artist)
        yield np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _hold_limits(figure: Figure, panels: Sequence[Panel], snapshots: Sequence[Snapshot]) -> None:
    """Fix each autoscaled line graph's y limits to cover its data in every snapshot."""
    axes = [a for a in figure.axes if a.get_autoscaley_on() and not a.images and a.lines]
    low, high = np.full(len(axes), np.inf), np.full(len(axes), -np.inf)
    for snapshot in snapshots:
        for panel in panels:
            panel.update(snapshot)
        for i, a in enumerate(axes):
            a.relim()
            low[i], high[i] = min(low[i], a.dataLim.y0), max(high[i], a.dataLim.y1)
    for i, a in enumerate(axes):
        if np.isfinite(low[i]) and np.isfinite(high[i]):
            margin = 0.05 * (high[i] - low[i]) or 0.5
            a.set_ylim(low[i] - margin, high[i] + margin)


def write_film(
    path: str | Path,
    scene: Scene,
    history: Mapping[str, Sequence[float]],
    snapshots: Sequence[Snapshot],
    *,
    fps: float = 10.0,
    dpi: int = 80,
) -> Path:
    """Draw ``snapshots`` and write them to ``path`` (.gif or .mp4), atomically."""
    path = Path(path)
    _film_path(None, None, path)  # type: ignore[arg-type]
    if not snapshots:
        raise ConfigError("a film needs at least one snapshot")
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = render_frames(scene, history, snapshots, dpi=dpi)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".gif":
            _write_gif(tmp, frames, fps)
        else:
            _write_mp4(tmp, frames, fps)
    return path


def _write_gif(path: Path, frames: Iterator[Array], fps: float) -> None:
    from PIL import Image

    # Each frame gets its own palette of its 256 most used colours (a GIF allows one per
    # frame); the frames share most colours, so those palettes barely differ and nothing
    # flickers. Without dithering lines stay crisp; each frame is kept at a byte a pixel.
    paletted = [
        Image.fromarray(frame).quantize(256, Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        for frame in frames
    ]
    paletted[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=paletted[1:],
        duration=round(1000 / fps),
        loop=0,
        optimize=False,
    )


def _write_mp4(path: Path, frames: Iterator[Array], fps: float) -> None:
    ffmpeg = find_ffmpeg()
    if ffmpeg is None:  # checked when the film was asked for; ffmpeg may have gone since
        raise ConfigError("cannot write an MP4: no ffmpeg found")
    first = next(frames)
    height, width = (first.shape[0] // 2) * 2, (first.shape[1] // 2) * 2  # H.264 wants even sides
    command = [
        ffmpeg, "-y", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps}", "-i", "-",
        "-pix_fmt", "yuv420p", "-vcodec", "libx264", "-f", "mp4", str(path),
    ]  # fmt: skip
    with subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdin is not None
        for frame in itertools.chain([first], frames):
            process.stdin.write(np.ascontiguousarray(frame[:height, :width]).tobytes())
        process.stdin.close()
        error = process.stderr.read().decode(errors="replace") if process.stderr else ""
        if process.wait() != 0:
            raise ConfigError(f"ffmpeg could not write the MP4: {error.strip()}")
