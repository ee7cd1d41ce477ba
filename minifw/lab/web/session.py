"""One tab of the lab: its run training in a thread of its own, and the latest frame of it.

A ``LiveRun`` is k seeds of one configuration trained as one stack
(``minifw.lab.stacking``), a chunk of epochs at a time: each chunk is sized to
take about ``FRAME_SECONDS``, and after it the run makes a frame, a JSON
snapshot of everything the page draws. A ``LabSession`` keeps only the latest
frame: the page's stream sends the newest frame whenever it can, and frames it
had no time for are dropped, never queued, so a slow page never slows training.

The median over seeds is what the page draws, with the band between the
quartiles (q1, q3); a seed whose loss or prediction stopped being finite
diverged, and one whose evaluation error is at least ``FLAT`` of the targets'
variance learned nothing (as ``minifw sweep`` counts them).
"""

from __future__ import annotations

import math
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from ...core.errors import ConfigError
from ...core.network import Network
from ...core.trainer import Trainer
from ...files.ledger import Ledger
from ...files.saving import save
from ...run.config import SETTINGS, RunConfig, command_line, to_toml
from ...run.experiment import build
from ...run.resolve import resolve, summary
from ..plotting.scene import Scene, Snapshot
from ..results import FLAT
from ..stacking import unstack
from ..sweeps import stackable, stacked_trainer, sweep_seeds
from .controls import LAB_OWN, RESOLUTION, blame, finite_list, read_values, value_text

Array = np.ndarray

FRAME_SECONDS = 0.04  # training between two frames: about 25 frames a second, at most
LOSS_POINTS = 300  # points of the loss curve the page draws
FILM_FRAMES = 60  # snapshots kept for the film, evenly spaced over the run's epochs
# matplotlib's pyplot-free figures are still not safe to draw from two threads at once.
_DRAWING = threading.Lock()


def _quartiles(values: Array) -> Array:
    """q1, median and q3 over the leading (seed) axis, ignoring seeds that are not finite."""
    finite = np.isfinite(values)
    if finite.all():  # the usual case, and numpy's fast one: nanquantile loops in Python
        return np.quantile(values, [0.25, 0.5, 0.75], axis=0)
    # Where every seed diverged numpy would warn, and warnings.catch_warnings is no answer in
    # a thread (it swaps the process's filters); those columns are filled, then made nan.
    some = finite.any(axis=0)
    filled = np.where(finite, values, np.nan)
    filled[:, ~some] = 0.0
    quartiles = np.nanquantile(filled, [0.25, 0.5, 0.75], axis=0)
    quartiles[:, ~some] = np.nan
    return quartiles


def loss_epochs(epochs: int) -> Array:
    """The epochs (from 1) at which the page draws the loss curve of a run of ``epochs``."""
    return np.unique(np.linspace(1, max(epochs, 1), LOSS_POINTS).round().astype(int))


