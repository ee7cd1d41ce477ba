"""Sweeps: plans, stacked and executor-independent results, failures as rows, resuming."""

import csv
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest
from helpers import stop_sweeps_at_their_second_group

import minifw
import minifw.lab.sweeps as sweeping
from minifw import ConfigError, Ledger, RunConfig
from minifw.lab.sweeps import plan, sweep, sweep_seeds, with_setting

BASE = RunConfig(epochs=60)
GRID = {"lr": [0.3, 0.9], "activation": ["sigmoid", "tanh"]}


def table(results):
    """The rows without what depends on how they ran (time, and how many trained together)."""
    skip = {"seconds", "seconds_to_target", "stacked"}
    return [
        ({k: v for k, v in row.plain().items() if k not in skip}, row.loss_history)
        for row in results
    ]


@pytest.fixture(scope="module")
def in_process():
    return sweep(BASE, GRID, seeds=3, target_loss=0.05)


def test_a_plan_has_a_run_per_point_and_seed_from_spawned_seed_sequences():
    runs = plan(BASE, GRID, seeds=3, sweep_seed=7)
    assert len(runs) == 12 and [r.index for r in runs] == list(range(12))
    spawned = np.random.SeedSequence(7).spawn(3)
    expected = [int(s.generate_state(1, dtype=np.uint32)[0]) for s in spawned]
    assert sweep_seeds(7, 3) == expected
    assert [r.seed for r in runs[:3]] == expected == [r.seed for r in runs[-3:]]
    assert len(set(expected)) == 3
    assert runs[4].key == "lr=0.3,activation=tanh,repeat=1"
    assert runs[4].config.activation == "tanh" and runs[4].config.lr == 0.3
    assert runs[4].config.seed == expected[1]


def test_settings_name_fields_or_component_parameters():
    adam = RunConfig(optimizer="adam:beta2=0.99")
    assert with_setting(adam, "optimizer.beta1", 0.8).optimizer == "adam:beta2=0.99,beta1=0.8"
    assert with_setting(adam, "optimizer.lr", 0.01).lr == 0.01
    assert with_setting(BASE, "layers", [8, 8]).layers == (8, 8)


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"seed": [1, 2]}, "a sweep cannot vary 'seed'"),
        ({"plot": ["a.png"]}, "a sweep cannot vary 'plot'"),
        ({"lrr": [0.1]}, "a sweep cannot vary 'lrr'; it varies target, domain"),
        ({"schedule.rate": [0.5]}, "'schedule' is not a named component with parameters set"),
        ({"lr": 0.1}, r"grid\['lr'\] must be a non-empty list"),
        ({"lr": []}, r"grid\['lr'\] must be a non-empty list"),
        ({"lr": ["fast"]}, "lr must be a finite number > 0; got 'fast'"),
        ({"activation": ["swishy"]}, "unknown activation 'swishy'"),
        ({"lr": [-1.0]}, "lr must be a finite number > 0"),
        ({"lr": [0.3, 0.3]}, r"grid\['lr'\] lists a value twice"),
        ({"lr": [0.3], "optimizer.lr": [0.9]}, "one setting under two names"),
    ],
)
def test_a_bad_grid_is_refused_before_anything_runs(grid, message, monkeypatch):
    monkeypatch.setattr(sweeping, "run_group", lambda *a: pytest.fail("ran"))
    with pytest.raises(ConfigError, match=message):
        sweep(BASE, grid, seeds=2)


def test_results_are_the_same_stacked_or_one_by_one(in_process):
    assert {row.stacked for row in in_process} == {6}  # each activation: 2 rates x 3 seeds
    alone = sweep(BASE, GRID, seeds=3, target_loss=0.05, chunk=1)
    assert {row.stacked for row in alone} == {1}
    assert table(alone) == table(in_process)


@pytest.mark.parametrize("make", [lambda: ThreadPoolExecutor(2), lambda: ProcessPoolExecutor(2)])
def test_results_never_depend_on_the_executor(in_process, make):
    with make() as executor:
        pooled = sweep(BASE, GRID, seeds=3, target_loss=0.05, executor=executor, chunk=4)
    assert table(pooled) == table(in_process)


