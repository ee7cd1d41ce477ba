"""Callbacks: code that runs at fixed points of training, without touching the loop.

The trainer calls each hook with what it needs as arguments; ``logs`` holds
plain floats (``{"loss": 0.012}``, plus ``"val_loss"`` when the source has
validation data). A callback stops training by setting
``trainer.stop_training = True``.
"""

from __future__ import annotations

import csv
import inspect
import io
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TextIO

import attrs
import numpy as np

from .contract import Component, refusal
from .data import DataSource
from .errors import ConfigError, TrainingDiverged
from .network import Network
from .optimizers import Optimizer, StateCopy
from .registry import did_you_mean
from .validation import integer, number, one_of

if TYPE_CHECKING:
    from tqdm import tqdm

Logs = dict[str, float]
Array = np.ndarray


class Training(Protocol):
    """What a callback may read of the trainer that calls it; ``minifw.Trainer`` is one.

    Written out here, rather than imported from the trainer, because the trainer imports
    this module: the callbacks depend on what a training loop offers, not on one loop.
    """

    network: Network
    optimizer: Optimizer
    source: DataSource | None
    history: LossHistory
    timer: Timer  # the fit's clock: timer.elapsed() is the time since training began
    run_history: dict[str, list[float]]  # every epoch's logs of the run, by key
    epochs: int  # the epochs the current fit was asked for
    epochs_done: int  # every epoch of the run so far, over successive fits
    stop_training: bool  # set it to True to stop after this epoch


class Callback(Component):
    """Base of every callback: each hook does nothing until a subclass overrides it.

    The trainer only calls ``on_batch_end`` (and ``on_epoch_begin``) for
    callbacks whose ``listens_to`` says so (by default: those that override
    it), so the per-batch loop stays free when nobody listens.

    What a subclass must provide: nothing; it overrides the hooks it needs, each
    taking the arguments the base's does. A method named ``on_...`` that is not a
    hook (``on_epoch_ends``), or a hook that takes other arguments, would never be
    called or would fail in the middle of training: both are refused when the class
    is defined. A callback reads ``logs`` and leaves them as they are (the callbacks
    after it read the same dict). ``minifw.testing.check_callback`` tests it in a
    short fit.

    How to subclass (print the loss every 100 epochs)::

        class PrintEvery100(Callback):
            def on_epoch_end(self, trainer, epoch, logs):
                if epoch % 100 == 0:
                    print(epoch, logs["loss"])
    """

    _family: ClassVar[str] = "callback"

    @classmethod
    def _check_class(cls) -> None:
        hooks = [name for name in vars(Callback) if name.startswith("on_")]
        for name, method in inspect.getmembers(cls, callable):
            if not name.startswith("on_"):
                continue
            if name not in hooks:
                raise ConfigError(
                    refusal(
                        cls,
                        f"defines {name}, which is not a hook, so it would never be called (the "
                        f"hooks: {', '.join(hooks)}){did_you_mean(name, hooks)}",
                    )
                )
            base = inspect.signature(getattr(Callback, name))
            takes = [p for p in base.parameters if p != "self"]
            try:
                inspect.signature(method).bind(None, *takes)
            except TypeError:
                raise ConfigError(
                    refusal(
                        cls,
                        f"defines {name}{inspect.signature(method)}; the trainer calls it as "
                        f"{name}(self, {', '.join(takes)})",
                    )
                ) from None

    def listens_to(self, hook: str) -> bool:
        """Whether ``hook`` (a method name) does anything; by default, whether it is overridden."""
        return getattr(type(self), hook) is not getattr(Callback, hook)

    def on_train_begin(self, trainer: Training) -> None:
        """Before the first epoch."""

    def on_epoch_begin(self, trainer: Training, epoch: int) -> None:
        """Before each epoch; ``epoch`` counts from 0."""

    def on_batch_end(self, trainer: Training, batch: int, logs: Logs) -> None:
        """After each batch's update; ``logs["loss"]`` is that batch's loss."""

    def on_epoch_end(self, trainer: Training, epoch: int, logs: Logs) -> None:
        """After each epoch; ``logs["loss"]`` is the epoch's mean training loss."""

    def on_train_end(self, trainer: Training, logs: Logs) -> None:
        """After the last epoch (or after a stop); ``logs`` are the last epoch's."""


