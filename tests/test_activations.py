"""Activations: derivatives, numerical safety, output ranges and look-up by name."""

import math
from typing import ClassVar

import attrs
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import elementwise_difference
from hypothesis import given, settings
from hypothesis import strategies as st

from minifw import Activation, ConfigError, DataError, ReLU, Sigmoid


@attrs.frozen
class UserSoftplus(Activation):
    """y = log(1 + e^x),  dy/dx = sigmoid(x): a user's own activation.

    Defined here, before the registered names are collected below, to show that a
    subclass written anywhere is registered (as "user_softplus") and so tested too.
    """

    output_range: ClassVar[tuple[float, float]] = (0.0, math.inf)

    def forward(self, x):
        return np.logaddexp(0.0, x)

    def derivative(self, x, y):
        return 0.5 * (1.0 + np.tanh(x / 2))


# Every activation registered at import time, the built-in ones and UserSoftplus alike.
ACTIVATION_NAMES = Activation.registry.names()

# The point where ReLU's derivative jumps; a finite difference across it is meaningless.
KINKS = {"relu": 0.0}


def make(name):
    return Activation.registry.get(name)()


def float_matrices(low=None, high=None, dtype=np.float64):
    """Arrays of shape (n, k), n and k in 1..6, of finite floats in [low, high] (all if None)."""
    elements = st.floats(
        low,
        high,
        allow_nan=False,
        allow_infinity=False,
        width=np.dtype(dtype).itemsize * 8,
    )
    return hnp.arrays(
        dtype, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6), elements=elements
    )


def test_user_subclass_is_registered_and_collected():
    assert "user_softplus" in ACTIVATION_NAMES
    assert isinstance(Activation.resolve("user_softplus"), UserSoftplus)
    assert {"identity", "relu", "sigmoid", "tanh"} <= set(ACTIVATION_NAMES)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
@settings(max_examples=60, deadline=None)
@given(x=float_matrices(-20, 20))
def test_derivative_matches_finite_difference(name, x):
    activation = make(name)
    analytic = activation.derivative(x, activation.forward(x))
    numeric = elementwise_difference(activation.forward, x, h=1e-6)
    assert analytic.shape == x.shape
    away_from_kink = np.ones(x.shape, dtype=bool)
    if name in KINKS:
        away_from_kink = np.abs(x - KINKS[name]) >= 1e-3
    np.testing.assert_allclose(
        analytic[away_from_kink], numeric[away_from_kink], rtol=1e-5, atol=1e-7
    )


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_outputs_lie_within_output_range(name):
    activation = make(name)
    low, high = activation.output_range
    y = activation.forward(np.linspace(-50, 50, 10_001).reshape(-1, 1))
    assert np.all((low <= y) & (y <= high))


# --- Sigmoid: the blog's default, computed so that no finite input overflows ----------------

# ±1000 overflow a naive exp(-x); ±1e300 and ±max overflow even exp(x / 2); 5e-324 is the
# smallest float64 (subnormal). float32 stops at its smallest normal number: numpy's float32
# exp (its SIMD kernel, at least) flags underflow for subnormal inputs, although e^x = 1 there.
EXTREMES = {
    np.float64: [1000.0, -1000.0, 1e300, -1e300, 1.7e308, -1.7e308, 0.0, 5e-324, -5e-324],
    np.float32: [1000.0, -1000.0, 3.4e38, -3.4e38, 88.0, -88.0, 0.0, 1.2e-38, -1.2e-38],
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_extremes_raise_no_floating_point_warning(dtype):
    x = np.array(EXTREMES[dtype], dtype=dtype)
    assert np.all(np.isfinite(x))
    with np.errstate(all="raise"):
        y = Sigmoid().forward(x)
    assert np.all((y >= 0) & (y <= 1))
    np.testing.assert_array_equal(y[x > 100], 1.0)
    np.testing.assert_array_less(y[x < -100], 1e-30)


@settings(max_examples=200, deadline=None)
@given(
    x=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=2, max_side=8),
        elements=st.floats(allow_nan=False, allow_infinity=False),
    )
)
def test_sigmoid_of_any_finite_float_is_in_unit_interval_without_warning(x):
    with np.errstate(all="raise"):
        y = Sigmoid().forward(x)
    assert y.shape == x.shape
    assert np.all((y >= 0) & (y <= 1))


def test_sigmoid_of_zero_is_one_half():
    assert Sigmoid().forward(np.zeros((1, 1)))[0, 0] == 0.5


@settings(max_examples=100, deadline=None)
@given(x=float_matrices(-30, 30))
def test_sigmoid_matches_textbook_formula(x):
    np.testing.assert_allclose(Sigmoid().forward(x), 1 / (1 + np.exp(-x)), rtol=1e-15, atol=0)


@settings(max_examples=50, deadline=None)
@given(x=float_matrices(dtype=np.float32))
def test_sigmoid_keeps_float32(x):
    y = Sigmoid().forward(x)
    assert y.dtype == np.float32
    assert np.all((y >= 0) & (y <= 1))


def test_sigmoid_does_not_modify_its_input():
    x = np.array([[-800.0, 0.0, 800.0]])
    Sigmoid().forward(x)
    np.testing.assert_array_equal(x, [[-800.0, 0.0, 800.0]])


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_forward_accepts_a_zero_dimensional_array(name):
    # Activation.forward documents "x is a float array of any shape"; 0-d is a shape too.
    activation = make(name)
    y = activation.forward(np.array(0.5))
    assert np.shape(y) == ()
    assert float(y) == activation.forward(np.array([0.5]))[0]


# --- Look-up by name ---------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["ReLU", "relu", "RELU"])
def test_resolve_is_case_insensitive(spec):
    assert isinstance(Activation.resolve(spec), ReLU)


def test_resolve_passes_an_instance_through():
    relu = ReLU()
    assert Activation.resolve(relu) is relu


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(ConfigError, match="unknown activation 'swish'") as info:
        Activation.resolve("swish")
    for name in ACTIVATION_NAMES:
        assert name in str(info.value)


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.complex128])
def test_sigmoid_names_the_dtypes_it_takes(dtype):
    with pytest.raises(
        DataError, match=f"Sigmoid takes float32 or float64 arrays; got {np.dtype(dtype)}"
    ):
        Sigmoid().forward(np.zeros(3, dtype=dtype))
