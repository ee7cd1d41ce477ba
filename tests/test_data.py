"""Data: FunctionSource sampling, the Normaliser's affine map, ArraySource checks."""

import math
import warnings

import numpy as np
import pytest
from helpers import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from minifw import ArraySource, ConfigError, DataError, FunctionSource, Normaliser

# --- FunctionSource ----------------------------------------------------------------------


def test_function_source_samples_the_blog_domain():
    source = FunctionSource(np.sin, (0, 6.28), 32)
    x, y = source.arrays()
    np.testing.assert_array_equal(x, np.linspace(0, 6.28, 32).reshape(32, 1))
    np.testing.assert_array_equal(y, np.sin(x))


def test_function_source_evaluates_half_a_step_to_the_right():
    source = FunctionSource(np.sin, (0, 6.28), 32)
    x, _ = source.arrays()
    x_eval, y_eval = source.evaluation_arrays()
    np.testing.assert_array_equal(x_eval, x + 6.28 / 31 / 2)
    np.testing.assert_array_equal(y_eval, np.sin(x_eval))


@pytest.mark.parametrize(
    "domain",
    [
        (1, 1),
        (2, 1),
        (0, math.inf),
        (-math.inf, 0),
        (math.nan, 1),
        (0, math.nan),
        (0, 1, 2),
        ("a", 1),
        5,
        (1j, 2),
    ],
)
def test_function_source_rejects_a_bad_domain(domain):
    with pytest.raises(ConfigError, match="domain must be two finite numbers"):
        FunctionSource(np.sin, domain)


@pytest.mark.parametrize("n", [1, 0, -3, 2.5])
def test_function_source_needs_at_least_two_points(n):
    with pytest.raises(ConfigError, match=r"FunctionSource\.n must be a whole number >= 2"):
        FunctionSource(np.sin, (0, 1), n)


def with_nan(x):
    y = np.sin(x)
    y[3, 0] = np.nan
    return y


@pytest.mark.parametrize(
    ("f", "message"),
    [
        (lambda x: np.sin(x).ravel(), r"must return shape \(8, outputs\).*got shape \(8,\)"),
        (lambda x: np.sin(x)[:-1], r"must return shape \(8, outputs\).*got shape \(7, 1\)"),
        (with_nan, "f\\(x\\) must be finite; found nan at row 3, column 0"),
    ],
    ids=["1-D", "a row short", "NaN"],
)
@pytest.mark.parametrize("method", ["arrays", "evaluation_arrays"])
def test_function_source_rejects_a_bad_function(f, message, method):
    source = FunctionSource(f, (0, 1), 8)
    with pytest.raises(DataError, match=message):
        getattr(source, method)()


def test_a_function_nan_somewhere_is_refused_with_its_x_and_without_numpy_warnings():
    source = FunctionSource(lambda x: np.log(x - 0.5), (0, 1), 8)  # NaN for x < 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "invalid value encountered in log"
        with pytest.raises(
            DataError, match=r"found nan at row 0, column 0, where x = \[0\.0\] \(4 non-finite"
        ):
            source.arrays()


def test_function_source_rejects_complex_results_like_array_source():
    source = FunctionSource(lambda x: np.exp(1j * x), (0, 1), 8)
    with pytest.raises(DataError, match="must hold real numbers"):
        source.arrays()


# --- Normaliser --------------------------------------------------------------------------


def magnitude(low, high):
    return max(abs(low), abs(high))


def usable(interval):
    """A range of non-negligible width for its magnitude, and not absurdly close to zero.

    Below ~1e-154 the map's intermediate product (y - lo)(b - a) of two such widths
    would underflow, a limit of floating point rather than of the normaliser.
    """
    low, high = interval
    return magnitude(low, high) >= 1e-100 and abs(high - low) >= 1e-3 * magnitude(low, high)


# (low, high) in either order, |low|, |high| <= 1e6.
intervals = st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)).filter(usable)


@settings(max_examples=examples(300), deadline=None)
@given(source=intervals, target=intervals, data=st.data())
def test_normaliser_inverse_undoes_forward(source, target, data):
    lo, hi = source
    a, b = target
    values = st.floats(min(lo, hi), max(lo, hi))
    y = np.array(data.draw(st.lists(values, min_size=1, max_size=6))).reshape(-1, 1)
    normaliser = Normaliser(source, target)

    # Each step rounds in the units of a whole range, not of y: y near a zero crossing can be
    # far smaller than the range, so relative error alone is meaningless there. The absolute
    # rounding is a few ulps of max(|lo|, |hi|), amplified by at most max(|a|, |b|) / |b - a|
    # <= 1e3 when the target is narrow for its offset: under 3e-13 of the source magnitude.
    # The same argument in the target's units bounds forward(lo) and forward(hi).
    source_tol = 1e-12 * magnitude(lo, hi)
    target_tol = 1e-12 * magnitude(a, b)
    round_trip = normaliser.inverse(normaliser.forward(y))
    np.testing.assert_allclose(round_trip, y, rtol=1e-12, atol=source_tol)
    ends = normaliser.forward(np.array([[lo], [hi]]))
    np.testing.assert_allclose(ends, [[a], [b]], rtol=1e-12, atol=target_tol)


def test_normaliser_flipped_tanh_range_of_the_blog():
    normaliser = Normaliser((-1.0, 1.0), (0.0, -1.0))
    np.testing.assert_array_equal(
        normaliser.forward(np.array([[-1.0], [0.0], [1.0]])), [[0.0], [-0.5], [-1.0]]
    )
    np.testing.assert_array_equal(normaliser.inverse(np.array([[0.0], [-1.0]])), [[-1.0], [1.0]])


