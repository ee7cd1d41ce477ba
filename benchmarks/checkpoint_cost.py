"""What one checkpoint costs as a run's history grows: ``python benchmarks/checkpoint_cost.py``.

A run of the blog's network whose history already holds N epochs (N = 1,000 and
1,000,000) trains on; a ``Checkpoint(path, every=1)`` callback writes after each epoch,
as ``minifw train --checkpoint`` does every ``--checkpoint-every`` epochs. The time of
each write is measured over ``--writes`` epochs, and the median is printed per N, with
the ratio of the two: a cost bounded per checkpoint gives a ratio near 1, a cost that
grows with the history a ratio near 1000. For comparison, the same is measured for
``minifw.save_checkpoint`` itself, which writes a whole, self-contained file each time.

Each is measured twice: as it is, and with ``os.fsync`` made a no-op. fsync's latency
depends on the disk and on what else the machine writes (here it varied from 0.5 to 6 ms
between runs), and can hide or swamp the work that grows with the history.

    python benchmarks/checkpoint_cost.py [--writes 20]

Run it on older minifw code (``PYTHONPATH=<its checkout>``) for the figures before a change.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import numpy as np

import minifw


def trainer_with_history(epochs: int) -> tuple[minifw.Trainer, minifw.DataSource]:
    """The blog's run, its history made to hold ``epochs`` epochs already."""
    run = minifw.presets.blog()
    run.fit(1)
    state = run.trainer.export_state()
    losses = np.random.default_rng(0).random(epochs).tolist()
    run.trainer.import_state({**state, "history": {"loss": losses}})
    return run.trainer, run.source


def per_write(epochs: int, writes: int, write: Callable[[minifw.Trainer, Path], None]) -> float:
    """The median seconds of one write, each after one more epoch of training."""
    trainer, source = trainer_with_history(epochs)
    seconds: list[float] = []

    def timed(trainer: minifw.Trainer, epoch: int, logs: dict[str, float]) -> None:
        began = time.perf_counter()
        write(trainer, path)
        seconds.append(time.perf_counter() - began)

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "run.npz"
        trainer.callbacks.append(minifw.LambdaCallback(on_epoch_end=timed))
        trainer.fit(source, writes)
        minifw.load_checkpoint(path)  # what was written reads back
    return statistics.median(seconds)


@contextlib.contextmanager
def fsync(real: bool) -> Iterator[None]:
    """os.fsync as it is, or a no-op."""
    if real:
        yield
        return
    with mock.patch.object(os, "fsync", lambda fd: None):
        yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=20, help="checkpoints timed per size")
    args = parser.parse_args()
    callback: dict[Path, minifw.Checkpoint] = {}

    def through_callback(trainer: minifw.Trainer, path: Path) -> None:
        checkpoint = callback.setdefault(path, minifw.Checkpoint(path, every=1))
        checkpoint.on_epoch_end(trainer, 0, {})

    kinds = {"Checkpoint callback": through_callback, "save_checkpoint": minifw.save_checkpoint}
    print(f"minifw from {Path(minifw.__file__).parent}")
    for kind, write in kinds.items():
        for real in (True, False):
            with fsync(real):
                small, large = (per_write(n, args.writes, write) for n in (1_000, 1_000_000))
            label = f"{kind}{'' if real else ', no fsync'}"
            print(
                f"{label:<30} 1,000 epochs: {small * 1e3:7.2f} ms   1,000,000 epochs: "
                f"{large * 1e3:7.2f} ms   ratio {large / small:6.1f}"
            )


if __name__ == "__main__":
    main()
