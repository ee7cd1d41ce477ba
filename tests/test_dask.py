"""Sweeps on a dask cluster: two worker processes, the same table as in one process."""

import os

import distributed
import pytest
from test_sweep import BASE, GRID, table

import minifw.lab.sweeps as sweeping
from minifw import Ledger
from minifw.lab.sweeps import plan, sweep

SEEDS = 3
CHUNK = 3  # 4 groups of 3 runs: more groups than workers, so both get some


@pytest.fixture(scope="module")
def client():
    """A client of a local cluster of two single-threaded worker processes on the loopback."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.wait_for_workers(2, timeout=60)
        yield client


@pytest.fixture(scope="module")
def in_process():
    return sweep(BASE, GRID, seeds=SEEDS, target_loss=0.05)


def test_the_workers_are_other_processes(client):
    pids = client.run(os.getpid)
    assert len(pids) == 2 and len(set(pids.values())) == 2
    assert os.getpid() not in pids.values()


def test_a_sweep_on_the_cluster_gives_the_in_process_table_and_uses_both_workers(
    client, in_process
):
    executor = client.get_executor()
    with distributed.get_task_stream(client=client) as stream:
        on_cluster = sweep(
            BASE, GRID, seeds=SEEDS, target_loss=0.05, executor=executor, chunk=CHUNK
        )
    assert table(on_cluster) == table(in_process)
    assert {row.stacked for row in on_cluster} == {CHUNK}  # the groups did stack there
    tasks = [task for task in stream.data if str(task["key"]).startswith("run_group")]
    assert len(tasks) == len(GRID["lr"]) * len(GRID["activation"]) * SEEDS // CHUNK
    assert {task["worker"] for task in tasks} == set(client.scheduler_info()["workers"])


def test_a_sweep_on_the_cluster_records_every_run_in_its_ledger(
    client, in_process, tmp_path, monkeypatch
):
    results = sweep(
        BASE,
        GRID,
        seeds=SEEDS,
        target_loss=0.05,
        executor=client.get_executor(),
        chunk=CHUNK,
        out=tmp_path,
    )
    records = Ledger(tmp_path).records()
    assert sorted(r.sweep["key"] for r in records) == sorted(r.key for r in plan(BASE, GRID, SEEDS))
    by_key = {r.sweep["key"]: r for r in records}
    for row in results:
        assert by_key[row.key].loss_history == row.loss_history
        assert by_key[row.key].evaluation_error == row.evaluation_error
    assert table(results) == table(in_process)
    monkeypatch.setattr(sweeping, "run_group", lambda *a: pytest.fail("ran a finished run"))
    resumed = sweep(BASE, GRID, seeds=SEEDS, target_loss=0.05, out=tmp_path, resume=True)
    assert table(resumed) == table(in_process)  # the ledger alone gives the table back
