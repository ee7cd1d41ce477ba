"""Ctrl-C and SIGTERM during ``minifw train``: stop at the end of the epoch, keep everything.

The first signal asks the trainer to stop once the epoch in hand is done (the
batch in hand is never cut in half, so the weights are those of a whole
epoch); the callbacks then end as after any last epoch (a checkpoint is
written), and the command saves the model, records the run as interrupted and
exits with 130. A second signal stops at once, as Python's default does.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType

import attrs

from ..core.trainer import Trainer


@attrs.define
class Stop:
    """Which signal asked training to stop (``"SIGINT"``, ``"SIGTERM"``), or None."""

    signal: str | None = None


@contextlib.contextmanager
def stop_cleanly(trainer: Trainer) -> Iterator[Stop]:
    """While in the block, SIGINT and SIGTERM set ``trainer.stop_training``; a second one
    raises KeyboardInterrupt. Outside the main thread, signals are left as they are."""
    stop = Stop()

    def handle(number: int, frame: FrameType | None) -> None:
        if stop.signal is not None:
            raise KeyboardInterrupt
        stop.signal = signal.Signals(number).name
        trainer.stop_training = True

    previous = {}
    with contextlib.suppress(ValueError):  # signal.signal works only in the main thread
        for number in (signal.SIGINT, signal.SIGTERM):
            previous[number] = signal.signal(number, handle)
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