@attrs.define(eq=False)
class LossHistory(Callback):
    """``history[key][epoch] = logs[key]`` for each epoch of the current (or last) fit.

    Starts afresh at each ``fit``, as Keras's History does. It keeps nothing of its own:
    the trainer records each epoch's logs once, in its ``run_history`` (every epoch of
    the run, which a checkpoint saves), and this is the part of it since the fit began.
    Reading ``history``, ``loss`` or ``val_loss`` gives new lists, copied from it.
    """

    # The trainer's run history as it was when the fit began (a resumed trainer gets a new
    # one), and how many values each key held then: this fit's epochs come after those.
    _run: dict[str, list[float]] = attrs.field(factory=dict, init=False, repr=False)
    _starts: dict[str, int] = attrs.field(factory=dict, init=False, repr=False)

    @property
    def history(self) -> dict[str, list[float]]:
        """Every key this fit logged, with its value at each of the fit's epochs."""
        starts = self._starts
        return {
            key: values[starts.get(key, 0) :]
            for key, values in self._run.items()
            if len(values) > starts.get(key, 0)
        }

    @property
    def loss(self) -> list[float]:
        """The per-epoch training loss."""
        return self._run.get("loss", [])[self._starts.get("loss", 0) :]

    @property
    def val_loss(self) -> list[float]:
        """The per-epoch validation loss; empty without validation data."""
        return self._run.get("val_loss", [])[self._starts.get("val_loss", 0) :]

    def on_train_begin(self, trainer: Training) -> None:
        self._run = trainer.run_history
        self._starts = {key: len(values) for key, values in self._run.items()}

    def forget_from(self, epoch: int) -> None:
        """Drop this fit's epoch ``epoch`` (counted from 0) and every later one, from the
        run's history, for each key (a key may have begun later in the run than another)."""
        for key, values in self._run.items():
            del values[self._starts.get(key, 0) + epoch :]


@attrs.define(eq=False)
class Timer(Callback):
    """seconds = wall-clock time from the start of training to its end (perf_counter)."""

    seconds: float = 0.0
    _start: float = attrs.field(default=0.0, init=False, repr=False)

    def on_train_begin(self, trainer: Training) -> None:
        self._start = time.perf_counter()

    def on_train_end(self, trainer: Training, logs: Logs) -> None:
        self.seconds = self.elapsed()

    def elapsed(self) -> float:
        """Seconds since training began: while it runs, so far; after it ends, in all."""
        return time.perf_counter() - self._start


@attrs.define(eq=False)
class TimeLimit(Callback):
    """Stop once t - t₀ >= ``seconds``: checked at each epoch's end, t₀ the fit's start.

    The epoch that crosses the limit finishes, so a fit runs at most one epoch past it;
    ``stopped_epoch`` is that epoch (from 0), or None if the fit ended first. One L-BFGS
    iteration is one epoch, so this is L-BFGS's time limit as well as SGD's.
    """

    seconds: float = attrs.field(validator=number(low=0))
    stopped_epoch: int | None = attrs.field(default=None, init=False)

    def on_train_begin(self, trainer: Training) -> None:
        self.stopped_epoch = None

    def on_epoch_end(self, trainer: Training, epoch: int, logs: Logs) -> None:
        if trainer.timer.elapsed() >= self.seconds:
            self.stopped_epoch, trainer.stop_training = epoch, True


