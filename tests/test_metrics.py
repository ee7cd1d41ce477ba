"""Metrics: each one's formula against a direct computation, their shared contract, stacks,
user metrics by subclassing, and the trainer logging them every epoch."""

import csv

import attrs
import numpy as np
import pytest
from helpers import built_in, examples
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import minifw
from minifw import ArraySource, ConfigError, CSVLogger, DataError, Dense, Network, Trainer
from minifw.core import metrics as metrics_module
from minifw.core.losses import difference
from minifw.core.metrics import MAE, R2, RMSE, MaxAbsError, Metric, per_network
from minifw.testing import check_component, check_metric

STANDARD = {"mae", "rmse", "r2", "max_abs_error"}


def test_minifw_ships_the_standard_metrics_by_name():
    assert set(built_in(Metric, metrics_module)) == STANDARD == set(metrics_module.STANDARD)
    assert Metric.resolve("mean_absolute_error") == MAE()  # Keras's name
    assert Metric.resolve("r2_score") == R2()  # scikit-learn's
    assert [m.key for m in (MAE(), RMSE(), R2(), MaxAbsError())] == [
        "mae",
        "rmse",
        "r2",
        "max_abs_error",
    ]
    assert [m.greater_is_better for m in (MAE(), RMSE(), R2(), MaxAbsError())] == [
        False,
        False,
        True,
        False,
    ]


PRED = np.array([[1.0, 0.0], [2.0, 1.0], [4.0, -1.0]])
TARGET = np.array([[1.5, 0.0], [2.0, 2.0], [3.0, 0.0]])


def test_each_metric_on_numbers_worked_by_hand():
    # Misses: -0.5, 0, 0, -1, 1, -1: six entries.
    assert MAE()(PRED, TARGET) == pytest.approx(3.5 / 6)
    assert RMSE()(PRED, TARGET) == pytest.approx(np.sqrt(3.25 / 6))
    assert MaxAbsError()(PRED, TARGET) == 1.0
    # R² per output: column 0 has SS_res 1.25 and SS_tot 1.0833...; column 1 has 2 and 2.6667.
    column0 = 1 - 1.25 / np.sum((TARGET[:, 0] - TARGET[:, 0].mean()) ** 2)
    column1 = 1 - 2.0 / np.sum((TARGET[:, 1] - TARGET[:, 1].mean()) ** 2)
    assert R2()(PRED, TARGET) == pytest.approx((column0 + column1) / 2)
    assert all(isinstance(m(PRED, TARGET), float) for m in (MAE(), RMSE(), R2(), MaxAbsError()))


def test_r2_is_one_for_a_perfect_fit_zero_for_the_mean_and_follows_sklearn_for_constants():
    y = np.array([[1.0], [2.0], [4.0]])
    assert R2()(y.copy(), y) == 1.0
    assert R2()(np.full_like(y, y.mean()), y) == pytest.approx(0.0)
    assert R2()(-y, y) < 0
    constant = np.ones((3, 1))
    assert R2()(constant.copy(), constant) == 1.0  # 0/0: exact, as r2_score says
    assert R2()(constant + 0.1, constant) == 0.0  # x/0: scored 0, never inf or nan


finite = st.floats(-1e100, 1e100, allow_nan=False)


@settings(max_examples=examples(40), deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda rows: st.tuples(
            arrays(np.float64, (rows, 2), elements=finite),
            arrays(np.float64, (rows, 2), elements=finite),
        )
    )
)
def test_errors_are_zero_only_for_a_perfect_fit_and_ordered_as_norms_are(pair):
    pred, target = pair
    mae, rmse, worst = MAE()(pred, target), RMSE()(pred, target), MaxAbsError()(pred, target)
    assert MAE()(target, target) == RMSE()(target, target) == MaxAbsError()(target, target) == 0
    # The mean of |d| is at most its root mean square, which is at most its largest, even
    # for misses whose squares are below the smallest float.
    assert 0 <= mae <= rmse * (1 + 1e-12)
    assert rmse <= worst * (1 + 1e-12)
    assert R2()(pred, target) <= 1.0


def test_rmse_neither_underflows_nor_overflows_where_the_misses_are_representable():
    for size in (1e-170, 1e170):
        d = np.full((4, 1), size)
        assert RMSE()(d, np.zeros((4, 1))) == pytest.approx(size, rel=1e-15)
    assert RMSE()(np.array([[np.inf], [0.0]]), np.zeros((2, 1))) == np.inf


