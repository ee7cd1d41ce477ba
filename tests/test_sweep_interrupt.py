"""A sweep whose worker process dies: the finished runs stay on disk, and resuming finishes it.

A monkeypatch does not reach a worker process, so the death comes with the runs: a plugin
target that, sampled in any process but the one that planned the sweep, waits until the
healthy runs are in the ledger and then ends its process with ``os._exit``, as a crash or an
out-of-memory kill would. In the planning process it is plain sin(x), so the same sweep
run here (or resumed with threads) is healthy.
"""

import multiprocessing
import os
import textwrap
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
from test_sweep import table

import minifw.lab.sweeps as sweeping
from minifw import Ledger, RunConfig, SweepInterrupted
from minifw.core.registry import load_plugin
from minifw.lab.sweeps import plan, sweep

PLUGIN = '''
"""A target that kills the worker process sampling it, once {healthy} runs are in the ledger."""

import os
import time
from pathlib import Path
from typing import ClassVar

import attrs
import numpy as np

from minifw import Target

PLANNER = {planner}
LEDGER = Path({ledger!r})


@attrs.frozen
class DiesInAWorker(Target):
    """y = sin(x) on [0, 6.28]; in a worker process, the end of that process."""

    name: ClassVar[str] = "dies_in_a_worker"
    domain: ClassVar[tuple[float, float]] = (0.0, 6.28)
    value_range: ClassVar[tuple[float, float] | None] = (-1.0, 1.0)

    def __call__(self, x):
        if os.getpid() != PLANNER:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and _recorded() < {healthy}:
                time.sleep(0.02)
            os._exit(70)
        return np.sin(x)


def _recorded():
    return len(LEDGER.read_text().splitlines()) if LEDGER.exists() else 0
'''

GRID = {"target": ["sin", "dies_in_a_worker"], "lr": [0.3, 0.9]}
SEEDS = 2
HEALTHY = 4  # the sin runs: 2 rates x 2 seeds, in two groups of two


@pytest.fixture
def base(tmp_path):
    plugin = tmp_path / "dies_in_a_worker.py"
    ledger = tmp_path / "sweep" / "ledger.jsonl"
    plugin.write_text(
        textwrap.dedent(PLUGIN).format(planner=os.getpid(), ledger=str(ledger), healthy=HEALTHY)
    )
    load_plugin(plugin)  # the planner builds every run once, so it needs the target too
    return RunConfig(epochs=30, plugins=(str(plugin),))


def test_a_dead_worker_breaks_the_sweep_and_resuming_runs_only_the_missing_runs(
    base, tmp_path, monkeypatch
):
    out = tmp_path / "sweep"
    spawn = multiprocessing.get_context("spawn")  # workers load the plugin themselves
    with (
        ProcessPoolExecutor(2, mp_context=spawn) as pool,
        pytest.raises(SweepInterrupted) as stopped,
    ):
        sweep(base, GRID, seeds=SEEDS, executor=pool, chunk=2, out=out)
    message = str(stopped.value)
    assert f"the sweep stopped with {HEALTHY} of " in message
    assert "BrokenProcessPool: A process in the process pool was terminated abruptly" in message
    assert (
        f"they are recorded in {out / 'ledger.jsonl'}; resume=True (--resume) runs the rest"
        in message
    )

    runs = plan(base, GRID, SEEDS)
    healthy = {r.key for r in runs if r.config.target == "sin"}
    records = Ledger(out).records()
    assert len(healthy) == HEALTHY
    assert sorted(r.sweep["key"] for r in records) == sorted(healthy)
    assert all(len(r.loss_history) == 30 and r.sweep["reason"] is None for r in records)

    real, ran = sweeping.run_group, []

    def counted(payload, target_loss=None):
        ran.extend(run["key"] for run in payload)
        return real(payload, target_loss)

    monkeypatch.setattr(sweeping, "run_group", counted)
    with ThreadPoolExecutor(2) as threads:  # in this process, where the target is healthy
        resumed = sweep(base, GRID, seeds=SEEDS, executor=threads, chunk=2, out=out, resume=True)
    assert sorted(ran) == sorted({r.key for r in runs} - healthy)
    assert len(Ledger(out).records()) == len(runs)

    monkeypatch.setattr(sweeping, "run_group", real)
    whole = sweep(base, GRID, seeds=SEEDS)
    assert table(resumed) == table(whole) and all(row.ok for row in whole)
