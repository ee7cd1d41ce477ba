"""Activations: derivatives, numerical safety, output ranges and look-up by name."""

import math
from typing import ClassVar

import attrs
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import BUILT_IN_ACTIVATIONS, built_in, examples
from hypothesis import given, settings
from hypothesis import strategies as st

import minifw.core.activations
from minifw import (
    ELU,
    Activation,
    ConfigError,
    DataError,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softplus,
    Tanh,
)


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

# minifw's own activations, which promise no floating-point warning for any finite input.
# A user's own (UserSoftplus above: its x / 2 underflows for a subnormal x) promises nothing.
BUILT_IN_NAMES = built_in(Activation, minifw.core.activations)


def make(name):
    """The activation registered as ``name``, with its default hyperparameters."""
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
    assert "user_softplus" not in BUILT_IN_NAMES
    assert set(BUILT_IN_NAMES) >= BUILT_IN_ACTIVATIONS


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


# Arrays of any finite float64 values, subnormals and the extremes included.
FINITE_ARRAYS = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=1, max_dims=2, max_side=8),
    elements=st.floats(allow_nan=False, allow_infinity=False),
)


@settings(max_examples=examples(200), deadline=None)
@given(x=FINITE_ARRAYS)
def test_sigmoid_of_any_finite_float_is_in_unit_interval_without_warning(x):
    with np.errstate(all="raise"):
        y = Sigmoid().forward(x)
    assert y.shape == x.shape
    assert np.all((y >= 0) & (y <= 1))


def test_sigmoid_of_zero_is_one_half():
    assert Sigmoid().forward(np.zeros((1, 1)))[0, 0] == 0.5


@settings(max_examples=examples(100), deadline=None)
@given(x=float_matrices(-30, 30))
def test_sigmoid_matches_textbook_formula(x):
    np.testing.assert_allclose(Sigmoid().forward(x), 1 / (1 + np.exp(-x)), rtol=1e-15, atol=0)


@settings(max_examples=examples(50), deadline=None)
@given(x=float_matrices(dtype=np.float32))
def test_sigmoid_keeps_float32(x):
    y = Sigmoid().forward(x)
    assert y.dtype == np.float32
    assert np.all((y >= 0) & (y <= 1))


# --- Every built-in activation: no floating-point warning for any finite input ----------

# -1e4 to 1e4 evenly, sizes from the smallest subnormal to 1e4 on both sides of 0 (where
# products underflow), the largest floats, and exp's limits (708 for e^x and 745 for e^-x).
GRID = np.unique(
    np.concatenate(
        [
            np.linspace(-1e4, 1e4, 2001),
            np.geomspace(5e-324, 1e4, 600),
            -np.geomspace(5e-324, 1e4, 600),
            [1e300, -1e300, 1.7e308, -1.7e308, 0.0, 5e-324, -5e-324],
            [708.5, -708.5, 709.9, -709.9, 745.2, -745.2],
        ]
    )
)


@pytest.mark.parametrize("name", BUILT_IN_NAMES)
def test_no_floating_point_warning_anywhere_on_the_float64_range(name):
    activation = make(name)
    assert np.all(np.isfinite(GRID))
    with np.errstate(all="raise"):
        y = activation.forward(GRID)
        dy = activation.derivative(GRID, y)
    assert np.all(np.isfinite(y))
    assert np.all(np.isfinite(dy))
    low, high = activation.output_range
    assert np.all((low <= y) & (y <= high))


@pytest.mark.parametrize("name", BUILT_IN_NAMES)
@settings(max_examples=examples(100), deadline=None)
@given(x=FINITE_ARRAYS)
def test_no_floating_point_warning_for_any_finite_float64(name, x):
    activation = make(name)
    with np.errstate(all="raise"):
        y = activation.forward(x)
        dy = activation.derivative(x, y)
    assert y.shape == dy.shape == x.shape
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dy))


@pytest.mark.parametrize("name", BUILT_IN_NAMES)
def test_float32_stays_float32_without_warning(name):
    # Not subnormal float32 inputs: numpy's float32 exp flags them (see EXTREMES above), and
    # Sigmoid, Softplus and SiLU's derivative take exp of the input.
    activation = make(name)
    x = np.array(EXTREMES[np.float32] + [0.5, -0.5, 20.0, -20.0], dtype=np.float32)
    with np.errstate(all="raise"):
        y = activation.forward(x)
        dy = activation.derivative(x, y)
    assert y.dtype == dy.dtype == np.float32
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dy))
    # float32 arithmetic gives the float64 answer to float32 precision.
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(y, activation.forward(x64), rtol=1e-6, atol=1e-30)