@pytest.mark.parametrize("metric", [MAE(), RMSE(), R2(), MaxAbsError()], ids=repr)
def test_a_stack_gets_each_networks_own_value(metric):
    rng = np.random.default_rng(0)
    target = rng.normal(size=(7, 2))
    preds = rng.normal(size=(3, 7, 2))
    stacked = metric(preds, target)
    assert stacked.shape == (3,)
    np.testing.assert_allclose(stacked, [metric(p, target) for p in preds], rtol=1e-12)


@pytest.mark.parametrize("metric", [MAE(), RMSE(), R2(), MaxAbsError()], ids=repr)
def test_shapes_that_would_broadcast_are_refused(metric):
    with pytest.raises(DataError, match=r"predictions have shape \(4, 1\) but targets .* \(4,\)"):
        metric(np.zeros((4, 1)), np.zeros(4))


@attrs.frozen
class MedianAbsError(Metric):
    """m = median |pred - target| over all entries."""

    def __call__(self, pred, target):
        d = difference(pred, target)
        return per_network(np.median(np.abs(d), axis=(-2, -1)))


def test_a_metric_of_your_own_is_registered_by_subclassing_and_logged_by_its_name():
    assert Metric.resolve("median_abs_error") == MedianAbsError()
    x = np.linspace(0, 1, 9).reshape(-1, 1)
    trainer = Trainer(Network([Dense(1, 1)]), "mse", "sgd", metrics=["median_abs_error"])
    result = trainer.fit(x, 3 * x, epochs=2)
    assert len(result.history["median_abs_error"]) == 2
    pred = trainer.network.predict(x)
    assert result.history["median_abs_error"][-1] == np.median(np.abs(pred - 3 * x))


def test_bad_metric_lists_are_refused_when_the_trainer_is_made():
    network = Network([Dense(1, 1)])
    with pytest.raises(ConfigError, match=r"unknown metric 'mea'.*did you mean 'mae'"):
        Trainer(network, "mse", "sgd", metrics=["mea"])
    with pytest.raises(ConfigError, match=r"names 'mae' twice"):
        Trainer(network, "mse", "sgd", metrics=["mae", "mean_absolute_error"])
    with pytest.raises(ConfigError, match=r"Trainer.metrics must be a list; got 'mae'"):
        Trainer(network, "mse", "sgd", metrics="mae")


def test_a_metric_named_like_the_trainers_own_logs_is_refused():
    @attrs.frozen
    class ValSpread(Metric):
        """m = 0: a metric whose name would be read as the validation log of 'spread'."""

        name = "val_spread"

        def __call__(self, pred, target):
            return 0.0

    with pytest.raises(ConfigError, match=r"'val_spread' would be logged over the loss"):
        Trainer(Network([Dense(1, 1)]), "mse", "sgd", metrics=[ValSpread()])


class Counting(Metric):
    """m = number of calls so far: shows when and on what the trainer computes metrics."""

    name = "counting"

    def __init__(self):
        self.seen = []

    def __call__(self, pred, target):
        self.seen.append(len(target))
        return float(len(self.seen))


def test_metrics_are_computed_once_per_epoch_on_the_training_and_validation_data():
    counter = Counting()
    x = np.linspace(0, 1, 12).reshape(-1, 1)
    trainer = Trainer(Network([Dense(1, 1)]), "mse", "sgd", batch_size=2, metrics=[counter])
    trainer.fit(x, x, epochs=3, validation_data=(x[:5], x[:5]))
    # Six batches an epoch, and not one of them computes a metric: once on the 12 training
    # points, once on the 5 held out, at each epoch's end.
    assert counter.seen == [12, 5] * 3


def blog_line():
    """A line through a tanh output layer's range, with a normaliser: the metrics must come
    back in the target's own units."""
    x = np.linspace(0, 2, 20).reshape(-1, 1)
    y = 50 * x + 10
    normaliser = minifw.Normaliser((10, 110), (-0.8, 0.8))
    network = Network([Dense(1, 4, "tanh"), Dense(4, 1, "tanh")], seed=1, normaliser=normaliser)
    return network, x, y


def test_logged_metrics_are_in_the_targets_units_with_the_epochs_final_weights():
    network, x, y = blog_line()
    trainer = Trainer(network, "mse", "sgd:lr=0.3", batch_size=5, metrics=["mae", "r2"])
    result = trainer.fit(x, y, epochs=4, validation_data=(x[::3] + 0.05, y[::3] + 2.5))
    assert list(result.history) == ["loss", "mae", "r2", "val_loss", "val_mae", "val_r2"]
    assert all(len(v) == 4 for v in result.history.values())
    pred = network.predict(x)  # the final weights, in the target's units
    assert result.history["mae"][-1] == pytest.approx(np.mean(np.abs(pred - y)), rel=1e-12)
    held = network.predict(x[::3] + 0.05)
    assert result.history["val_mae"][-1] == pytest.approx(np.mean(np.abs(held - (y[::3] + 2.5))))
    assert result.history == trainer.run_history


