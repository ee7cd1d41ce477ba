"""Trainer: the training loop and nothing else.

For each epoch, for each batch: network.forward -> loss.value_and_gradient ->
network.backward -> optimizer.step, then the callbacks. At each epoch's end,
the loss on the source's held-out data (if it has any) joins the logs as
``val_loss``. Everything the loop needs is checked and prepared once, before
the first epoch, so the loop itself does only arithmetic.
"""

from __future__ import annotations

import attrs
import numpy as np

from .callbacks import Callback, LossHistory, Timer
from .data import DataSource
from .errors import DataError
from .losses import Loss
from .network import Network
from .optimizers import Optimizer
from .validation import as_matrix, check_count, integer

Array = np.ndarray


@attrs.frozen
class FitResult:
    """What one ``fit`` produced: the loss (and val_loss) after each epoch and the time it took.

    ``val_loss`` is empty when the source has no validation data.
    """

    loss: list[float]
    seconds: float
    epochs: int
    val_loss: list[float] = attrs.field(factory=list)

    @property
    def final_loss(self) -> float:
        """The mean training loss of the last epoch (nan if no epoch ran)."""
        return self.loss[-1] if self.loss else float("nan")


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
    """

    network: Network
    loss: Loss = attrs.field(converter=lambda spec: Loss.resolve(spec))
    optimizer: Optimizer = attrs.field(converter=lambda spec: Optimizer.resolve(spec))
    batch_size: int = attrs.field(default=32, validator=integer(low=1), kw_only=True)
    shuffle: bool = attrs.field(default=True, kw_only=True)
    seed: int | np.random.SeedSequence | None = attrs.field(default=0, kw_only=True)
    callbacks: list[Callback] = attrs.field(factory=list, converter=list, kw_only=True)
    stop_training: bool = attrs.field(default=False, init=False)
    epochs: int = attrs.field(default=0, init=False)
    source: DataSource | None = attrs.field(default=None, init=False)
    _rng: np.random.Generator = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        if not any(isinstance(c, LossHistory) for c in self.callbacks):
            self.callbacks.insert(0, LossHistory())
        if not any(isinstance(c, Timer) for c in self.callbacks):
            self.callbacks.insert(0, Timer())

    @property
    def history(self) -> LossHistory:
        """The attached loss history."""
        return next(c for c in self.callbacks if isinstance(c, LossHistory))

    @property
    def timer(self) -> Timer:
        """The attached timer."""
        return next(c for c in self.callbacks if isinstance(c, Timer))

    def _checked(self, x: Array, y: Array, suffix: str = "") -> tuple[Array, Array]:
        """(x, y) checked against the network, y normalised as the network is trained on it."""
        net, x_name, y_name = self.network, f"x{suffix}", f"y{suffix}"
        x = as_matrix(x_name, x, columns=net.n_inputs, what="inputs")
        y = as_matrix(y_name, y, columns=net.n_outputs, what="outputs")
        if x.shape[0] != y.shape[0]:
            raise DataError(
                f"{x_name} has {x.shape[0]} samples but {y_name} has {y.shape[0]}; they must match"
            )
        if net.normaliser is not None:
            y = net.normaliser.forward(y)
        return x, y

    def fit(self, source: DataSource, epochs: int) -> FitResult:
        """Train for ``epochs`` passes over ``source``; return the loss history and time."""
        epochs = check_count("epochs", epochs)
        # Own copies: shuffling rewrites them in place, and the caller's arrays stay as they were.
        x, y = (np.array(a) for a in self._checked(*source.arrays()))
        held_out = source.validation_arrays()
        # Checked here, with the training data, so that bad validation data changes nothing.
        validation = None if held_out is None else self._checked(*held_out, suffix="_val")
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
        shuffle, rng = self.shuffle, self._rng

        self.source, self.stop_training, self.epochs = source, False, epochs
        for callback in self.callbacks:
            callback.on_train_begin(self)
        logs: dict[str, float] = {}
        for epoch in range(epochs):
            if shuffle:
                order = rng.permutation(n)
                x[...] = x[order]
                y[...] = y[order]
            for callback in epoch_begin:
                callback.on_epoch_begin(self, epoch)
            total, seen = 0.0, 0  # an epoch's loss is the mean over the samples it saw
            for b, (xb, yb) in enumerate(batches):
                value, grad = value_and_gradient(forward(xb), yb)
                backward(grad)
                step(parameters)
                total += value * sizes[b]
                seen += sizes[b]
                if batch_end:
                    for callback in batch_end:
                        callback.on_batch_end(self, b, {"loss": value})
                    if self.stop_training:
                        break
            logs = {"loss": total / seen}
            if validation is not None:
                logs["val_loss"] = float(self.loss.value(forward(validation[0]), validation[1]))
            for callback in self.callbacks:
                callback.on_epoch_end(self, epoch, logs)
            if self.stop_training:
                break
        for callback in self.callbacks:
            callback.on_train_end(self, logs)
        history = self.history
        return FitResult(
            loss=list(history.loss),
            seconds=self.timer.seconds,
            epochs=len(history.loss),
            val_loss=list(history.val_loss),
        )
