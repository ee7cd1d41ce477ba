"""The evaluation error as a target (target_eval): when a run first reaches it, in a run,
a stacked sweep, the ledger, and the leaderboard's ranking by the time or work to it."""

import json
import math

import attrs
import numpy as np
import pytest

import minifw
from minifw import ConfigError, EvaluationTarget, RunConfig
from minifw.cli import main
from minifw.lab.results import SweepResults, SweepRow, _quartiles
from minifw.lab.sweeps import sweep_seeds, with_setting

LBFGS = RunConfig(layers=(8, 8), activation="tanh", output_activation="identity",
                  optimizer="lbfgs", epochs=60)  # fmt: skip


def errors_per_epoch(config, epochs):
    """The evaluation MSE after each epoch, measured by hand, and the run's epoch logs."""
    run = minifw.build(config)
    errors = []
    run.trainer.callbacks.append(
        minifw.LambdaCallback(on_epoch_end=lambda t, e, logs: errors.append(run.evaluation_mse()))
    )
    run.fit(epochs)
    return np.array(errors), run.trainer.run_history


def first_at_or_below(errors, target):
    return int(np.flatnonzero(errors <= target)[0]) + 1


def test_a_run_records_the_first_epoch_its_evaluation_error_reached_the_target():
    config = RunConfig(epochs=40)
    errors, _ = errors_per_epoch(config, 40)
    target = float(np.median(errors))  # some epoch reaches it, and not the first
    run = minifw.build(attrs.evolve(config, target_eval=target))
    result = run.fit()
    at = run.eval_target.reached()
    assert at["epoch"] == first_at_or_below(errors, target) > 1
    assert at["work"] == at["epoch"] * 8  # 32 points in batches of 4: 8 updates an epoch
    assert at["work_unit"] == "updates"
    assert 0 < at["seconds"] < result.seconds
    assert at["target"] == target


def test_lbfgs_counts_its_work_in_loss_evaluations():
    errors, history = errors_per_epoch(LBFGS, 60)
    target = float(errors[29])
    run = minifw.build(attrs.evolve(LBFGS, target_eval=target))
    run.fit()
    at = run.eval_target.reached()
    epoch = first_at_or_below(errors, target)
    assert at["epoch"] == epoch and at["work_unit"] == "evaluations"
    assert at["work"] == history["evals"][epoch - 1]
    assert history["evals"][epoch - 1] >= epoch  # a line search evaluates at least once


def test_a_target_never_reached_is_none_and_stop_ends_training_once_reached():
    run = minifw.build(RunConfig(epochs=20, target_eval=1e-9))
    run.fit()
    assert run.eval_target.reached() | {"target": 0} == {
        "target": 0, "epoch": None, "seconds": None, "work": None, "work_unit": "updates"
    }  # fmt: skip
    errors, _ = errors_per_epoch(RunConfig(), 30)
    run = minifw.build(RunConfig())
    watch = EvaluationTarget(*run.source.evaluation_arrays(), float(errors[9]), stop=True)
    run.trainer.callbacks.append(watch)
    run.fit(30)
    assert run.trainer.epochs_done == watch.epochs[0] == first_at_or_below(errors, errors[9])


def test_a_stacked_sweep_records_for_each_network_the_epoch_it_would_alone():
    base = RunConfig(epochs=60, activation="tanh")
    errors = [errors_per_epoch(attrs.evolve(base, seed=s), 60)[0] for s in sweep_seeds(0, 3)]
    target = float(np.median([e[-1] for e in errors]))  # some seeds reach it, some may not
    stacked = minifw.sweep(attrs.evolve(base, target_eval=target), seeds=3)
    assert {row.stacked for row in stacked} == {3}
    expected = [first_at_or_below(e, target) if (e <= target).any() else None for e in errors]
    assert [row.epochs_to_eval_target for row in stacked] == expected
    assert [row.work_to_eval_target for row in stacked] == [e and e * 8 for e in expected]
    alone = minifw.sweep(attrs.evolve(base, target_eval=target), seeds=3, chunk=1)
    assert [row.epochs_to_eval_target for row in alone] == expected


def test_lbfgs_runs_of_a_sweep_train_one_by_one_and_record_their_evaluations(tmp_path):
    results = minifw.sweep(attrs.evolve(LBFGS, target_eval=0.02), seeds=2, out=tmp_path)
    assert [row.stacked for row in results] == [1, 1]
    assert all(row.work_to_eval_target >= row.epochs_to_eval_target for row in results)
    records = minifw.Ledger(tmp_path).records()
    assert [r.sweep["work_to_eval_target"] for r in records] == [
        row.work_to_eval_target for row in results
    ]
    columns = results.to_csv(tmp_path / "results.csv").read_text(encoding="utf-8").split("\n")[0]
    names = {"epochs_to_eval_target", "seconds_to_eval_target", "work_to_eval_target"}
    assert names <= set(columns.split(","))


def test_target_eval_is_a_setting_like_any_other(tmp_path):
    config = RunConfig(target_eval=2e-5)
    assert RunConfig.load(config.save(tmp_path / "run.toml")) == config
    assert config.to_dict()["training"]["target_eval"] == 2e-5
    assert with_setting(RunConfig(), "target_eval", 0.01).target_eval == 0.01
    with pytest.raises(ConfigError, match="target_eval must be a finite number >= 0"):
        RunConfig(target_eval=-1.0)
    with pytest.raises(ConfigError, match=r"EvaluationTarget\.target"):
        EvaluationTarget(np.zeros((2, 1)), np.zeros((2, 1)), -1.0)


