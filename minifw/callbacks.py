"""Callbacks: code that runs at fixed points of training, without touching the loop.

The trainer calls each hook with what it needs as arguments; ``logs`` holds
plain floats (``{"loss": 0.012}``). A callback stops training by setting
``trainer.stop_training = True``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from .trainer import Trainer

Logs = dict[str, float]


class Callback:
    """Base of every callback: each hook does nothing until a subclass overrides it.

    The trainer only calls ``on_batch_end`` for callbacks that override it, so
    the per-batch loop stays free when nobody listens.

    How to subclass (print the loss every 100 epochs)::

        class PrintEvery100(Callback):
            def on_epoch_end(self, trainer, epoch, logs):
                if epoch % 100 == 0:
                    print(epoch, logs["loss"])
    """

    def on_train_begin(self, trainer: Trainer) -> None:
        """Before the first epoch."""

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        """Before each epoch; ``epoch`` counts from 0."""

    def on_batch_end(self, trainer: Trainer, batch: int, logs: Logs) -> None:
        """After each batch's update; ``logs["loss"]`` is that batch's loss."""

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: Logs) -> None:
        """After each epoch; ``logs["loss"]`` is the epoch's mean training loss."""

    def on_train_end(self, trainer: Trainer, logs: Logs) -> None:
        """After the last epoch (or after a stop); ``logs`` are the last epoch's."""


@attrs.define(eq=False)
class LossHistory(Callback):
    """history[key][epoch] = logs[key] at the end of each epoch, for every key logged.

    Starts afresh at each ``fit``, as Keras's History does.
    """

    history: dict[str, list[float]] = attrs.field(factory=dict)

    @property
    def loss(self) -> list[float]:
        """The per-epoch training loss."""
        return self.history.get("loss", [])

    def on_train_begin(self, trainer: Trainer) -> None:
        self.history = {}

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: Logs) -> None:
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)


@attrs.define(eq=False)
class Timer(Callback):
    """seconds = wall-clock time from the start of training to its end (perf_counter)."""

    seconds: float = 0.0
    _start: float = attrs.field(default=0.0, init=False, repr=False)

    def on_train_begin(self, trainer: Trainer) -> None:
        self._start = time.perf_counter()

    def on_train_end(self, trainer: Trainer, logs: Logs) -> None:
        self.seconds = time.perf_counter() - self._start


@attrs.define(eq=False)
class Plotter(Callback):
    """Draws the blog's three graphs into one image at ``path`` when training ends.

    Loss history, the hidden layer on the evaluation inputs, and the target
    against the learned function. Works without a display; matplotlib is only
    imported when drawing.
    """

    path: str | Path = "minifw-blog.png"
    title: str | None = None

    def on_train_end(self, trainer: Trainer, logs: Logs) -> None:
        from .plotting import blog_figure, save_figure

        figure = blog_figure(
            trainer.network, trainer.source, trainer.history.loss, title=self.title
        )
        save_figure(figure, self.path)
