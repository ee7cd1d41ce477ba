"""A sweep whose worker process dies: the finished runs stay on disk, and resuming finishes it.

A monkeypatch does not reach a worker process, so the death comes with the runs: a plugin
target that, sampled in any process but the one that planned the sweep, waits until the
healthy runs are in the ledger and then ends its process with ``os._exit``, as a crash or an
out-of-memory kill would. In the planning process it is plain sin(x), so the same sweep
run here (or resumed with threads) is healthy.
"""

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

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


def test_a_dead_worker_does_not_stop_the_other_groups_they_finish_on_a_fresh_pool(
    tmp_path, monkeypatch
):
    # errors.md: "the other groups run to the end first". Here the worker dies at once, the
    # healthy groups still waiting in the pool it breaks: they are run again on a new one.
    plugin = tmp_path / "dies_at_once.py"
    ledger = tmp_path / "sweep" / "ledger.jsonl"
    text = textwrap.dedent(PLUGIN).format(planner=os.getpid(), ledger=str(ledger), healthy=0)
    plugin.write_text(text.replace("dies_in_a_worker", "dies_at_once"))
    load_plugin(plugin)
    base = RunConfig(epochs=30, plugins=(str(plugin),))
    grid = {"target": ["dies_at_once", "sin"], "lr": [0.3, 0.9]}  # the deaths come first
    made = []

    def counted(like, workers=None):
        made.append(workers)
        return real_fresh_pool(like, workers)

    real_fresh_pool = sweeping.workers.fresh_pool
    monkeypatch.setattr(sweeping.workers, "fresh_pool", counted)
    fork = multiprocessing.get_context("fork")  # quick to start, and the plugin comes along
    with (
        ProcessPoolExecutor(2, mp_context=fork) as pool,
        pytest.raises(SweepInterrupted) as stopped,
    ):
        sweep(base, grid, seeds=SEEDS, executor=pool, chunk=2, out=tmp_path / "sweep")
    runs = plan(base, grid, SEEDS)
    healthy = sorted(r.key for r in runs if r.config.target == "sin")
    assert sorted(r.sweep["key"] for r in Ledger(tmp_path / "sweep").records()) == healthy
    message = str(stopped.value)
    assert f"the sweep stopped with {len(healthy)} of {len(runs)} runs finished" in message
    assert "2 of 4 groups of runs did not finish (BrokenProcessPool" in message
    # A fresh pool of two for every lost group; then the groups lost again, one by one on a
    # pool of one, a new one after each death (each dying group's, and any healthy group the
    # second death took with it).
    assert made[0] is None and set(made[1:]) == {1} and 2 <= len(made[1:]) <= 4


SWEEP_SCRIPT = textwrap.dedent(
    """
    import sys
    from concurrent.futures import ProcessPoolExecutor
    from minifw import RunConfig
    from minifw.lab.sweeps import sweep

    try:
        with ProcessPoolExecutor(2) as pool:  # a quick group, and one that trains for minutes
            sweep(RunConfig(), {"epochs": [5, 10**6]}, executor=pool, out=sys.argv[1])
    except KeyboardInterrupt as stop:
        print("interrupted:", stop, flush=True)
        sys.exit(130)
    """
)


def children(pid):
    """The pids of the processes whose parent is ``pid`` (Linux: read from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()  # noqa: SIM115
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def alive(pids):
    return [pid for pid in pids if os.path.exists(f"/proc/{pid}") and "Z" not in _state(pid)]


def _state(pid):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def wait_for(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def running_sweep(tmp_path):
    """A sweep in a process of its own with a pool of two workers: the quick group recorded,
    the slow one training. Yields (process, its workers' pids, out); kills whatever is left."""
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    out = tmp_path / "sweep"
    root = str(Path(__file__).resolve().parents[1])
    env = os.environ | {"PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen(
        [sys.executable, "-c", SWEEP_SCRIPT, str(out)], env=env, stdout=subprocess.PIPE, text=True
    )
    workers = []
    try:
        assert wait_for(lambda: (out / "ledger.jsonl").exists(), 60), "no run finished"
        assert wait_for(lambda: len(children(process.pid)) >= 2, 10)
        workers = children(process.pid)
        yield process, workers, out
    finally:
        for pid in [process.pid, *workers]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait()


def test_sigterm_stops_a_sweep_as_ctrl_c_does_and_its_workers_with_it(running_sweep):
    process, workers, out = running_sweep
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 130
    assert process.stdout.read().strip() == "interrupted: SIGTERM"
    assert [r.config["training"]["epochs"] for r in Ledger(out).records()] == [5]  # kept
    assert wait_for(lambda: not alive(workers), 5), f"workers left running: {alive(workers)}"


def test_the_workers_of_a_killed_sweep_die_with_it(running_sweep):
    process, workers, _ = running_sweep
    assert alive(workers)
    process.kill()  # SIGKILL: the sweep can do nothing about it; its workers must
    process.wait()
    assert wait_for(lambda: not alive(workers), 5), f"orphaned workers: {alive(workers)}"