def test_evaluate_gives_the_loss_as_training_measures_it_and_the_metrics_in_target_units():
    network, x, y = blog_line()
    trainer = Trainer(network, "mse", "sgd:lr=0.3", batch_size=20, metrics=["rmse"])
    weights = network.packed.value.copy()
    scores = trainer.evaluate(x, y)
    np.testing.assert_array_equal(network.packed.value, weights)  # no update
    pred = network.predict(x)
    assert scores["rmse"] == pytest.approx(np.sqrt(np.mean((pred - y) ** 2)), rel=1e-12)
    # One batch of all the data, with a frozen step: the loss fit logs is evaluate's.
    frozen = Trainer(network, "mse", "sgd:lr=1e-300", batch_size=20)
    assert frozen.fit(x, y, epochs=1).loss[0] == pytest.approx(scores["loss"], rel=1e-12)
    assert scores["loss"] == pytest.approx(
        np.mean((network.normaliser.forward(y) - network.forward(x)) ** 2)
    )
    assert list(Trainer(network, "mse", "sgd").evaluate(x, y)) == ["loss"]


def test_evaluate_refuses_bad_data_with_the_trainers_messages():
    network, x, y = blog_line()
    trainer = Trainer(network, "mse", "sgd", metrics=["mae"])
    with pytest.raises(DataError, match="x has 20 samples but y has 19"):
        trainer.evaluate(x, y[:-1])
    with pytest.raises(DataError, match="x has 2 inputs per sample; expected 1"):
        trainer.evaluate(np.hstack([x, x]), y)


def test_csv_logger_writes_every_metric_column(tmp_path):
    x = np.linspace(0, 1, 8).reshape(-1, 1)
    path = tmp_path / "log.csv"
    trainer = Trainer(
        Network([Dense(1, 1)]), "mse", "sgd", metrics=["mae", "max_abs_error"],
        callbacks=[CSVLogger(path)],
    )  # fmt: skip
    result = trainer.fit(ArraySource(x, 2 * x, validation_data=(x, 2 * x)), 3)
    with path.open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == [
        "epoch", "loss", "mae", "max_abs_error", "val_loss", "val_mae", "val_max_abs_error",
    ]  # fmt: skip
    assert [float(row["max_abs_error"]) for row in rows] == result.history["max_abs_error"]
    assert [float(row["val_mae"]) for row in rows] == result.history["val_mae"]


def test_a_stack_logs_one_metric_value_per_network():
    x = np.linspace(0, 1, 8).reshape(-1, 1)
    networks = [Network([Dense(1, 1)], seed=s) for s in range(3)]
    alone = [Trainer(n, "mse", "sgd", metrics=["mae"]).evaluate(x, 2 * x)["mae"] for n in networks]
    stacked = Trainer(minifw.stack(networks), "mse", "sgd", metrics=["mae"])
    np.testing.assert_allclose(stacked.evaluate(x, 2 * x)["mae"], alone, rtol=1e-12)


# The kit's check -------------------------------------------------------------------------


@pytest.mark.parametrize("metric", [MAE(), RMSE(), R2(), MaxAbsError(), MedianAbsError()], ids=repr)
def test_minifws_metrics_and_a_users_pass_the_kits_check(metric):
    check_metric(metric)
    check_component(metric)  # picked by its family


@attrs.frozen
class FlattensStacks(Metric):
    """m = mean |pred - target| over every entry, stack or not: one number for all networks."""

    def __call__(self, pred, target):
        return float(np.mean(np.abs(difference(pred, target))))


@attrs.frozen
class BackwardsScore(Metric):
    """m = mean |pred - target|, but declared a score: higher would be better, which it is not."""

    greater_is_better = True

    def __call__(self, pred, target):
        return per_network(np.mean(np.abs(difference(pred, target)), axis=(-2, -1)))


@pytest.mark.parametrize(
    ("metric", "said"),
    [
        (FlattensStacks(), r"stacks: .*expected \(\d+,\), one number per network"),
        (BackwardsScore(), r"values: predicting the targets exactly scores 0\.0.*highest"),
    ],
    ids=["flattens stacks", "backwards score"],
)
def test_the_kits_check_finds_a_broken_metric_and_says_what_is_wrong(metric, said):
    with pytest.raises(AssertionError, match=said):
        check_metric(metric, max_examples=20)
