"""Full-batch L-BFGS: trains any network on any loss through Trainer.fit, by name too."""

import itertools

import numpy as np
import pytest

import minifw
from minifw import LBFGS, ConfigError, RunConfig
from minifw.cli import main

BETTER = RunConfig(layers=(8, 8), activation="tanh", output_activation="identity")


def test_lbfgs_reaches_an_error_sgd_does_not_on_the_blogs_points():
    run = minifw.build(RunConfig(**{**BETTER.to_dict()["network"]}, optimizer="lbfgs", epochs=400))
    result = run.fit()
    assert run.evaluation_mse() < 2e-5  # the blog's SGD ends near 0.05
    assert result.epochs == len(run.trainer.run_history["evals"]) <= 400
    evals = run.trainer.run_history["evals"]
    assert all(b > a for a, b in itertools.pairwise(evals))  # >= 1 evaluation each
    assert result.loss[-1] < result.loss[0]


def test_each_iteration_is_an_epoch_for_the_callbacks_and_stop_training_stops_it():
    seen = []

    def stop_at_ten(trainer, epoch, logs):
        seen.append((epoch, logs["loss"]))
        trainer.stop_training = epoch == 9

    run = minifw.build(BETTER.__class__(optimizer="lbfgs", epochs=200))
    run.trainer.callbacks.append(minifw.LambdaCallback(on_epoch_end=stop_at_ten))
    result = run.fit()
    assert [e for e, _ in seen] == list(range(10)) and result.epochs == 10
    assert [loss for _, loss in seen] == result.loss


def test_the_weights_after_fit_are_the_last_accepted_point():
    run = minifw.build(RunConfig(optimizer="lbfgs", epochs=30))
    result = run.fit()
    x, y = run.source.arrays()
    y_n = run.network.normaliser.forward(y)
    assert run.trainer.loss.value(run.network.forward(x), y_n) == pytest.approx(result.loss[-1])


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_any_loss(loss):
    run = minifw.build(RunConfig(optimizer="lbfgs", loss=loss, epochs=60))
    result = run.fit()
    assert result.loss[-1] < 0.5 * result.loss[0]


def test_a_learning_rate_or_per_batch_settings_are_refused():
    with pytest.raises(ConfigError, match="line search; it takes no learning rate"):
        minifw.build(RunConfig(optimizer="lbfgs", lr=0.1))
    with pytest.raises(ConfigError, match="lbfgs takes no weight_decay"):
        LBFGS(weight_decay=0.1)
    with pytest.raises(ConfigError, match="whole-data steps"):
        LBFGS().update(np.zeros(2), np.zeros(2), {}, np.float64(1.0))


def test_a_stack_is_refused():
    nets = [
        minifw.Network([minifw.Dense(1, 3, "tanh"), minifw.Dense(3, 1)], seed=s) for s in (0, 1)
    ]
    trainer = minifw.Trainer(minifw.stack(nets), "mse", LBFGS(), batch_size=8)
    x = np.linspace(0, 1, 8).reshape(-1, 1)
    with pytest.raises(ConfigError, match="one network at a time"):
        trainer.fit(minifw.ArraySource(x, x), 5)


def test_by_name_on_the_command_line_with_a_checkpoint_that_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["train", "--optimizer", "lbfgs", "--layers", "8,8", "--activation", "tanh"]
    argv += ["--output-activation", "identity", "--no-plot", "--no-record"]
    assert main([*argv, "--epochs", "50", "--checkpoint", "ck.npz"]) == 0
    first = capsys.readouterr().out
    assert "Learning rate: line search " in first and "lr " not in first.splitlines()[0]
    assert main(["train", "--resume", "ck.npz", "--epochs", "120", "--no-plot", "--no-record"]) == 0
    out = capsys.readouterr().out
    assert "Iterations: 120 " in out
    before = float(first.split("Evaluation MSE: ")[1].split()[0])
    after = float(out.split("Evaluation MSE: ")[1].split()[0])
    assert after < before  # it continues (its curvature memory starts afresh)


def test_metrics_and_arrays_work_with_lbfgs_as_with_any_optimizer():
    x = np.linspace(-1, 1, 20).reshape(-1, 1)
    network = minifw.Network([minifw.Dense(1, 6, "tanh"), minifw.Dense(6, 1)], seed=2)
    trainer = minifw.Trainer(network, "mse", LBFGS(), metrics=["mae"])
    result = trainer.fit(x, x**3, epochs=15, validation_data=(x[::2] + 0.05, (x[::2] + 0.05) ** 3))
    assert list(result.history) == ["loss", "evals", "mae", "val_loss", "val_mae"]
    assert len(result.history["mae"]) == result.epochs
    # The last iteration's metric is the accepted weights', as evaluate measures them.
    assert result.history["mae"][-1] == pytest.approx(trainer.evaluate(x, x**3)["mae"], rel=1e-12)


@pytest.mark.parametrize("optimizer", ["lbfgs", "sgd"])
def test_a_time_limit_stops_after_the_epoch_that_crosses_it_for_any_optimizer(optimizer):
    for seconds, epochs in [(0.0, 1), (1e9, 20)]:
        run = minifw.build(RunConfig(optimizer=optimizer, epochs=20))
        limit = minifw.TimeLimit(seconds)
        run.trainer.callbacks.append(limit)
        assert run.fit().epochs == epochs
        assert limit.stopped_epoch == (0 if seconds == 0 else None)
    with pytest.raises(ConfigError, match="seconds must be a finite number >= 0"):
        minifw.TimeLimit(-1.0)