@attrs.define(eq=False)
class LiveRun:
    """``seeds`` runs of ``config`` training as one stack: one run is ``config`` itself; several
    are the runs ``minifw sweep --seeds N --sweep-seed S`` trains, S being ``config.seed``,
    their seeds drawn from it as the sweep draws them (``sweep_seeds``)."""

    config: RunConfig
    seeds: int
    trainer: Trainer
    scene: Scene
    lock: threading.Lock = attrs.field(factory=threading.Lock)
    chunk: int = 1  # epochs a chunk, adapted to FRAME_SECONDS
    seconds: float = 0.0
    snapshots: list[Snapshot] = attrs.field(factory=list)

    @classmethod
    def start(cls, config: RunConfig, seeds: int) -> LiveRun:
        """The run before its first epoch; ConfigError if it cannot be built or stacked."""
        drawn = [config.seed] if seeds == 1 else sweep_seeds(config.seed, seeds)
        runs = [build(attrs.evolve(config, seed=seed)) for seed in drawn]
        if seeds > 1 and not stackable(runs):
            raise ConfigError(
                "seeds: several seeds train as one stack, on the same data in the same order; "
                "turn shuffle off and use grid sampling, no noise and no validation split"
            )
        source = runs[0].source
        scene = Scene.of(source, config.plot_domain, resolution=RESOLUTION)
        run = cls(config, seeds, stacked_trainer(runs), scene)
        run.trainer.source = source
        run._keep_snapshot()
        return run

    @property
    def epochs_done(self) -> int:
        return self.trainer.epochs_done

    @property
    def finished(self) -> bool:
        return self.epochs_done >= self.config.epochs

    def train(self, epochs: int | None = None) -> None:
        """Train one chunk (or ``epochs``), never past the run's epochs; adapt the chunk."""
        epochs = min(
            self.chunk if epochs is None else epochs, self.config.epochs - self.epochs_done
        )
        if epochs <= 0:
            return
        with np.errstate(all="ignore"):  # divergence is shown on the page, not warned about
            # The fit's own clock, which starts once the kernels are compiled (the first
            # chunk of a process would otherwise count seconds of compiling as training).
            took = self.trainer.fit(self.trainer.source, epochs).seconds
        self.seconds += took
        self.chunk = max(1, min(10_000, round(FRAME_SECONDS * epochs / max(took, 1e-6))))
        if self.epochs_done >= self._next_snapshot() or self.finished:
            self._keep_snapshot()

    def _next_snapshot(self) -> float:
        return self.snapshots[-1].epoch + self.config.epochs / FILM_FRAMES

    def _keep_snapshot(self) -> None:
        network = self.networks()[0]
        losses = self.losses()
        loss = float(losses[-1, 0]) if len(losses) else None
        self.snapshots.append(Snapshot.take(network, self.scene, epoch=self.epochs_done, loss=loss))

    def losses(self) -> Array:
        """The loss of each seed at each epoch done, (epochs, seeds)."""
        return np.asarray(self.trainer.run_history.get("loss", []), float).reshape(-1, self.seeds)

    def networks(self) -> list[Network]:
        network = self.trainer.network
        return unstack(network) if self.seeds > 1 else [network]

    def _predictions(self, x: Array) -> Array:
        """The prediction of each seed at ``x``, (seeds, points)."""
        with np.errstate(all="ignore"):
            return self.trainer.network.predict(x).reshape(self.seeds, len(x), -1)[..., 0]

    def evaluation_errors(self) -> Array:
        """Each seed's mean squared error at the evaluation points, in the target's units."""
        x, y = self.scene.evaluation
        with np.errstate(all="ignore"):
            return np.mean((self._predictions(x) - y[:, 0]) ** 2, axis=1)

    def outcomes(self) -> dict[str, int]:
        """How many seeds diverged, learned nothing (flat) and learned."""
        y = self.scene.evaluation[1]
        spread = float(np.mean((y - y.mean(axis=0)) ** 2))  # the error of predicting the mean
        errors = self.evaluation_errors()
        losses = self.losses()
        diverged = ~np.isfinite(errors) | ~np.all(np.isfinite(losses), axis=0)
        flat = ~diverged & (errors >= FLAT * spread)
        return {
            "diverged": int(diverged.sum()),
            "flat": int(flat.sum()),
            "learned": int((~diverged & ~flat).sum()),
        }

    def frame(self) -> dict[str, Any]:
        """Everything the page draws, now, as JSON-safe data."""
        x = self.scene.x
        q1, median, q3 = _quartiles(self._predictions(x))
        target = None if self.scene.target is None else self.scene.target[:, 0]
        with np.errstate(all="ignore"):
            hidden = self.trainer.network.layer_outputs(x)[:-1]
        units = [h.reshape(self.seeds, len(x), -1)[0] for h in hidden]  # the first seed's
        losses = self.losses()
        at = loss_epochs(self.config.epochs)
        shown = at[at <= len(losses)] - 1
        lq1, lmedian, lq3 = _quartiles(losses[shown].T) if len(losses) else (np.array([]),) * 3
        loss = float(_quartiles(losses[-1:].T)[1, -1]) if len(losses) else None
        return {
            "epoch": self.epochs_done,
            "epochs": self.config.epochs,
            "seeds": self.seeds,
            "loss": loss if loss is None or math.isfinite(loss) else None,
            "done": self.finished,
            "x": finite_list(x[:, 0]),
            "train_domain": [
                float(self.scene.train_domain[0][0]),
                float(self.scene.train_domain[1][0]),
            ],
            "target": None if target is None else finite_list(target),
            "fit": [finite_list(median), finite_list(q1), finite_list(q3)],
            "error": None if target is None else finite_list(median - target),
            "hidden": [finite_list(u) for layer in units for u in layer.T],
            "loss_epochs": at.tolist(),
            "losses": [finite_list(v) for v in (lmedian, lq1, lq3)]
            if len(losses)
            else [[], [], []],
            "outcomes": self.outcomes(),
        }

    def median_loss(self) -> Array:
        return _quartiles(self.losses().T)[1] if len(self.losses()) else np.array([])

    def files(self, what: str) -> tuple[bytes, str]:
        """A download, (its bytes, its media type): the first seed's model (.npz), figure
        (.png, .svg) and film (.gif), or the run's configuration (.toml)."""
        if what == "run.toml":
            tables = self.config.to_dict()
            tables.pop("output", None)
            return to_toml(tables).encode(), "application/toml"
        makers: dict[str, Callable[[Path], Any]] = {
            "model.npz": self._save_model,
            "figure.png": self._save_figure,
            "figure.svg": self._save_figure,
            "film.gif": self._save_film,
        }
        if what not in makers:
            raise ConfigError(
                f"no download named {what!r}; expected {', '.join([*makers, 'run.toml'])}"
            )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / what
            makers[what](path)
            kinds = {
                ".npz": "application/octet-stream",
                ".png": "image/png",
                ".svg": "image/svg+xml",
            }
            return path.read_bytes(), kinds.get(path.suffix, "image/gif")

    def _history(self) -> dict[str, list[float]]:
        return {"loss": self.losses()[:, 0].tolist()}

    def _save_model(self, path: Path) -> None:
        save(self.networks()[0], path, source=self.trainer.source, history=self._history())

    def _save_figure(self, path: Path) -> None:
        from ..plotting import make_figure, save_figure

        with _DRAWING:
            figure = make_figure(
                "overview",
                self.networks()[0],
                self.trainer.source,  # type: ignore[arg-type]
                self._history(),
                domain=self.config.plot_domain,
                title=command_line(self.config),
            )
            save_figure(figure, path)

    def _save_film(self, path: Path) -> None:
        from ..plotting.film import write_film

        with _DRAWING:
            write_film(path, self.scene, self._history(), self.snapshots)