@pytest.mark.parametrize("cls", [ELU, LeakyReLU, Sigmoid, SiLU, Softplus])
@pytest.mark.parametrize("dtype", [np.int64, np.float16])
def test_activations_that_keep_dtype_constants_name_the_dtypes_they_take(cls, dtype):
    with pytest.raises(DataError, match=f"{cls.__name__} takes float32 or float64 arrays"):
        cls().forward(np.zeros(3, dtype=dtype))


# --- The formulas, against numpy written out directly, at ordinary inputs -----------------

X = np.linspace(-20, 20, 4001).reshape(-1, 1)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


FORMULAS = {  # activation: (y(x), dy/dx(x)) written out plainly
    "leaky_relu": (
        LeakyReLU(),
        lambda x: np.where(x > 0, x, 0.01 * x),
        lambda x: np.where(x > 0, 1.0, 0.01),
    ),
    "leaky_relu_0.3": (
        LeakyReLU(alpha=0.3),
        lambda x: np.where(x > 0, x, 0.3 * x),
        lambda x: np.where(x > 0, 1.0, 0.3),
    ),
    "elu": (
        ELU(),
        lambda x: np.where(x > 0, x, np.exp(x) - 1),
        lambda x: np.where(x > 0, 1.0, np.exp(x)),
    ),
    "elu_2": (
        ELU(alpha=2.0),
        lambda x: np.where(x > 0, x, 2 * (np.exp(x) - 1)),
        lambda x: np.where(x > 0, 1.0, 2 * np.exp(x)),
    ),
    "softplus": (Softplus(), lambda x: np.log1p(np.exp(x)), sigmoid),
    "silu": (
        SiLU(),
        lambda x: x * sigmoid(x),
        lambda x: sigmoid(x) * (1 + x * (1 - sigmoid(x))),
    ),
    "tanh": (Tanh(), np.tanh, lambda x: 1 - np.tanh(x) ** 2),
}