def test_each_row_says_what_came_out(in_process):
    row = in_process.rows[0]
    assert row.point == {"lr": 0.3, "activation": "sigmoid"} and row.repeat == 0
    assert row.final_loss == row.loss_history[-1] and len(row.loss_history) == 60
    assert 0 < row.evaluation_error < 1 and row.seconds > 0 and row.ok and not row.diverged
    for row in in_process:  # the first epoch at or under the target, if any
        reached = [i for i, v in enumerate(row.loss_history) if v <= 0.05]
        assert row.epochs_to_target == (reached[0] + 1 if reached else None)
        if reached:
            assert row.seconds_to_target == pytest.approx(row.seconds * (reached[0] + 1) / 60)


def test_a_diverging_run_is_a_row_and_the_sweep_goes_on():
    base = RunConfig(epochs=40, activation="tanh", output_activation="identity")
    results = sweep(base, {"lr": [0.01, 10.0]}, seeds=2)
    calm, wild = results.rows[:2], results.rows[2:]
    assert all(r.ok for r in calm)
    assert all(r.diverged and r.reason.startswith("diverged: the loss became") for r in wild)
    last = results.leaderboard().splitlines()[-1].split()  # the diverged point comes last
    assert last[0] == "10" and last[-3:] == ["0", "2", "0"]  # flat, diverged, failed


def test_a_run_that_raises_is_a_row_with_its_reason(monkeypatch):
    seeds = sweep_seeds(0, 3)
    real = sweeping.build

    def build(config, callbacks=()):
        if config.seed == seeds[1]:
            raise RuntimeError("the target's server is down")
        return real(config, callbacks)

    monkeypatch.setattr(sweeping, "build", build)
    results = sweep(BASE, {}, seeds=3)
    assert [r.ok for r in results] == [True, False, True]
    assert results.rows[1].reason == "failed: RuntimeError: the target's server is down"
    assert np.isnan(results.rows[1].final_loss)
    assert [r.stacked for r in results] == [1, 1, 1]  # the stack failed, so one by one


def test_the_table_saves_as_csv_and_prints_a_leaderboard(in_process, tmp_path):
    path = in_process.to_csv(tmp_path / "results.csv")
    with path.open() as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 12 and list(rows[0])[:4] == ["lr", "activation", "index", "repeat"]
    assert float(rows[5]["evaluation_error"]) == in_process.rows[5].evaluation_error
    lines = in_process.leaderboard().splitlines()
    assert lines[0].split()[:4] == ["lr", "activation", "median", "error"]
    medians = [float(line.split()[2]) for line in lines[1:]]
    assert medians == sorted(medians) and len(medians) == 4
    best = min(
        in_process.points().values(), key=lambda rows: np.median([r.evaluation_error for r in rows])
    )
    assert lines[1].split()[:2] == [str(best[0].point["lr"]), best[0].point["activation"]]


