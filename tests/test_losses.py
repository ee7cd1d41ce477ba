"""Losses: values on hand-computed cases, gradients against finite differences, shape checks."""

import math

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from test_docstring_examples import example_class

from minifw import MAE, MSE, BinaryCrossEntropy, ConfigError, DataError, Huber, Loss, MeanLoss
from minifw.testing import check_loss

ALL_LOSSES = [MSE(), MAE(), Huber(), Huber(delta=0.3), BinaryCrossEntropy()]


def shapes():
    return hnp.array_shapes(min_dims=2, max_dims=2, max_side=5)


@st.composite
def prediction_target_pairs(draw):
    """Predictions and targets of one shape (n, k), values in [-10, 10]."""
    shape = draw(shapes())
    values = hnp.arrays(np.float64, shape, elements=st.floats(-10, 10))
    return draw(values), draw(values)


# --- the gradient is the derivative of the value (which puts them on the same scale) -------


@settings(max_examples=examples(100), deadline=None)
@given(pair=prediction_target_pairs())
def test_mse_written_out_agrees_with_its_pointwise_form(pair):
    # MSE computes value_and_gradient by hand, for speed; it must say what MeanLoss would.
    pred, target = pair
    value, gradient = MSE().value_and_gradient(pred, target)
    value_of_mean, gradient_of_mean = MeanLoss.value_and_gradient(MSE(), pred, target)
    assert value == pytest.approx(value_of_mean, rel=1e-12, abs=1e-300)
    np.testing.assert_allclose(gradient, gradient_of_mean, rtol=1e-15)
    assert value == pytest.approx(np.mean((pred - target) ** 2), rel=1e-12, abs=1e-300)


# --- exact values on small cases worked by hand ------------------------------------------


def test_mae_on_a_small_case():
    # d = -1, 0, 3: L = (1 + 0 + 3) / 3, dL/dp = sign(d) / 3, and sign(0) = 0.
    value, gradient = MAE().value_and_gradient(
        np.array([[1.0], [2.0], [4.0]]), np.array([[2.0], [2.0], [1.0]])
    )
    assert value == pytest.approx(4 / 3, rel=1e-15)
    np.testing.assert_allclose(gradient, [[-1 / 3], [0.0], [1 / 3]], rtol=1e-15)


@pytest.mark.parametrize(
    ("delta", "d", "losses", "slopes"),
    [
        # δ = 1: d = 0.5 is inside (½ 0.25), 3 and -2 outside (1 · (3 - ½), 1 · (2 - ½)).
        (1.0, [0.5, 3.0, -2.0], [0.125, 2.5, 1.5], [0.5, 1.0, -1.0]),
        # δ = 2: d = 1 and -2 inside (½, 2, exactly on the boundary), 3 outside (2 · (3 - 1)).
        (2.0, [1.0, -2.0, 3.0], [0.5, 2.0, 4.0], [1.0, -2.0, 2.0]),
    ],
)
def test_huber_on_small_cases(delta, d, losses, slopes):
    target = np.full((3, 1), 0.25)
    pred = target + np.array(d).reshape(3, 1)
    value, gradient = Huber(delta=delta).value_and_gradient(pred, target)
    assert value == pytest.approx(sum(losses) / 3, rel=1e-15)
    np.testing.assert_allclose(gradient, np.array(slopes).reshape(3, 1) / 3, rtol=1e-15)


def test_huber_is_continuous_at_delta():
    # Both pieces meet at |d| = δ with the value ½δ², so there is no step in the loss.
    huber, target = Huber(delta=1.5), np.zeros((1, 1))
    below = huber.value(np.array([[1.5 - 1e-9]]), target)
    above = huber.value(np.array([[1.5 + 1e-9]]), target)
    assert below == pytest.approx(0.5 * 1.5**2, abs=1e-8)
    assert above == pytest.approx(below, abs=1e-8)


def test_binary_cross_entropy_on_a_small_case():
    # p = 0.5 for t = 1 and p = 0.8 for t = 0: L = -(log 0.5 + log 0.2) / 2,
    # dL/dp = (p - t) / (p(1 - p)) / 2 = (-0.5 / 0.25) / 2 and (0.8 / 0.16) / 2.
    pred, target = np.array([[0.5], [0.8]]), np.array([[1.0], [0.0]])
    value, gradient = BinaryCrossEntropy().value_and_gradient(pred, target)
    assert value == pytest.approx(-(math.log(0.5) + math.log(0.2)) / 2, rel=1e-12)
    np.testing.assert_allclose(gradient, [[-1.0], [2.5]], rtol=1e-12)


def test_binary_cross_entropy_with_soft_targets_is_least_at_the_target():
    # With t = 0.3, L(p) = -(0.3 log p + 0.7 log(1 - p)) is least, with zero slope, at p = 0.3.
    target = np.array([[0.3]])
    loss = BinaryCrossEntropy()
    assert loss.gradient(np.array([[0.3]]), target)[0, 0] == pytest.approx(0.0, abs=1e-12)
    assert loss.value(np.array([[0.3]]), target) < loss.value(np.array([[0.31]]), target)
    assert loss.value(np.array([[0.3]]), target) < loss.value(np.array([[0.29]]), target)


