"""MSE: its value, its gradient (checked against finite differences), shape checks."""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import numerical_gradient
from hypothesis import given, settings
from hypothesis import strategies as st

from minifw import MSE, DataError, Loss


@st.composite
def prediction_target_pairs(draw):
    """Predictions and targets of one shape (n, k), values in [-10, 10]."""
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=2, max_side=5))
    values = hnp.arrays(np.float64, shape, elements=st.floats(-10, 10))
    return draw(values), draw(values)


@settings(max_examples=100, deadline=None)
@given(pair=prediction_target_pairs())
def test_value_is_the_mean_squared_difference(pair):
    pred, target = pair
    assert MSE().value(pred, target) == pytest.approx(np.mean((pred - target) ** 2), rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(pair=prediction_target_pairs())
def test_gradient_is_the_derivative_of_value(pair):
    # This is what puts value and gradient on the same scale: a gradient of Σ (p - t)² or of
    # ½ mean (p - t)² would differ from the finite differences of value by a constant factor.
    pred, target = pair
    loss = MSE()
    # MSE is quadratic in pred, so a central difference has no truncation error at any step;
    # h = 1e-4 rather than 1e-6 keeps the rounding error of value (up to 400) far below atol.
    numeric = numerical_gradient(lambda p: loss.value(p, target), pred.copy(), h=1e-4)
    np.testing.assert_allclose(loss.gradient(pred, target), numeric, rtol=1e-5, atol=1e-7)


@settings(max_examples=50, deadline=None)
@given(pair=prediction_target_pairs())
def test_value_and_gradient_agrees_with_value_and_gradient(pair):
    pred, target = pair
    loss = MSE()
    value, gradient = loss.value_and_gradient(pred, target)
    assert value == loss.value(pred, target)
    np.testing.assert_array_equal(gradient, loss.gradient(pred, target))


@pytest.mark.parametrize(
    "call", [MSE.value, MSE.gradient, MSE.value_and_gradient], ids=lambda f: f.__name__
)
def test_inputs_are_not_modified(call):
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    pred_before, target_before = pred.copy(), target.copy()
    call(MSE(), pred, target)
    np.testing.assert_array_equal(pred, pred_before)
    np.testing.assert_array_equal(target, target_before)


@pytest.mark.parametrize(
    "call", [MSE.value, MSE.gradient, MSE.value_and_gradient], ids=lambda f: f.__name__
)
@pytest.mark.parametrize(
    ("pred_shape", "target_shape"), [((5, 1), (5,)), ((5,), (5, 1)), ((5, 2), (5, 1))]
)
def test_mismatched_shapes_raise_instead_of_broadcasting(call, pred_shape, target_shape):
    # (5, 1) - (5,) would broadcast to a (5, 5) matrix of every prediction minus every target.
    with pytest.raises(DataError, match="must match exactly"):
        call(MSE(), np.zeros(pred_shape), np.ones(target_shape))


def test_mse_is_registered_by_name():
    assert isinstance(Loss.resolve("mse"), MSE)
    assert isinstance(Loss.resolve("MSE"), MSE)


def test_mse_takes_integer_arrays_and_gives_float_results():
    value, gradient = MSE().value_and_gradient(np.array([[1], [3]]), np.array([[2], [3]]))
    assert value == 0.5
    np.testing.assert_array_equal(gradient, [[-1.0], [0.0]])