def test_minifw_train_prints_and_records_when_it_reached_the_target(tmp_path, capsys):
    flags = ["--epochs", "40", "--no-plot", "--no-progress", "--runs-dir", str(tmp_path)]
    errors, _ = errors_per_epoch(RunConfig(epochs=40), 40)
    target = float(np.median(errors))
    assert main(["train", *flags, "--target-eval", repr(target)]) == 0
    epoch = first_at_or_below(errors, target)
    assert f"Evaluation MSE reached {target:g} at epoch {epoch}, after " in capsys.readouterr().out
    (record,) = minifw.Ledger(tmp_path).records()
    assert record.eval_target["epoch"] == epoch and record.eval_target["work"] == epoch * 8
    line = json.loads((tmp_path / "ledger.jsonl").read_text(encoding="utf-8"))
    assert line["eval_target"]["work_unit"] == "updates"


def test_a_resumed_run_counts_from_the_resume_and_names_the_run_epoch(tmp_path, capsys):
    flags = ["--no-plot", "--no-progress", "--no-record"]
    checkpoint = str(tmp_path / "run.npz")
    assert main(["train", "--epochs", "10", "--checkpoint", checkpoint, *flags]) == 0
    errors, _ = errors_per_epoch(RunConfig(epochs=40), 40)  # as if never interrupted
    target = float(np.median(errors[10:]))
    resumed = ["--resume", checkpoint, "--epochs", "40", "--target-eval", repr(target)]
    assert main(["train", *resumed, *flags]) == 0
    after = first_at_or_below(errors[10:], target)
    assert f"at epoch {10 + after} ({after} after resuming), after " in capsys.readouterr().out


# Ranking -------------------------------------------------------------------------------


def row(index, point, seconds_to, *, stacked=1, epochs_to=None):
    return SweepRow(
        index=index, key=f"run{index}", point=point, repeat=index, seed=index, final_loss=0.1,
        evaluation_error=0.01 * (index + 1), seconds=1.0, epochs_to_target=None,
        seconds_to_target=None, diverged=False, reason=None, stacked=stacked, loss_history=(),
        seconds_to_eval_target=seconds_to, epochs_to_eval_target=epochs_to,
        work_to_eval_target=epochs_to,
    )  # fmt: skip


def test_the_leaderboard_ranks_by_time_to_target_with_runs_not_reached_last():
    rows = [
        row(0, {"lr": 0.1}, None), row(1, {"lr": 0.1}, None), row(2, {"lr": 0.1}, 0.01),
        row(3, {"lr": 0.3}, 0.6, stacked=3), row(4, {"lr": 0.3}, 0.9, stacked=3),
        row(5, {"lr": 0.3}, None, stacked=3),
        row(6, {"lr": 0.9}, 0.5), row(7, {"lr": 0.9}, 0.4), row(8, {"lr": 0.9}, 0.45),
    ]  # fmt: skip
    results = SweepResults(rows, ("lr",))
    cells = results.leaderboard_cells(by="seconds_to_eval_target")
    header, *lines = cells
    assert header[:2] == ["lr", "median seconds to eval target"] and "reached" in header
    # Per run: lr 0.3's stack of 3 shares its seconds, so its median 0.9 / 3 beats 0.45.
    assert [line[0] for line in lines] == ["0.3", "0.9", "0.1"]
    assert lines[0][1] == "0.3" and lines[1][1] == "0.45"
    assert lines[0][2] == "0.25..not reached"  # a quartile between runs that did and did not
    assert lines[2][1:3] == ["not reached", "not reached..not reached"]
    reached = header.index("reached")
    assert [line[reached] for line in lines] == ["2/3", "3/3", "1/3"]
    assert "not reached" in results.leaderboard(by="seconds_to_eval_target")


def test_quartiles_agree_with_numpy_and_reach_inf_only_past_an_inf():
    values = np.array([3.0, 1.0, 2.0, 7.0])
    assert _quartiles(values) == pytest.approx(np.percentile(values, [25, 50, 75]))
    assert _quartiles(np.array([1.0, 2.0, math.inf])) == [1.5, 2.0, math.inf]
    assert _quartiles(np.array([math.inf] * 2)) == [math.inf] * 3


def test_ranking_by_an_unknown_column_names_the_targets():
    results = SweepResults([row(0, {}, 0.1)], ())
    with pytest.raises(ConfigError, match="seconds_to_eval_target"):
        results.leaderboard(by="seconds_to_eval")


def test_the_command_line_ranks_by_time_to_target_and_needs_the_target(tmp_path, capsys):
    flags = ["--grid", "lr=0.3,0.9,20", "--seeds", "2", "--epochs", "30", "--no-progress"]
    rank = ["--rank-by", "seconds_to_eval_target"]
    with pytest.raises(SystemExit):
        main(["sweep", "--out", str(tmp_path / "bad"), *flags, *rank])
    assert "--rank-by seconds_to_eval_target needs" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    flags += [*rank, "--target-eval", "0.2"]
    assert main(["sweep", "--out", str(tmp_path / "out"), *flags]) == 0
    board = (tmp_path / "out" / "leaderboard.txt").read_text(encoding="utf-8")
    header, *lines = board.splitlines()
    assert header.split()[:6] == ["lr", "median", "seconds", "to", "eval", "target"]
    medians = [math.inf if line.split()[1] == "not" else float(line.split()[1]) for line in lines]
    assert medians == sorted(medians) and math.inf in medians and medians[0] < math.inf