def _logs_key(instance: Any, attribute: attrs.Attribute[str], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ConfigError(
            f"{type(instance).__name__}.{attribute.name} must name a logs key such as "
            f"'val_loss' or 'loss'; got {value!r}"
        )


@attrs.define(eq=False)
class EarlyStopping(Callback):
    """Stop once logs[monitor] has not dropped below best - min_delta for ``patience`` epochs.

    Lower is better (a loss). ``best`` and ``best_epoch`` hold the lowest value
    seen and its epoch (counted from 0), ``stopped_epoch`` the epoch training
    stopped at, or None if it ran to the end; all are reset at each ``fit``.
    With ``restore_best`` the network's weights at the best epoch are kept
    aside and put back when training ends, however it ends: list this callback
    before any that read the weights at train end (a ``Plotter``). The
    history keeps every epoch's loss, including those after the best one.

    A ``monitor`` key the logs lack (``"val_loss"`` from a source without
    validation data) raises ConfigError at the end of the first epoch.
    """

    monitor: str = attrs.field(default="val_loss", validator=_logs_key)
    patience: int = attrs.field(default=10, validator=integer(low=0))
    min_delta: float = attrs.field(default=0.0, validator=number(low=0))
    restore_best: bool = False
    best: float = attrs.field(default=math.inf, init=False)
    best_epoch: int | None = attrs.field(default=None, init=False)
    stopped_epoch: int | None = attrs.field(default=None, init=False)
    _wait: int = attrs.field(default=0, init=False, repr=False)
    _best_weights: Array | None = attrs.field(default=None, init=False, repr=False)

    def on_train_begin(self, trainer: Training) -> None:
        self.best, self.best_epoch, self.stopped_epoch, self._wait = math.inf, None, None, 0
        # One buffer per fit: each improvement copies into it instead of allocating.
        weights = trainer.network.packed.value
        self._best_weights = np.empty_like(weights) if self.restore_best else None

    def on_epoch_end(self, trainer: Training, epoch: int, logs: Logs) -> None:
        if self.monitor not in logs:
            hint = ""
            if self.monitor == "val_loss":
                hint = (
                    "; val_loss needs a data source with validation data, "
                    "such as FunctionSource(..., validation=0.2)"
                )
            raise ConfigError(
                f"EarlyStopping.monitor is {self.monitor!r}, but the logs have no such key; "
                f"they have: {', '.join(map(repr, logs))}{hint}"
            )
        value = logs[self.monitor]
        if value < self.best - self.min_delta:  # False for nan: a nan epoch is no improvement
            self.best, self.best_epoch, self._wait = value, epoch, 0
            if self._best_weights is not None:
                np.copyto(self._best_weights, trainer.network.packed.value)
            return
        self._wait += 1
        if self._wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True

    def on_train_end(self, trainer: Training, logs: Logs) -> None:
        if self._best_weights is not None and self.best_epoch is not None:
            np.copyto(trainer.network.packed.value, self._best_weights)


@attrs.frozen
class Divergence:
    """Where training diverged and what to try: epoch, batch, lr, largest |z| per layer.

    ``largest_pre_activation[i]`` is max |z| (NaNs ignored) of layer i in the
    forward pass of the failing batch, None for a layer that does not expose
    ``pre_activation``. ``weights_finite`` is False when the batch's loss was
    finite but its update made some weight non-finite (or astronomically large).
    ``numpy_error`` is numpy's message when numpy itself stopped the batch, as it
    does under ``np.errstate(all="raise")`` (the loss is then nan: never computed).
    ``str()`` gives a readable report.
    """

    epoch: int
    batch: int | None  # None: found at the end of the epoch
    loss: float
    weights_finite: bool
    lr: float
    layers: tuple[str, ...]
    largest_pre_activation: tuple[float | None, ...]
    suggestion: str
    numpy_error: str | None = None

    def __str__(self) -> str:
        if self.numpy_error is not None:
            cause = f"numpy raised FloatingPointError ({self.numpy_error}), as np.errstate asked"
        elif self.weights_finite:
            cause = f"the batch loss is {self.loss}"
        else:
            cause = f"its update made the weights non-finite (batch loss {self.loss:.4g})"
        where = f"epoch {self.epoch}" + ("" if self.batch is None else f", batch {self.batch}")
        step = "epoch" if self.batch is None else "batch"
        if self.batch is None:
            cause = cause.replace("batch loss", "epoch's loss").replace("the batch", "the epoch's")
        lines = [
            f"training diverged at {where} (learning rate {self.lr:g}): {cause}",
            f"largest |pre-activation| per layer in the last forward pass of that {step}:",
        ]
        for i, (layer, z) in enumerate(zip(self.layers, self.largest_pre_activation, strict=True)):
            lines.append(f"  layer {i} ({layer}): {'unknown' if z is None else f'{z:.3g}'}")
        lines += [
            f"the weights are back to those after the previous {step}",
            f"suggestion: {self.suggestion}",
        ]
        return "\n".join(lines)


def _largest_magnitude(z: Array | None) -> float | None:
    if z is None:
        return None
    magnitude = np.abs(z[~np.isnan(z)])
    return float(magnitude.max()) if magnitude.size else math.nan


def _describe(layer: Any) -> str:
    activation = getattr(layer, "activation", None)
    kind = "" if activation is None else f", {type(activation).__name__}"
    return f"{type(layer).__name__} {layer.n_in}->{layer.n_out}{kind}"


def _suggestion(lr: float, layers: list[Any]) -> str:
    advice = (
        f"lower the learning rate (now {lr:g}) by 10x, to {lr / 10:g}"
        if math.isfinite(lr)
        else "lower the learning rate by 10x"
    )
    # Hidden layers only: the output layer's activation is set by the targets' range.
    unbounded = [
        str(i)
        for i, layer in enumerate(layers[:-1])
        if not all(map(math.isfinite, getattr(layer.activation, "output_range", (0, 0))))
    ]
    if unbounded:
        advice += (
            f", or use a bounded activation (tanh, sigmoid) in hidden layer {', '.join(unbounded)} "
            "so that its outputs cannot grow without limit"
        )
    return advice


def _diagnose(
    trainer: Training,
    epoch: int,
    batch: int | None,
    loss: float,
    weights_finite: bool,
    numpy_error: str | None = None,
) -> Divergence:
    optimizer, layers = trainer.optimizer, trainer.network.layers
    # current_lr is the rate of the latest step (schedules); plain optimizers have only lr.
    lr = float(getattr(optimizer, "current_lr", getattr(optimizer, "lr", math.nan)))
    return Divergence(
        epoch=epoch,
        batch=batch,
        loss=float(loss),
        weights_finite=weights_finite,
        lr=lr,
        layers=tuple(_describe(layer) for layer in layers),
        largest_pre_activation=tuple(
            _largest_magnitude(getattr(layer, "pre_activation", None)) for layer in layers
        ),
        suggestion=_suggestion(lr, layers),
        numpy_error=numpy_error,
    )


@attrs.define(eq=False)
class TerminateOnNaN(Callback):
    """Stop at the first batch with a non-finite loss or weights; put the last finite weights back.

    After every good batch the network's packed weights are copied into one
    buffer (kept from the start of training, so a failing first batch restores
    the initial weights), and the optimizer's state with them (``StateCopy``:
    momentum, Adam's moments and step count, RMSProp's average). At the first
    bad one, the weights and that state are restored, ``trainer.stop_training``
    is set and ``diagnosis`` (a ``Divergence``) says where it happened, the
    learning rate, how large each layer's pre-activations had grown, and what
    to try. The diverged epoch is not counted: the run's and the fit's loss
    histories (and so ``epochs_done``) end with the last epoch that finished
    finite, so that they agree with the weights, and a checkpoint written after
    it resumes from there. With ``raise_error`` it then raises
    ``TrainingDiverged`` out of ``fit``, so later hooks (on_epoch_end,
    on_train_end) do not run.

    ``check="epoch"`` checks the epoch's loss and the weights at the end of each
    epoch instead, and keeps the weights of the last good epoch: one copy per
    epoch, not per batch. Every ``Trainer`` of a single network has one of these,
    raising, unless it is given a ``TerminateOnNaN`` of its own or made with
    ``stop_on_divergence=False``: divergence never leaves NaN weights silently.

    Under ``np.errstate(all="raise")`` numpy stops a diverging batch itself, with
    a FloatingPointError (overflow, say) from deep inside a layer. The trainer
    then calls ``numpy_raised``, which puts the weights back in the same way and
    raises ``TrainingDiverged`` with the diagnosis, numpy's error as its cause,
    whatever ``raise_error`` says: the caller asked for an exception.
    """

    raise_error: bool = False
    check: str = attrs.field(default="batch", kw_only=True, validator=one_of("batch", "epoch"))
    diagnosis: Divergence | None = attrs.field(default=None, init=False)
    _epoch: int = attrs.field(default=0, init=False, repr=False)
    _weights: Array = attrs.field(factory=lambda: np.empty(0), init=False, repr=False)
    _last_finite: Array = attrs.field(factory=lambda: np.empty(0), init=False, repr=False)
    _state: StateCopy | None = attrs.field(default=None, init=False, repr=False)

    def on_train_begin(self, trainer: Training) -> None:
        copies = trainer.network.copies
        if copies is not None:
            raise ConfigError(
                f"TerminateOnNaN watches one network; this one stacks {copies} (minifw.stack), "
                "whose networks diverge one by one: their losses (one per network) show which "
                "became nan, and a sweep's rows say so"
            )
        self.diagnosis, self._epoch = None, 0
        packed = trainer.network.packed
        self._weights = packed.value
        self._last_finite = self._weights.copy()
        self._state = trainer.optimizer.state_copy(packed)

    def listens_to(self, hook: str) -> bool:
        if hook == "on_batch_end":
            return self.check == "batch"
        return super().listens_to(hook)

    def on_epoch_begin(self, trainer: Training, epoch: int) -> None:
        self._epoch = epoch

    def on_batch_end(self, trainer: Training, batch: int, logs: Logs) -> None:
        self._check(trainer, batch, logs["loss"])

    def on_epoch_end(self, trainer: Training, epoch: int, logs: Logs) -> None:
        if self.check == "epoch":
            self._check(trainer, None, logs["loss"])
        elif self.diagnosis is not None:  # the trainer recorded the cut-short epoch after the stop
            self._forget_diverged_epoch(trainer)

    def on_train_end(self, trainer: Training, logs: Logs) -> None:
        if self.diagnosis is not None:  # again, harmlessly: whatever recorded it after the stop
            self._forget_diverged_epoch(trainer)

    def _check(self, trainer: Training, batch: int | None, loss: float) -> None:
        # Per check: two float checks and one copy into the buffer, no attribute assignment.
        # The weights' sum is non-finite if any weight is (or if they are all past ~1e308 /
        # size, diverged by any measure): one reduction, cheaper than isfinite().all(). The
        # check keeps an inf weight that leaves the loss finite (a dead ReLU) out of the buffer.
        weights = self._weights
        weights_finite = math.isfinite(np.add.reduce(weights))
        if weights_finite and math.isfinite(loss):
            np.copyto(self._last_finite, weights)
            self._state.keep()  # type: ignore[union-attr]
            return
        self._diverged(trainer, _diagnose(trainer, self._epoch, batch, loss, weights_finite))
        if self.raise_error:
            raise TrainingDiverged(self.diagnosis)

    def numpy_raised(self, trainer: Training, batch: int, error: FloatingPointError) -> None:
        """numpy raised ``error`` in ``batch``: restore, diagnose, raise TrainingDiverged."""
        where = None if self.check == "epoch" else batch  # the weights are the epoch's
        message = str(error) if where is not None else f"{error}, in batch {batch}"
        self._diverged(trainer, _diagnose(trainer, self._epoch, where, math.nan, True, message))
        raise TrainingDiverged(self.diagnosis) from error

    def _diverged(self, trainer: Training, diagnosis: Divergence) -> None:
        self.diagnosis = diagnosis
        np.copyto(self._weights, self._last_finite)
        self._state.restore()  # type: ignore[union-attr]
        self._forget_diverged_epoch(trainer)
        trainer.stop_training = True

    def _forget_diverged_epoch(self, trainer: Training) -> None:
        """Drop the diverged epoch from the run's history and the fit's, if recorded: both
        then count only the epochs before it, whose weights the network holds (for a
        batch-wise check, those epochs and the good batches of the diverged one)."""
        trainer.history.forget_from(self._epoch)


@attrs.define(eq=False)
class ProgressBar(Callback):
    """A tqdm bar over the epochs, showing each epoch's logs (loss, val_loss); closed at train end.

    Silent when ``enabled`` is False, and when ``file`` (stderr by default) is
    not a terminal (tqdm's ``disable=None``), so logs and CI output stay clean.
    """

    enabled: bool = True
    file: TextIO | None = attrs.field(default=None, kw_only=True, repr=False)
    _bar: tqdm | None = attrs.field(default=None, init=False, repr=False)

    def on_train_begin(self, trainer: Training) -> None:
        from tqdm import tqdm  # here, so that `import minifw` does not pay for it

        self._bar = tqdm(
            total=trainer.epochs,
            unit="epoch",
            file=self.file,
            disable=None if self.enabled else True,
        )

    def listens_to(self, hook: str) -> bool:
        # A silent bar (no terminal) has nothing to show at an epoch's end: the compiled
        # engine may then train the epochs in blocks instead of one kernel call each.
        if hook == "on_epoch_end" and self._bar is not None and self._bar.disable:
            return False
        return super().listens_to(hook)

    def on_epoch_end(self, trainer: Training, epoch: int, logs: Logs) -> None:
        if self._bar is not None:
            self._bar.set_postfix(logs, refresh=False)
            self._bar.update()

    def on_train_end(self, trainer: Training, logs: Logs) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@attrs.define(eq=False)
class EvaluationTarget(Callback):
    """When each network first reaches ``target``: mean((predict(x) - y)²) <= target.

    ``x`` and ``y`` are the evaluation points (samples, inputs) and their targets in the
    target's own units, as ``DataSource.evaluation_arrays()`` gives them. At each epoch's
    end, until every network has reached the target, it predicts at ``x``: one forward
    pass over the evaluation points (for a stack, one for all its networks), and nothing
    per batch. On the blog's task that is a pass over 32 points; an epoch of batches of 4
    makes eight forward and backward passes and eight updates, and an L-BFGS iteration at
    least one forward and backward pass over the 32 training points.

    Recorded for each network (one, or each of a stack), counted from this ``fit``'s
    start, None until it reaches the target: ``epochs`` (from 1), ``seconds`` since
    training began *less the time these checks took*, so that it is what a run without
    them takes to get there, and ``work``: the updates made (``optimizer.iterations``),
    or, for an optimizer that sees the whole data at each step (L-BFGS), the evaluations
    of the loss (the epoch logs' ``evals``). With ``stop``, training stops once every
    network has reached it.
    """

    x: Array = attrs.field(converter=np.asarray, repr=False)
    y: Array = attrs.field(converter=np.asarray, repr=False)
    target: float = attrs.field(validator=number(low=0))
    stop: bool = False
    epochs: list[int | None] = attrs.field(factory=list, init=False)
    seconds: list[float | None] = attrs.field(factory=list, init=False)
    work: list[int | None] = attrs.field(factory=list, init=False)
    work_unit: str = attrs.field(default="updates", init=False)
    _checking: float = attrs.field(default=0.0, init=False, repr=False)
    _updates_before: int = attrs.field(default=0, init=False, repr=False)

    def on_train_begin(self, trainer: Training) -> None:
        networks = trainer.network.copies or 1
        self.epochs, self.seconds, self.work = ([None] * networks for _ in range(3))
        self._checking, self._updates_before = 0.0, trainer.optimizer.iterations
        whole = getattr(trainer.optimizer, "whole_data", False)
        self.work_unit = "evaluations" if whole else "updates"

    def on_epoch_end(self, trainer: Training, epoch: int, logs: Logs) -> None:
        if None not in self.epochs:
            return  # every network is there: no more passes
        began = time.perf_counter()
        trained = trainer.timer.elapsed() - self._checking
        with np.errstate(all="ignore"):  # a diverged network's error is nan: not reached
            errors = np.mean((trainer.network.predict(self.x) - self.y) ** 2, axis=(-2, -1))
        work = (
            int(logs["evals"])
            if "evals" in logs
            else (trainer.optimizer.iterations - self._updates_before)
        )
        for i, error in enumerate(np.atleast_1d(errors)):
            if self.epochs[i] is None and error <= self.target:
                self.epochs[i], self.seconds[i], self.work[i] = epoch + 1, trained, work
        self._checking += time.perf_counter() - began
        if self.stop and None not in self.epochs:
            trainer.stop_training = True

    def reached(self, network: int = 0) -> dict[str, Any]:
        """What one network's record says, as plain data: ``{"target", "epoch", "seconds",
        "work", "work_unit"}``, with epoch, seconds and work None if it has not reached it."""
        at = [None] * 3
        if network < len(self.epochs):
            at = [self.epochs[network], self.seconds[network], self.work[network]]
        return dict(zip(("target", "epoch", "seconds", "work", "work_unit"),
                        [self.target, *at, self.work_unit], strict=True))  # fmt: skip


def _csv_line(cells: list[Any]) -> str:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerow(cells)
    return text.getvalue()


@attrs.define(eq=False)
class CSVLogger(Callback):
    """One CSV row per epoch at ``path``: epoch, then each logs key in sorted order.

    The header is written before the first row (not again when ``append``ing to
    a file that has one; its columns are then kept). The columns are fixed by the
    first epoch: a key that turns up later is left out, a missing one is left
    empty. Every line is one ``write`` followed by a flush, so a crash leaves
    only complete lines. Epochs count from 0 at each ``fit``.
    """

    path: str | Path
    append: bool = False
    _file: TextIO | None = attrs.field(default=None, init=False, repr=False)
    _keys: list[str] | None = attrs.field(default=None, init=False, repr=False)

    def on_train_begin(self, trainer: Training) -> None:
        path = Path(self.path)
        self._keys = None
        if self.append and path.exists() and path.stat().st_size > 0:
            with path.open(newline="", encoding="utf-8") as existing:
                self._keys = next(csv.reader(existing))[1:]
        self._file = path.open("a" if self.append else "w", newline="", encoding="utf-8")

    def _write(self, cells: list[Any]) -> None:
        assert self._file is not None
        self._file.write(_csv_line(cells))
        self._file.flush()

    def on_epoch_end(self, trainer: Training, epoch: int, logs: Logs) -> None:
        if self._keys is None:
            self._keys = sorted(logs)
            self._write(["epoch", *self._keys])
        # float(): csv writes a numpy float64 through its repr, "np.float64(...)".
        self._write([epoch, *(float(logs[k]) if k in logs else "" for k in self._keys)])

    def on_train_end(self, trainer: Training, logs: Logs) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _function_or_none(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not callable(value):
        raise ConfigError(
            f"{type(instance).__name__}.{attribute.alias} must be a function or None; got {value!r}"
        )


@attrs.define(eq=False)
class LambdaCallback(Callback):
    """A callback made of plain functions: each one given is called as its hook, with its arguments.

    Keras's ``LambdaCallback``, with minifw's hook arguments::

        LambdaCallback(on_epoch_end=lambda trainer, epoch, logs: print(epoch, logs["loss"]))

    A hook left None does nothing; for ``on_batch_end`` it also costs nothing,
    because ``listens_to`` tells the trainer which functions were given.
    """

    _on_train_begin: Callable[[Training], None] | None = attrs.field(
        default=None, validator=_function_or_none
    )
    _on_epoch_begin: Callable[[Training, int], None] | None = attrs.field(
        default=None, validator=_function_or_none
    )
    _on_batch_end: Callable[[Training, int, Logs], None] | None = attrs.field(
        default=None, validator=_function_or_none
    )
    _on_epoch_end: Callable[[Training, int, Logs], None] | None = attrs.field(
        default=None, validator=_function_or_none
    )
    _on_train_end: Callable[[Training, Logs], None] | None = attrs.field(
        default=None, validator=_function_or_none
    )

    def listens_to(self, hook: str) -> bool:
        # A subclass may still override a hook method itself.
        overridden = getattr(type(self), hook) is not getattr(LambdaCallback, hook)
        return overridden or getattr(self, f"_{hook}") is not None

    def on_train_begin(self, trainer: Training) -> None:
        if self._on_train_begin is not None:
            self._on_train_begin(trainer)

    def on_epoch_begin(self, trainer: Training, epoch: int) -> None:
        if self._on_epoch_begin is not None:
            self._on_epoch_begin(trainer, epoch)

    def on_batch_end(self, trainer: Training, batch: int, logs: Logs) -> None:
        if self._on_batch_end is not None:
            self._on_batch_end(trainer, batch, logs)

    def on_epoch_end(self, trainer: Training, epoch: int, logs: Logs) -> None:
        if self._on_epoch_end is not None:
            self._on_epoch_end(trainer, epoch, logs)

    def on_train_end(self, trainer: Training, logs: Logs) -> None:
        if self._on_train_end is not None:
            self._on_train_end(trainer, logs)