@attrs.define(eq=False)
class Pin:
    """A run pinned for comparison: its settings, its median fit and loss, and its record."""

    label: str
    config: RunConfig
    seeds: int
    x: Array
    fit: Array
    loss: Array
    final_loss: float
    evaluation_error: float
    record_id: str | None


class LabSession:
    """One tab's run, trained in a thread of its own, and its pinned runs.

    ``apply`` starts a new run from the page's values; ``control`` pauses,
    steps, resumes and resets it; ``wait_frame`` gives the stream the newest
    frame; ``close`` stops the thread. ``base`` holds the lab's own settings
    (plugins, where the ledger is).
    """

    def __init__(self, session_id: str, base: RunConfig) -> None:
        self.id = session_id
        self.base = base
        self.seeds = 1
        self.pins: list[Pin] = []
        self.streams = 0  # streams open to this session now
        self.last_seen = time.monotonic()
        self._changed = threading.Condition()
        self._run: LiveRun | None = None
        self._generation = 0
        self._paused = False
        self._steps = 0
        self._closed = False
        self._frame: dict[str, Any] = {}
        self._version = 0
        self._thread = threading.Thread(target=self._loop, name=f"lab-{session_id}", daemon=True)
        self._thread.start()

    @property
    def run(self) -> LiveRun | None:
        return self._run

    @property
    def closed(self) -> bool:
        return self._closed

    def apply(self, texts: Mapping[str, Any], seeds: Any = 1) -> dict[str, str]:
        """Start a new run of the page's values ({name: text}), unpaused; the problems by
        control ({} if none), in which case the run goes on as it was."""
        config, problems = read_values(texts, seeds, base=self.base)
        if config is None:
            return problems
        try:
            run = LiveRun.start(config, seeds)
        except ConfigError as error:
            return {blame(str(error), ["seeds", *texts]): str(error)}
        with self._changed:
            self._run, self.seeds = run, seeds
            self._generation += 1
            self._paused, self._steps = False, 0
            self._publish(run.frame())
        return {}

    def control(self, action: str) -> None:
        """``pause``, ``resume``, ``step`` (one epoch, paused) or ``reset`` (epoch 0, as it was
        paused or not); ConfigError for another action."""
        actions = ("pause", "resume", "step", "reset")
        if action not in actions:
            raise ConfigError(f"unknown action {action!r}; expected one of {', '.join(actions)}")
        with self._changed:
            run = self._run
            if run is None:
                raise ConfigError("this session has no run yet; apply settings first")
            if action == "reset":
                self._run = run = LiveRun.start(run.config, run.seeds)
                self._generation += 1
                self._steps = 0
                self._publish(run.frame())
            elif action == "step":
                self._paused = True
                self._steps += 1
            else:
                self._paused = action == "pause"
                self._publish(self._frame)  # the state shown changes at once
            self._changed.notify_all()

    def _publish(self, frame: dict[str, Any]) -> None:
        """Make ``frame`` the latest, dropping any the stream has not sent (lock held)."""
        pins = [self._pinned(pin, frame) for pin in self.pins] if frame else []
        self._frame = {
            **frame,
            "generation": self._generation,
            "paused": self._paused,
            "pins": pins,
        }
        self._version += 1
        self._changed.notify_all()

    def _pinned(self, pin: Pin, frame: dict[str, Any]) -> dict[str, Any]:
        x = np.asarray(frame["x"], float)
        at = np.asarray(frame["loss_epochs"]) - 1
        loss = np.full(len(at), np.nan)
        known = at < len(pin.loss)
        loss[known] = pin.loss[at[known]]
        fit = np.interp(x, pin.x, pin.fit, left=np.nan, right=np.nan)
        return {"label": pin.label, "fit": finite_list(fit), "loss": finite_list(loss)}

    def wait_frame(self, after: int, timeout: float) -> tuple[int, dict[str, Any]] | None:
        """The latest frame and its version once it is newer than ``after``; None after
        ``timeout`` seconds without one, or once the session is closed."""
        with self._changed:
            self._changed.wait_for(lambda: self._version > after or self._closed, timeout)
            if self._closed or self._version <= after:
                return None
            return self._version, self._frame

    def _loop(self) -> None:
        """Train the current run a chunk at a time, publishing a frame after each chunk."""
        while True:
            with self._changed:

                def waiting() -> bool:
                    run = self._run
                    idle = run is None or run.finished or (self._paused and not self._steps)
                    return idle and not self._closed

                while waiting():
                    self._changed.wait()
                if self._closed:
                    return
                run, generation = self._run, self._generation
                step = self._paused
                if step:
                    self._steps -= 1
            assert run is not None
            with run.lock:
                run.train(1 if step else None)
                frame = run.frame()
            with self._changed:
                if generation == self._generation:  # not replaced while it trained
                    self._publish(frame)

    def pin(self, runs_dir: str | Path) -> dict[str, Any]:
        """Pin the current run: keep it for comparison and record it in the ledger."""
        run = self._run
        if run is None:
            raise ConfigError("nothing to pin: this session has no run yet")
        with run.lock:
            loss = run.median_loss()
            errors = run.evaluation_errors()
            fit = _quartiles(run._predictions(run.scene.x))[1]
            final = float(loss[-1]) if len(loss) else math.nan
            error = float(np.nanmedian(errors)) if np.isfinite(errors).any() else math.nan
            resolved = resolve(run.config).config.as_trained(run.trainer.trained_on)
            said = summary(resolved) + (f" seeds={run.seeds}" if run.seeds > 1 else "")
            tables = resolved.to_dict()
            tables.pop("output", None)
            record = Ledger(runs_dir).append(
                {
                    "config": tables,
                    "seed": run.config.seed,
                    "final_loss": final,
                    "evaluation_error": error,
                    "seconds": run.seconds,
                    "loss_history": loss.tolist(),
                    "summary": said,
                    "status": f"pinned in minifw lab at epoch {run.epochs_done}"
                    + (f", median of {run.seeds} seeds" if run.seeds > 1 else ""),
                }
            )
            pin = Pin(
                label=f"pin {len(self.pins) + 1}",
                config=run.config,
                seeds=run.seeds,
                x=run.scene.x[:, 0].copy(),
                fit=fit,
                loss=loss,
                final_loss=final,
                evaluation_error=error,
                record_id=record.id,
            )
        with self._changed:
            self.pins.append(pin)
            self._publish(self._frame)
        return self.pin_table()

    def unpin(self, index: Any) -> dict[str, Any]:
        """Forget pin ``index`` (its ledger record stays)."""
        if not isinstance(index, int) or not 0 <= index < len(self.pins):
            raise ConfigError(f"no pin {index!r}; there are {len(self.pins)}")
        with self._changed:
            del self.pins[index]
            self._publish(self._frame)
        return self.pin_table()

    def pin_table(self) -> dict[str, Any]:
        """The pinned runs and the current one, with the settings that differ between them."""
        rows: list[tuple[str, RunConfig, int]] = [(p.label, p.config, p.seeds) for p in self.pins]
        if self._run is not None:
            rows.append(("now", self._run.config, self._run.seeds))
        resolved = [(label, resolve(c).config, k) for label, c, k in rows]
        names = [n for n in SETTINGS if n not in LAB_OWN]
        shown = {name: [value_text(getattr(c, name)) for _, c, _ in resolved] for name in names}
        shown["seeds"] = [str(k) for _, _, k in resolved]
        differ = [name for name, values in shown.items() if len(set(values)) > 1]
        return {
            "columns": differ,
            "rows": [
                {
                    "label": label,
                    "values": [shown[name][i] for name in differ],
                    "final_loss": None if i >= len(self.pins) else _number(self.pins[i].final_loss),
                    "evaluation_error": None
                    if i >= len(self.pins)
                    else _number(self.pins[i].evaluation_error),
                    "record": None if i >= len(self.pins) else self.pins[i].record_id,
                }
                for i, (label, _, _) in enumerate(resolved)
            ],
        }

    def close(self) -> None:
        """Stop training; the thread ends after the chunk it is in."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the training thread to end; whether it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None