def test_normaliser_fit_maps_each_columns_min_and_max_onto_the_target():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(20, 3)) * [1.0, 100.0, 0.01] + [0.0, -50.0, 7.0]
    normalised = Normaliser.fit(y, (0, 1)).forward(y)
    np.testing.assert_array_equal(normalised.min(axis=0), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(normalised.max(axis=0), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(np.argmin(normalised, axis=0), np.argmin(y, axis=0))
    np.testing.assert_array_equal(np.argmax(normalised, axis=0), np.argmax(y, axis=0))


def test_normaliser_fit_rejects_a_constant_column():
    y = np.column_stack([np.linspace(0, 1, 5), np.full(5, 2.0)])
    with pytest.raises(DataError, match=r"column\(s\) \[1\] are constant"):
        Normaliser.fit(y, (0, 1))


@pytest.mark.parametrize("side", ["source", "target"])
@pytest.mark.parametrize("bad", [(1.0, 1.0), (0.0, math.nan), (math.nan, 1.0), (0.0, math.inf)])
def test_normaliser_rejects_a_degenerate_or_non_finite_range(side, bad):
    ranges = {"source": (0.0, 1.0), "target": (-1.0, 1.0)} | {side: bad}
    with pytest.raises(DataError, match=f"Normaliser {side} range must be finite with low != high"):
        Normaliser(**ranges)


# --- ArraySource -------------------------------------------------------------------------


def column(n=5):
    return np.linspace(0, 1, n).reshape(-1, 1)


def test_array_source_hands_back_its_arrays_as_float64():
    x, y = np.arange(6).reshape(3, 2), np.arange(3).reshape(3, 1)
    got_x, got_y = ArraySource(x, y).arrays()
    assert got_x.dtype == got_y.dtype == np.float64
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)


@pytest.mark.parametrize("name", ["x", "y"])
def test_array_source_rejects_1d_with_a_reshape_hint(name):
    arrays = {"x": column(), "y": column()} | {name: np.linspace(0, 1, 5)}
    with pytest.raises(DataError, match=rf"{name}\.reshape\(-1, 1\)"):
        ArraySource(**arrays)


@pytest.mark.parametrize("name", ["x", "y"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_array_source_rejects_non_finite_values_naming_row_and_column(name, bad):
    array = np.zeros((5, 3))
    array[2, 1] = bad
    arrays = {"x": column(), "y": column()} | {name: array}
    with pytest.raises(DataError, match=rf"{name} must be finite; found {bad} at row 2, column 1"):
        ArraySource(**arrays)


def test_array_source_rejects_mismatched_sample_counts():
    with pytest.raises(DataError, match="x has 5 samples but y has 4"):
        ArraySource(column(5), column(4))


@pytest.mark.parametrize(
    "bad",
    [
        np.array([["1"], ["2"]]),
        np.array([[1.0], [2.0]], dtype=object),
        np.array([[1.0], [2.0]], dtype=complex),
    ],
    ids=["string", "object", "complex"],
)
@pytest.mark.parametrize("name", ["x", "y"])
def test_array_source_rejects_non_real_dtypes(bad, name):
    arrays = {"x": column(2), "y": column(2)} | {name: bad}
    with pytest.raises(DataError, match=rf"{name} must hold real numbers"):
        ArraySource(**arrays)


def test_an_array_source_takes_validation_data_as_given_or_a_fraction_but_not_both():
    x = np.linspace(0, 1, 10).reshape(-1, 1)
    held = (np.array([[0.5]]), np.array([[2.0]]))
    source = ArraySource(x, 2 * x, validation_data=held)
    assert source.validation_arrays() is source.validation_data
    np.testing.assert_array_equal(source.arrays()[0], x)  # nothing held out of the training set
    with pytest.raises(ConfigError, match=r"validation=0.2 \(a fraction to hold out\) or "):
        ArraySource(x, 2 * x, validation=0.2, validation_data=held)
    with pytest.raises(DataError, match=r"y_val has 2 column\(s\) but y has 1"):
        ArraySource(x, 2 * x, validation_data=(held[0], np.ones((1, 2))))
    with pytest.raises(DataError, match=r"x_val has 1 samples but y_val has 2"):
        ArraySource(x, 2 * x, validation_data=(held[0], np.ones((2, 1))))


def test_function_source_draws_its_data_once_and_hands_it_out_read_only():
    # A run reads its data several times (to build, to check, to fit): the source keeps what
    # it drew, so each read is the same arrays, which no reader may change in place.
    calls = []

    def f(x):
        calls.append(len(x))
        return np.sin(x)

    source = FunctionSource(f, (0.0, 6.28), 32, noise=0.1, validation=0.25)
    (x, y), (x_val, y_val) = source.arrays(), source.validation_arrays()
    assert source.arrays()[0] is x and source.validation_arrays()[1] is y_val
    assert len(calls) == 1
    assert source.evaluation_arrays()[0] is source.evaluation_arrays()[0]
    assert len(calls) == 2
    for array in (x, y, x_val, y_val, *source.evaluation_arrays()):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0.0
    again = FunctionSource(f, (0.0, 6.28), 32, noise=0.1, validation=0.25)
    assert np.array_equal(again.arrays()[1], y) and again == source