# --- binary cross-entropy at and beyond 0 and 1 ---------------------------------------------


@pytest.mark.parametrize("p", [0.0, 1.0, 1e-300, 1 - 1e-17, -0.5, 2.0])
@pytest.mark.parametrize("t", [0.0, 1.0])
def test_binary_cross_entropy_is_finite_and_silent_at_the_extremes(p, t):
    pred, target = np.full((2, 1), p), np.full((2, 1), t)
    with np.errstate(all="raise"):  # any overflow, log(0) or 0/0 would raise here
        value, gradient = BinaryCrossEntropy().value_and_gradient(pred, target)
    assert math.isfinite(value)
    assert np.isfinite(gradient).all()
    # At most the loss at the clip, -log ε: 16.1 for ε = 1e-7.
    assert 0 <= value <= -math.log(1e-7) + 1e-9


@pytest.mark.parametrize(("p", "t"), [(0.0, 1.0), (1e-300, 1.0), (1.0, 0.0), (1 - 1e-17, 0.0)])
def test_binary_cross_entropy_pushes_a_confidently_wrong_prediction_back(p, t):
    # The value is flat beyond the clip, but the gradient is the slope at the clip, so
    # gradient descent (p -= lr · gradient) still moves p towards t, and strongly.
    gradient = BinaryCrossEntropy().gradient(np.array([[p]]), np.array([[t]]))[0, 0]
    assert np.sign(gradient) == np.sign(p - t)
    assert abs(gradient) > 1e6


def test_binary_cross_entropy_epsilon_sets_the_clip():
    # At p = 0 with t = 1 the loss is -log ε.
    value = BinaryCrossEntropy(epsilon=0.01).value(np.zeros((1, 1)), np.ones((1, 1)))
    assert value == pytest.approx(-math.log(0.01), rel=1e-12)


# --- refusals and conventions shared by every loss -------------------------------------------


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
@pytest.mark.parametrize("call", ["value", "gradient", "value_and_gradient"])
@pytest.mark.parametrize(
    ("pred_shape", "target_shape"), [((5, 1), (5,)), ((5,), (5, 1)), ((5, 2), (5, 1))]
)
def test_mismatched_shapes_raise_instead_of_broadcasting(loss, call, pred_shape, target_shape):
    # (5, 1) - (5,) would broadcast to a (5, 5) matrix of every prediction minus every target.
    with pytest.raises(DataError, match="must match exactly"):
        getattr(loss, call)(np.full(pred_shape, 0.5), np.ones(target_shape))


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("mse", MSE),
        ("MSE", MSE),
        ("mae", MAE),
        ("huber", Huber),
        ("binary_cross_entropy", BinaryCrossEntropy),
    ],
)
def test_losses_are_registered_by_name(name, cls):
    assert isinstance(Loss.resolve(name), cls)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
def test_losses_take_integer_arrays_and_give_float_results(loss):
    pred, target = np.array([[1], [0]]), np.array([[1], [1]])
    value, gradient = loss.value_and_gradient(pred, target)
    expected_value, expected_gradient = loss.value_and_gradient(pred * 1.0, target * 1.0)
    assert isinstance(value, float) and value == expected_value
    assert gradient.dtype == np.float64
    np.testing.assert_array_equal(gradient, expected_gradient)


def test_mse_on_integers_is_exact():
    value, gradient = MSE().value_and_gradient(np.array([[1], [3]]), np.array([[2], [3]]))
    assert value == 0.5
    np.testing.assert_array_equal(gradient, [[-1.0], [0.0]])


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda v: Huber(delta=v), "Huber.delta"),
        (lambda v: BinaryCrossEntropy(epsilon=v), "BinaryCrossEntropy.epsilon"),
    ],
)
@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, "1"])
def test_bad_hyperparameters_are_refused_by_name(make, field, bad):
    with pytest.raises(ConfigError, match=rf"^{field} must be"):
        make(bad)


def test_binary_cross_entropy_refuses_an_epsilon_that_leaves_no_interval():
    # [ε, 1 - ε] is empty for ε > ½ and a single point at ½.
    with pytest.raises(ConfigError, match=r"BinaryCrossEntropy\.epsilon must be < 0\.5"):
        BinaryCrossEntropy(epsilon=0.5)


def test_mean_loss_example_in_its_docstring():
    log_cosh = example_class(MeanLoss)()
    rng = np.random.default_rng(3)
    pred, target = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    assert log_cosh.value(pred, target) == pytest.approx(np.mean(np.log(np.cosh(pred - target))))
    check_loss(log_cosh)  # its gradient is value's derivative, and the rest of the contract
    assert isinstance(Loss.resolve("log_cosh"), type(log_cosh))