@pytest.mark.parametrize("case", FORMULAS)
def test_formula_matches_numpy_written_out(case):
    activation, f, df = FORMULAS[case]
    y = activation.forward(X)
    # exp(x) - 1 loses up to ~1e-13 of relative precision near 0 (expm1 does not), and
    # SiLU's derivative crosses 0 near x = -1.28, where only an absolute tolerance makes sense.
    np.testing.assert_allclose(y, f(X), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(activation.derivative(X, y), df(X), rtol=1e-12, atol=1e-15)


def test_tanh_derivative_of_a_tiny_output_does_not_underflow():
    # 1 - y·y underflows for |y| < 1e-154; (1 - y)(1 + y) does not, and is 1 there.
    y = np.array([1e-160, -1e-200, 5e-324, 0.0])
    with np.errstate(all="raise"):
        dy = Tanh().derivative(y, y)
    np.testing.assert_array_equal(dy, 1.0)


@pytest.mark.parametrize("activation", [LeakyReLU(), LeakyReLU(alpha=0.5), ELU(), ELU(alpha=3.0)])
def test_tiny_negative_inputs_give_alpha_x_rounded_quietly_and_the_slope_alpha(activation):
    # α·x (and α(e^x - 1), which is α·x to every digit here) is below the smallest normal
    # float for the first three: it rounds to a subnormal or 0, with no underflow error.
    alpha = activation.alpha
    x = np.array([-5e-324, -1e-310, -1e-308 / alpha, -1e-306 / alpha, -1e-300])
    with np.errstate(all="raise"):
        y = activation.forward(x)
        dy = activation.derivative(x, y)
    with np.errstate(under="ignore"):
        expected = alpha * x
    assert np.all(np.abs(expected[:3]) < np.finfo(np.float64).smallest_normal)
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(dy, alpha)


def test_elu_saturates_at_minus_alpha_with_zero_slope():
    x = np.array([-40.0, -1e4, -1e300])
    y = ELU(alpha=2.5).forward(x)
    np.testing.assert_array_equal(y, -2.5)
    np.testing.assert_array_equal(ELU(alpha=2.5).derivative(x, y), 0.0)


def test_silu_far_below_zero_gives_a_tiny_negative_number_not_minus_3e_minus_8():
    # Sigmoid's bound alone would give x·sigmoid(x) = -1e300·e^(-708) = -3e-8 here.
    y = SiLU().forward(np.array([-1e300, -1e4, -800.0]))
    assert np.all((y < 0) & (y > -1e-300))


def test_softplus_is_x_for_large_x_and_positive_below_zero():
    x = np.array([40.0, 1e4, 1e300, -40.0, -1e4, -1e300])
    y = Softplus().forward(x)
    np.testing.assert_array_equal(y[:3], x[:3])
    assert np.all(y[3:] > 0)
    assert y[3] == pytest.approx(np.exp(-40.0), rel=1e-15)


# --- Output ranges: per instance where a hyperparameter sets them ------------------------


def test_output_range_is_read_from_instances_whether_class_attribute_or_property():
    assert Sigmoid().output_range == (0.0, 1.0)
    assert Identity().output_range == (-math.inf, math.inf)
    assert ELU().output_range == (-1.0, math.inf)
    assert ELU(alpha=0.5).output_range == (-0.5, math.inf)
    assert LeakyReLU().output_range == (-math.inf, math.inf)
    assert LeakyReLU(alpha=0.0).output_range == (0.0, math.inf)
    assert Softplus().output_range == (0.0, math.inf)


def test_silu_output_range_starts_just_below_its_true_minimum():
    # The minimum of x·sigmoid(x) is -W(1/e) = -0.2784645427610738 (W: Lambert's), at
    # x = -1 - W(1/e). Every float32 near it, and a dense float64 sample, stay above the range's
    # low end, which is within a millionth of the minimum.
    true_minimum = -0.2784645427610738
    low, high = SiLU().output_range
    assert high == math.inf
    assert true_minimum * (1 + 2e-6) < low < true_minimum
    first, last = np.array([-1.6, -1.0], dtype=np.float32).view(np.int32)
    every_float32 = np.arange(last, first + 1, dtype=np.int32).view(np.float32)
    near = -1.2784645427610738 + np.linspace(-1e-4, 1e-4, 1_000_001)
    for x in (every_float32, near):
        y = SiLU().forward(x)
        assert y.min() >= low
        assert y.min() == pytest.approx(true_minimum, rel=2e-7)


# --- Hyperparameters -----------------------------------------------------------------------


@pytest.mark.parametrize("cls", [LeakyReLU, ELU])
@pytest.mark.parametrize("alpha", [-0.1, math.nan, math.inf, "a", None])
def test_invalid_alpha_raises_config_error_naming_the_field(cls, alpha):
    with pytest.raises(ConfigError, match=rf"{cls.__name__}\.alpha must be a finite number >= 0"):
        cls(alpha=alpha)


def test_activations_with_the_same_alpha_are_equal():
    assert LeakyReLU(alpha=0.2) == LeakyReLU(alpha=0.2)
    assert LeakyReLU(alpha=0.2) != LeakyReLU(alpha=0.3)
    assert hash(ELU(alpha=2.0)) == hash(ELU(alpha=2.0))
    assert repr(ELU(alpha=2.0)) == "ELU(alpha=2.0)"


@pytest.mark.parametrize(
    ("spec", "cls"),
    [("leaky_relu", LeakyReLU), ("elu", ELU), ("softplus", Softplus), ("silu", SiLU)],
)
def test_new_activations_resolve_by_name_with_parameters(spec, cls):
    assert type(Activation.resolve(spec)) is cls
    if "alpha" in attrs.fields_dict(cls):
        assert Activation.resolve(spec, alpha=0.25) == cls(alpha=0.25)


# --- Look-up by name ---------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["ReLU", "relu", "RELU"])
def test_resolve_is_case_insensitive(spec):
    assert isinstance(Activation.resolve(spec), ReLU)


def test_resolve_passes_an_instance_through():
    relu = ReLU()
    assert Activation.resolve(relu) is relu


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(ConfigError, match="unknown activation 'mish'") as info:
        Activation.resolve("mish")
    for name in ACTIVATION_NAMES:
        assert name in str(info.value)


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.complex128])
def test_sigmoid_names_the_dtypes_it_takes(dtype):
    with pytest.raises(
        DataError, match=f"Sigmoid takes float32 or float64 arrays; got {np.dtype(dtype)}"
    ):
        Sigmoid().forward(np.zeros(3, dtype=dtype))