def test_an_interrupted_sweep_keeps_its_finished_runs_and_resumes_the_rest(tmp_path, monkeypatch):
    real = sweeping.run_group
    calls = stop_sweeps_at_their_second_group(monkeypatch, KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        sweep(BASE, GRID, seeds=3, out=tmp_path, chunk=2)
    assert len(Ledger(tmp_path).records()) == 2  # the first group's two runs, on disk
    with pytest.raises(ConfigError, match="holds a sweep already; continue it with resume"):
        sweep(BASE, GRID, seeds=3, out=tmp_path, chunk=2)
    with pytest.raises(ConfigError, match="holds another sweep"):
        sweep(BASE, {"lr": [0.3]}, seeds=3, out=tmp_path, resume=True)

    monkeypatch.setattr(sweeping, "run_group", real)
    calls.clear()
    monkeypatch.setattr(
        sweeping, "run_group", lambda runs, t=None: calls.append(len(runs)) or real(runs, t)
    )
    resumed = sweep(BASE, GRID, seeds=3, out=tmp_path, resume=True, chunk=2)
    assert sum(calls) == 10  # only the missing runs
    assert table(resumed) == table(sweep(BASE, GRID, seeds=3))
    assert len(Ledger(tmp_path).records()) == 12


def test_resume_needs_the_directory_of_the_sweep():
    with pytest.raises(ConfigError, match="resume=True needs out"):
        sweep(BASE, GRID, resume=True)


def test_a_sweep_loads_its_plugins_before_planning(tmp_path):
    plugin = tmp_path / "wobble.py"
    plugin.write_text(
        "import attrs, numpy as np\n"
        "from typing import ClassVar\n"
        "from minifw import Target\n"
        "@attrs.frozen\n"
        "class Wobble(Target):\n"
        "    domain: ClassVar[tuple[float, float]] = (0.0, 3.0)\n"
        "    def __call__(self, x):\n"
        "        return np.sin(3 * x)\n"
    )
    config = RunConfig(epochs=5, target="wobble", plugins=(str(plugin),))
    results = sweep(config, {}, seeds=2)
    assert [r.ok for r in results] == [True, True]


def test_a_diverging_run_has_the_same_row_stacked_or_alone():
    base = RunConfig(epochs=30, activation="tanh", output_activation="identity")
    stacked = sweep(base, {"lr": [0.01, 10.0]}, seeds=2)
    alone = sweep(base, {"lr": [0.01, 10.0]}, seeds=2, chunk=1)
    assert [r.stacked for r in stacked] == [4] * 4 and [r.stacked for r in alone] == [1] * 4
    for a, b in zip(stacked, alone, strict=True):
        assert a.reason == b.reason and a.diverged == b.diverged
        np.testing.assert_array_equal(a.loss_history, b.loss_history)  # nan equal to nan
        np.testing.assert_array_equal(a.prediction, b.prediction)


def test_every_row_records_the_standard_metrics_at_the_evaluation_points(in_process):
    from minifw.core.metrics import MAE, R2, RMSE, MaxAbsError

    _, targets = minifw.presets.blog().source.evaluation_arrays()
    for row in in_process.rows[::5]:
        prediction = np.array(row.prediction)
        assert row.metrics == {
            "mae": MAE()(prediction, targets),
            "rmse": RMSE()(prediction, targets),
            "r2": R2()(prediction, targets),
            "max_abs_error": MaxAbsError()(prediction, targets),
        }
        assert row.metrics["rmse"] ** 2 == pytest.approx(row.evaluation_error, rel=1e-12)


@pytest.mark.parametrize(("by", "higher"), [("r2", True), ("max_abs_error", False)])
def test_the_leaderboard_ranks_by_any_metric_best_first(in_process, by, higher):
    lines = in_process.leaderboard(by=by).splitlines()
    assert lines[0].split()[:5] == ["lr", "activation", "median", by, "quartiles"]
    assert "median error" in lines[0]  # the evaluation error is still shown
    medians = {
        tuple(str(v) for v in rows[0].point.values()): np.median([r.metrics[by] for r in rows])
        for rows in in_process.points().values()
    }
    order = sorted(medians, key=medians.get, reverse=higher)
    assert [tuple(line.split()[:2]) for line in lines[1:]] == order
    assert [float(line.split()[2]) for line in lines[1:]] == [
        pytest.approx(medians[point], rel=1e-3) for point in order
    ]


def test_ranking_by_something_the_rows_do_not_hold_is_refused(in_process):
    assert in_process.leaderboard(by="r2_score") == in_process.leaderboard(by="r2")
    with pytest.raises(ConfigError, match=r"cannot rank the sweep by 'r22'.*did you mean 'r2'"):
        in_process.leaderboard(by="r22")


def test_a_rows_seconds_are_training_not_the_kernels_first_compile(monkeypatch):
    # The first stack in a process compiles the stack's kernel, before the fit's clock
    # starts; the rows' seconds are that clock's, as the stats line's are.
    from minifw.engine import loop

    made = loop.ready

    def slow_compile(dtype, stacked=False):
        made(dtype, stacked)
        time.sleep(0.5)  # a compile, as long as the whole run several times over
        return 0.5

    monkeypatch.setattr(loop, "ready", slow_compile)
    rows = minifw.sweep(RunConfig(epochs=20), {}, seeds=2)
    assert [row.stacked for row in rows] == [2, 2]
    assert all(row.seconds < 0.4 for row in rows), [row.seconds for row in rows]


@pytest.mark.parametrize(("asked", "trained"), [("auto", "compiled"), ("numpy", "numpy")])
def test_a_row_and_its_ledger_record_name_the_engine_that_trained(asked, trained, tmp_path):
    # "auto" is what was typed; the row, results.csv and the ledger say what it chose.
    config = RunConfig(epochs=5, engine=asked)
    results = sweep(config, {"lr": [0.3, 0.9]}, seeds=2, out=tmp_path)
    assert [row.engine for row in results] == [trained] * 4
    assert {r.config["training"]["engine"] for r in Ledger(tmp_path).records()} == {trained}
    rows = list(csv.DictReader(results.to_csv(tmp_path / "results.csv").open()))
    assert {row["engine"] for row in rows} == {trained}
