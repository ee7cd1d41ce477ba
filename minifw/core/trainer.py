"""Trainer: the training loop and nothing else.

For each epoch, for each batch: network.forward -> loss.value_and_gradient ->
network.backward -> optimizer.step, then the callbacks. At each epoch's end,
the loss on the source's held-out data (if it has any) joins the logs as
``val_loss``, and each metric (if any) joins them under its name, and under
``val_`` and its name for the held-out data. Everything the loop needs is
checked and prepared once, before the first epoch, so the loop itself does
only arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any

import attrs
import numpy as np

from ..engine import support as engine_support
from .callbacks import Callback, LossHistory, TerminateOnNaN, Timer
from .data import ArraySource, DataSource
from .errors import ConfigError, DataError
from .losses import Loss
from .metrics import Metric, scores
from .network import Network
from .numerics import ignore_underflow
from .optimizers import Optimizer
from .validation import (
    as_list,
    as_matrix,
    boolean,
    check_count,
    each_instance_of,
    integer,
    is_a,
    one_of,
    random_seed,
)

Array = np.ndarray


@attrs.frozen
class FitResult:
    """What one ``fit`` produced: the loss (and val_loss) after each epoch and the time it took.

    ``val_loss`` is empty when the source has no validation data. ``history``
    holds every key the epochs logged, the metrics too: ``history["mae"]``,
    ``history["val_mae"]``.
    """

    loss: list[float]
    seconds: float
    epochs: int
    val_loss: list[float] = attrs.field(factory=list)
    history: dict[str, list[float]] = attrs.field(factory=dict)

    @property
    def final_loss(self) -> float:
        """The mean training loss of the last epoch (nan if no epoch ran)."""
        return self.loss[-1] if self.loss else float("nan")


def _metrics(value: Any) -> list[Metric]:
    """Metric names or objects as Metrics, each logged under its own key (never "loss")."""
    metrics = [Metric.resolve(spec) for spec in as_list("Trainer.metrics")(value)]
    keys = [metric.key for metric in metrics]
    taken = [key for key in keys if key == "loss" or key.startswith("val_")]
    if taken:
        raise ConfigError(
            f"Trainer.metrics: a metric named {taken[0]!r} would be logged over the loss; "
            "rename it (its class's `name`): 'loss' and names starting 'val_' are the trainer's"
        )
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise ConfigError(
            f"Trainer.metrics names {', '.join(map(repr, twice))} twice; each metric is logged "
            "under its name, so give each once"
        )
    return metrics


@attrs.define(eq=False)
class Trainer:
    """Mini-batch training: θ ← optimizer(θ, ∇θ loss(network(x_batch), y_batch)) for each batch.

    ``shuffle`` reorders the samples every epoch with a generator seeded by
    ``seed``; without it the batches come in the data's own order, as in the
    blog. A ``LossHistory`` and a ``Timer`` are always attached (yours, if you
    pass them), and ``fit`` returns what they recorded. If the source has
    validation data, each epoch's logs also hold ``val_loss``: the loss of the
    network on it, with no update. ``epochs`` is the count the current (or
    last) ``fit`` was asked for, for callbacks that show progress.

    Divergence never passes silently: unless you attach a ``TerminateOnNaN`` of
    your own (or pass ``stop_on_divergence=False``), one that checks each
    epoch's loss and weights is attached, and an epoch that ends non-finite
    raises ``TrainingDiverged`` with the diagnosis, the network back at the last
    good epoch's weights. So does a batch that numpy itself stops, as it does
    under ``np.errstate(all="raise")``, with numpy's error as the cause.

    Successive fits continue one run: the weights, the optimizer, the shuffling
    generator and the shuffled order carry on, so ``fit(s, 100)`` then
    ``fit(s, 200)`` trains exactly as ``fit(s, 300)`` does. Each ``FitResult`` (and
    ``history``) holds its own fit's epochs; ``run_history`` holds every epoch's
    logs since the run began, and ``epochs_done`` counts them. Each epoch's logs are
    kept there only: the ``LossHistory`` reads its fit's part of them. A checkpoint
    (``save_checkpoint``) keeps all of this, and ``minifw.load_checkpoint`` rebuilds the
    run as it was: its ``run_history`` is the checkpoint's, its next fit's
    result holds the new epochs only, and the two end to end are the loss history
    of the run that was never interrupted.

    ``metrics`` (``["mae", "r2"]``, or ``Metric`` objects) are computed at each
    epoch's end in the target's own units (see ``minifw.core.metrics``): on the
    whole training set with the epoch's final weights, one forward pass more per
    epoch (the loss, by contrast, is the mean over the epoch's batches as the
    weights moved), and on the validation data if there is any (``val_mae``).
    Nothing is added to the per-batch loop, whichever engine runs it.
    ``evaluate(x, y)`` gives the loss and every metric on any data.

    ``engine`` chooses who runs the epochs. "numpy" is the loop below, the reference.
    "compiled" runs the same arithmetic as compiled kernels (``minifw.engine``, with
    numba), for networks of built-in parts: Dense layers, the built-in activations,
    losses and optimizers, any schedule; it refuses, naming it, a part it has no kernel
    for. "auto", the default, is "compiled" when it can and numpy otherwise, with one
    ``EngineFallback`` warning saying why (once a process for each reason). Both give the
    same numbers (to rounding, 1e-12 relative in float64), call every callback alike and
    leave the same state behind; the compiled engine ignores ``np.errstate`` (auto leaves a
    raising one to numpy). ``trained_on`` says which engine ran the epochs; a checkpoint
    keeps it, and a run that continues on the other one says so (``EngineSwitch``).
    """

    network: Network
    loss: Loss = attrs.field(converter=lambda spec: Loss.resolve(spec))
    optimizer: Optimizer = attrs.field(converter=lambda spec: Optimizer.resolve(spec))
    batch_size: int = attrs.field(default=32, validator=integer(low=1), kw_only=True)
    shuffle: bool = attrs.field(default=True, kw_only=True, validator=boolean)
    seed: int | np.random.SeedSequence | None = attrs.field(
        default=0, kw_only=True, validator=random_seed
    )
    callbacks: list[Callback] = attrs.field(
        factory=list,
        converter=as_list("Trainer.callbacks"),
        validator=each_instance_of(Callback),
        kw_only=True,
    )
    stop_on_divergence: bool = attrs.field(default=True, kw_only=True, validator=boolean)
    metrics: list[Metric] = attrs.field(factory=list, converter=_metrics, kw_only=True)
    engine: str = attrs.field(
        default="auto", kw_only=True, validator=one_of(*engine_support.ENGINES)
    )
    # The engine that ran the run's epochs so far, "compiled" or "numpy" (None before any):
    # what "auto" chose, which the checkpoint and the ledger record.
    trained_on: str | None = attrs.field(default=None, init=False)
    # Seconds the last fit spent compiling the engine's kernels before training (the first
    # compiled fit after installing; numba caches them on disk), or None if it compiled none.
    compile_seconds: float | None = attrs.field(default=None, init=False)
    stop_training: bool = attrs.field(default=False, init=False)
    epochs: int = attrs.field(default=0, init=False)
    source: DataSource | None = attrs.field(default=None, init=False)
    run_history: dict[str, list[float]] = attrs.field(factory=dict, init=False, repr=False)
    _rng: np.random.Generator = attrs.field(init=False, repr=False)
    # The run's shuffled order, kept across fits: epoch k trains on data[order_k], with
    # order_k = order_(k-1)[permutation_k]. None until a shuffled fit starts.
    _order: Array | None = attrs.field(default=None, init=False, repr=False)
    # The current fit's training data, x and y in the target's units: what the metrics are
    # measured on at each epoch's end (by whichever engine runs the epochs).
    _measured_on: tuple[Array, Array] | None = attrs.field(default=None, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        if not any(isinstance(c, LossHistory) for c in self.callbacks):
            self.callbacks.insert(0, LossHistory())
        if not any(isinstance(c, Timer) for c in self.callbacks):
            self.callbacks.insert(0, Timer())
        guarded = any(isinstance(c, TerminateOnNaN) for c in self.callbacks)
        # A stack's networks diverge one by one, each its own business (a sweep's rows say so).
        if self.stop_on_divergence and not guarded and self.network.copies is None:
            # Right after the loss history (the caller's, wherever it stands): a diverged epoch
            # is recorded, and no callback after it (a Checkpoint) sees non-finite weights.
            position = self.callbacks.index(self.history) + 1
            self.callbacks.insert(position, TerminateOnNaN(raise_error=True, check="epoch"))
        engine_support.check_engine(self)

    @property
    def history(self) -> LossHistory:
        """The attached loss history."""
        return next(c for c in self.callbacks if isinstance(c, LossHistory))

    @property
    def timer(self) -> Timer:
        """The attached timer."""
        return next(c for c in self.callbacks if isinstance(c, Timer))

    @property
    def epochs_done(self) -> int:
        """Epochs completed in this run, over every fit (and before the checkpoint resumed)."""
        return len(self.run_history.get("loss", []))

    def export_state(self, *, history: bool = True) -> dict[str, Any]:
        """What the trainer itself changes as it trains, as plain data, copied.

        ``{"rng": the shuffling generator's bit_generator.state, "order": the run's
        shuffled order (an int array) or None, "history": run_history, "engine":
        trained_on}``. The
        network and the optimizer keep their own state. ``history=False`` leaves
        the history out ({}), for a caller that keeps it by other means: copying it
        costs as much as the run is long.
        """
        return {
            "rng": self._rng.bit_generator.state,
            "order": None if self._order is None else self._order.copy(),
            "history": (
                {key: list(values) for key, values in self.run_history.items()} if history else {}
            ),
            "engine": self.trained_on,
        }

    def import_state(self, state: Mapping[str, Any]) -> None:
        """Continue from ``state``, ``export_state``'s form: generator, order and run history.

        Everything is checked first: on a ConfigError nothing has changed.
        """
        rng = np.random.default_rng()
        try:
            rng.bit_generator.state = state["rng"]
        except (KeyError, TypeError, ValueError, OverflowError) as error:
            raise ConfigError(
                f"trainer state 'rng' is not a PCG64 generator state: {error}"
            ) from None
        order = state.get("order")
        if order is not None:
            order = np.asarray(order)
            if (
                order.ndim != 1
                or order.dtype.kind not in "iu"
                or not np.array_equal(np.sort(order), np.arange(order.size))
            ):
                raise ConfigError("trainer state 'order' must be a permutation of 0, 1, ..., n - 1")
        history = state.get("history")
        if not isinstance(history, Mapping) or not all(
            isinstance(v, list | tuple) and all(isinstance(x, Real) for x in v)
            for v in history.values()
        ):
            raise ConfigError("trainer state 'history' must map log keys to lists of numbers")
        engine = state.get("engine")  # absent in states exported before engines were recorded
        if engine not in (None, "numpy", "compiled"):
            raise ConfigError(f"trainer state 'engine' must be numpy or compiled; got {engine!r}")
        self.trained_on = engine
        self._rng = rng
        self._order = None if order is None else order.astype(np.intp)
        self.run_history = {str(key): [float(x) for x in v] for key, v in history.items()}

    def _checked(self, x: Array, y: Array, suffix: str = "") -> tuple[Array, Array, Array]:
        """(x, y as the network is trained on it, y as given), checked against the network:
        the second normalised and in the network's dtype, the third in the target's units."""
        net, x_name, y_name = self.network, f"x{suffix}", f"y{suffix}"
        x = as_matrix(x_name, x, columns=net.n_inputs, what="inputs", dtype=net.dtype)
        y = as_matrix(y_name, y, columns=net.n_outputs, what="outputs")
        if x.shape[0] != y.shape[0]:
            raise DataError(
                f"{x_name} has {x.shape[0]} samples but {y_name} has {y.shape[0]}; they must match"
            )
        trained = y if net.normaliser is None else net.normaliser.forward(y)
        return x, trained.astype(net.dtype, copy=False), y

    def _scores(self, out: Array, y: Array, prefix: str = "") -> dict[str, Any]:
        """Each metric of the network's raw output ``out`` against ``y``, in the target's units,
        keyed ``prefix`` + its name."""
        normaliser = self.network.normaliser
        pred = out if normaliser is None else normaliser.inverse(out)
        return scores(self.metrics, pred, y, prefix)

    @ignore_underflow  # as in training: a tiny product rounding to 0 is no error
    def evaluate(self, x: Any, y: Any) -> dict[str, Any]:
        """{"loss": the loss on (x, y), then each metric by name}, with no update.

        The loss is measured as training measures it, on the normalised targets
        (``evaluate`` on the training data after ``fit`` is the last epoch's loss
        with the final weights); the metrics in the target's own units, on what
        ``network.predict(x)`` returns. A stack of networks gets one value each.
        """
        x, trained, given = self._checked(x, y)
        out = self.network.forward(x)
        value = self.loss.value(out, trained)
        return {"loss": float(value) if np.ndim(value) == 0 else value, **self._scores(out, given)}

    def _data(self, x: Any, y: Any, epochs: Any, validation_data: Any) -> tuple[DataSource, int]:
        """The source and epoch count a call of ``fit`` names, checked (see ``fit``)."""
        if isinstance(x, DataSource):
            if isinstance(y, np.ndarray | list | tuple) or (y is not None and epochs is not None):
                raise ConfigError(
                    "Trainer.fit(source, epochs): a DataSource holds its own targets, so fit "
                    f"takes no y with it; got {y!r:.80} (a {type(y).__name__}) after the source"
                )
            if validation_data is not None:
                raise ConfigError(
                    "Trainer.fit: validation_data goes with arrays; a DataSource gives its own "
                    "(ArraySource(x, y, validation_data=(x_val, y_val)), or validation=0.2)"
                )
            return x, check_count("epochs", y if epochs is None else epochs)
        if y is None or is_a(y, Integral):  # fit(data, 100) with data that is no DataSource
            given = (
                f"an array of shape {x.shape}"
                if isinstance(x, np.ndarray)
                else f"{x!r:.80} (a {type(x).__name__})"
            )
            raise ConfigError(
                "Trainer.fit takes a DataSource, fit(source, epochs), or arrays x and y, "
                f"fit(x, y, epochs=N); got {given}"
                + (" and no targets y" if y is None else f" and {y!r}")
            )
        if epochs is None:
            raise ConfigError("Trainer.fit(x, y, epochs=N) needs epochs, a whole number >= 0")
        epochs = check_count("epochs", epochs)  # before the arrays are checked, as for a source
        return ArraySource(x, y, validation_data=validation_data), epochs

    # Underflow is never an error in training: a running average decaying to 1e-320 for
    # a dead unit's weights is 0, not a fault, and under errstate(all="raise"), set to catch
    # NaN early, it would stop RMSProp and Adam runs after a few thousand steps. NaN and
    # overflow still raise.
    @ignore_underflow
    def fit(
        self,
        x: DataSource | Any,
        y: Any = None,
        epochs: int | None = None,
        *,
        validation_data: tuple[Any, Any] | None = None,
    ) -> FitResult:
        """Train for ``epochs`` passes over the data; return the loss history and time.

        The data is a ``DataSource``, ``fit(source, 100)``, whose validation data
        (if any) gives ``val_loss``; or arrays, as in Keras, ``fit(x, y,
        epochs=100, validation_data=(x_val, y_val))``, which trains on
        ``ArraySource(x, y, validation_data=(x_val, y_val))``. Numbers that
        underflow round quietly to 0 during training, even under
        ``np.errstate(all="raise")``; overflow and NaN raise as that asks.
        """
        source, epochs = self._data(x, y, epochs, validation_data)
        x_data, y_data, y_given = self._checked(*source.arrays())  # only read: may be the caller's
        # Shuffling rewrites x and y in place, so it needs copies of its own; without it the
        # batches only read the data, and a copy would be a second data set's worth of memory.
        x, y = (np.array(x_data), np.array(y_data)) if self.shuffle else (x_data, y_data)
        held_out = source.validation_arrays()
        # Checked here, with the training data, so that bad validation data changes nothing.
        validation = None if held_out is None else self._checked(*held_out, suffix="_val")
        if getattr(self.optimizer, "whole_data", False):  # L-BFGS: no batches, no step()
            self.trained_on = "numpy"  # SciPy's loop, whatever the engine
            return self._fit_whole_data(source, x, y, validation, epochs, (x_data, y_given))
        compiled = engine_support.compiled(self)  # before any state changes: it may refuse
        engine = "compiled" if compiled else "numpy"
        engine_support.switched(self, engine)  # says so if a resumed run changes engine
        self.trained_on = engine
        n = x.shape[0]
        starts = range(0, n, self.batch_size)
        # Views into x and y, made once: shuffling permutes x and y in place beneath them.
        batches = [(x[i : i + self.batch_size], y[i : i + self.batch_size]) for i in starts]
        sizes = [len(xb) for xb, _ in batches]

        forward, backward = self.network.forward, self.network.backward
        value_and_gradient = self.loss.value_and_gradient
        step, parameters = self.optimizer.step, [self.network.packed]
        epoch_begin = [c for c in self.callbacks if c.listens_to("on_epoch_begin")]
        batch_end = [c for c in self.callbacks if c.listens_to("on_batch_end")]
        shuffle, rng, order = self.shuffle, self._rng, self._order
        if shuffle and (order is None or order.size != n):  # a new run, or new data: start over
            order = self._order = np.arange(n)

        self.compile_seconds = None
        if compiled:  # the same epochs, in kernels: minifw.engine.loop
            from ..engine import loop

            # Compiling is not training: done (or loaded from numba's cache) before the clock.
            self.compile_seconds = loop.ready(self.network.dtype, self.network.copies is not None)
        self.source, self.stop_training, self.epochs = source, False, epochs
        self._measured_on = (x_data, y_given)
        for callback in self.callbacks:
            callback.on_train_begin(self)
        logs: dict[str, float] = {}
        if compiled:
            logs = loop.train(self, x_data, y_data, validation, epochs)
        for epoch in range(0 if compiled else epochs):  # the numpy engine: the reference
            if shuffle:
                # The permutations compose: the same batches as permuting x in place each
                # epoch, but kept as one index array, which a checkpoint can save.
                order[...] = order[rng.permutation(n)]
                x[...] = x_data[order]
                y[...] = y_data[order]
            for callback in epoch_begin:
                callback.on_epoch_begin(self, epoch)
            total, seen = 0.0, 0  # an epoch's loss is the mean over the samples it saw
            for b, (xb, yb) in enumerate(batches):
                try:  # free in Python 3.11+ unless it catches
                    value, grad = value_and_gradient(forward(xb), yb)
                    backward(grad)
                    step(parameters)
                except FloatingPointError as error:  # the caller's np.errstate asked for it
                    for guard in self.callbacks:
                        if isinstance(guard, TerminateOnNaN):
                            guard.numpy_raised(self, b, error)  # raises TrainingDiverged
                    raise  # no guard: stop_on_divergence=False
                total += value * sizes[b]
                seen += sizes[b]
                if batch_end:
                    for callback in batch_end:
                        callback.on_batch_end(self, b, {"loss": value})
                    if self.stop_training:
                        break
            logs = self.end_epoch(epoch, total / seen, validation)
            if self.stop_training:
                break
        for callback in self.callbacks:
            callback.on_train_end(self, logs)
        return self._result()

    def _result(self) -> FitResult:
        history = self.history.history  # this fit's part of run_history, copied once
        loss = history.get("loss", [])
        return FitResult(
            loss=loss,
            seconds=self.timer.seconds,
            epochs=len(loss),
            val_loss=history.get("val_loss", []),
            history=history,
        )

    @property
    def rng(self) -> np.random.Generator:
        """The generator that shuffles, seeded by ``seed`` (a checkpoint keeps its state)."""
        return self._rng

    @property
    def order(self) -> Array | None:
        """The run's shuffled order, changed in place as epochs draw their permutations: epoch
        k trains on data[order_k], order_k = order_(k-1)[permutation_k]. None until a
        shuffled fit starts."""
        return self._order

    def end_epoch(
        self,
        epoch: int,
        loss: float,
        validation: tuple[Array, Array, Array] | None,
        extra: dict[str, float] | None = None,
    ) -> dict[str, float]:
        """An epoch's logs (its mean loss, ``extra``, the metrics, val_loss and the validation
        metrics), recorded and passed to the callbacks: how every engine ends an epoch."""
        logs = {"loss": loss, **(extra or {})}
        forward, measured = self.network.forward, self.metrics and self._measured_on
        if measured:  # the whole training set with the epoch's final weights
            logs.update(self._scores(forward(measured[0]), measured[1]))
        if validation is not None:
            out = forward(validation[0])
            value = self.loss.value(out, validation[1])
            logs["val_loss"] = float(value) if np.ndim(value) == 0 else value  # a stack's: N
            if measured:
                logs.update(self._scores(out, validation[2], "val_"))
        history = self.run_history
        # The one record of the epoch (LossHistory reads it), made before the callbacks run:
        # a checkpoint written by one of them includes it.
        for key, value in logs.items():
            history.setdefault(key, []).append(value)
        for callback in self.callbacks:
            callback.on_epoch_end(self, epoch, logs)
        return logs

    def _fit_whole_data(
        self,
        source: DataSource,
        x: Array,
        y: Array,
        validation: tuple[Array, Array, Array] | None,
        epochs: int,
        measured_on: tuple[Array, Array],
    ) -> FitResult:
        """Train with an optimizer that sees the whole data at every update (``LBFGS``): one
        of its iterations is one epoch for the callbacks, whose logs hold the loss over the
        whole data after it and ``evals``, the loss evaluations so far."""
        if self.network.copies is not None:
            raise ConfigError(
                f"{type(self.optimizer).__name__} trains one network at a time, not a stack"
            )
        packed, shape = self.network.packed, self.network.packed.value.shape
        forward, backward = self.network.forward, self.network.backward
        value_and_gradient = self.loss.value_and_gradient

        def objective(theta: Array) -> tuple[float, Array]:
            packed.value[...] = theta.reshape(shape)
            value, grad = value_and_gradient(forward(x), y)
            backward(grad)
            return float(value), packed.grad.ravel().astype(np.float64)

        logs: dict[str, float] = {}
        accepted, iteration = packed.value.copy(), 0

        def after_iteration(theta: Array, loss: float, evals: int) -> bool:
            nonlocal logs, iteration
            packed.value[...] = accepted[...] = theta.reshape(shape)  # not a line-search trial
            logs = self.end_epoch(iteration, loss, validation, {"evals": float(evals)})
            iteration += 1
            return self.stop_training

        self.source, self.stop_training, self.epochs = source, False, epochs
        self._measured_on = measured_on
        for callback in self.callbacks:
            callback.on_train_begin(self)
        start = accepted.ravel().astype(np.float64)
        self.optimizer.minimize(objective, start, epochs, after_iteration)  # type: ignore[attr-defined]
        packed.value[...] = accepted  # the last accepted point, not the last point evaluated
        for callback in self.callbacks:
            callback.on_train_end(self, logs)
        return self._result()
