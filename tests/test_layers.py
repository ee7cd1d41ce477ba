"""Dense: parameters and their assignment, initialization, backpropagation, checks."""

import numpy as np
import pytest
from helpers import examples, numerical_gradient
from hypothesis import given, settings
from hypothesis import strategies as st

from minifw import ConfigError, DataError, Dense, HeUniform


def initialized(layer, seed=0):
    layer.initialize(np.random.default_rng(seed))
    return layer


# --- Parameters --------------------------------------------------------------------------


def test_dense_parameter_shapes():
    layer = Dense(3, 2)
    assert layer.weights.shape == (3, 2)
    assert layer.bias.shape == (2,)


def test_dense_without_bias_has_none():
    layer = Dense(3, 2, bias=False)
    assert layer.bias is None
    assert [p.name for p in layer.parameters()] == ["weights"]


def test_parameters_are_weights_then_bias_by_reference():
    layer = initialized(Dense(3, 2))
    weights, bias = layer.parameters()
    assert (weights.name, bias.name) == ("weights", "bias")
    assert weights.value is layer.weights
    assert bias.value is layer.bias
    assert weights.grad.shape == (3, 2)
    assert bias.grad.shape == (2,)


@pytest.mark.parametrize("attribute", ["weights", "bias"])
def test_assignment_copies_into_the_existing_array(attribute):
    layer = Dense(3, 2)
    parameter = {"weights": 0, "bias": 1}[attribute]
    before = getattr(layer, attribute)
    new = np.random.default_rng(0).normal(size=before.shape)
    setattr(layer, attribute, new)
    assert getattr(layer, attribute) is before  # the same array, now holding the new values
    np.testing.assert_array_equal(layer.parameters()[parameter].value, new)
    expected = new.copy()
    new[...] = 0.0  # a copy was taken: changing the caller's array later changes nothing
    np.testing.assert_array_equal(getattr(layer, attribute), expected)


def one_entry(value):
    """A bad value for an array of ``shape``: ones, with its last entry set to ``value``."""

    def make(shape):
        array = np.ones(shape)
        array.flat[-1] = value
        return array

    return make


# name -> (a bad value for an array of a given shape, what the error message says)
BAD_ASSIGNMENTS = {
    "extra axis": (lambda shape: np.ones((*shape, 1)), "must have shape"),
    "one entry short": (lambda shape: np.ones(shape).ravel()[:-1], "must have shape"),
    "scalar": (lambda shape: 1.0, "must have shape"),
    "a NaN": (one_entry(np.nan), "must be finite"),
    "an inf": (one_entry(-np.inf), "must be finite"),
    "text": (lambda shape: np.full(shape, "abc"), "must hold real numbers"),
}


@pytest.mark.parametrize("attribute", ["weights", "bias"])
@pytest.mark.parametrize("bad", BAD_ASSIGNMENTS)
def test_bad_assignment_raises_data_error_and_keeps_the_values(attribute, bad):
    make_bad, message = BAD_ASSIGNMENTS[bad]
    layer = initialized(Dense(3, 2))
    layer.bias = np.arange(2.0)  # non-zero, so "unchanged" means something
    before = getattr(layer, attribute).copy()
    with pytest.raises(DataError, match=rf"Dense\.{attribute} {message}"):
        setattr(layer, attribute, make_bad(before.shape))
    np.testing.assert_array_equal(getattr(layer, attribute), before)


def test_bias_of_a_bias_free_layer_cannot_be_assigned():
    layer = Dense(3, 2, bias=False)
    with pytest.raises(ConfigError, match="no bias"):
        layer.bias = np.zeros(2)
    assert layer.bias is None


@pytest.mark.parametrize(("n_in", "n_out"), [(1, 1), (1, 5), (4, 3)])
def test_bias_unit_draws_bias_and_weights_as_one_matrix(n_in, n_out):
    initializer = HeUniform()
    layer = Dense(n_in, n_out, bias_unit=True, initializer=initializer)
    layer.initialize(np.random.default_rng(42))
    drawn = initializer((n_in + 1, n_out), np.random.default_rng(42))
    np.testing.assert_array_equal(layer.bias, drawn[0])
    np.testing.assert_array_equal(layer.weights, drawn[1:])


def test_bias_unit_needs_a_bias():
    with pytest.raises(ConfigError, match="bias_unit=True needs bias=True"):
        Dense(2, 2, bias=False, bias_unit=True)


# --- Backpropagation ---------------------------------------------------------------------


@st.composite
def dense_cases(draw):
    """A small initialized Dense layer, an input batch x and a fixed weighting c of its output."""
    n_in, n_out, batch = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 5))
    activation = draw(st.sampled_from(["sigmoid", "tanh", "identity"]))
    bias = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    layer = initialized(Dense(n_in, n_out, activation, bias=bias), seed=rng.integers(2**32))
    if bias:
        layer.bias = rng.normal(size=n_out)  # the default zeros would hide a wrong bias term
    x = rng.normal(size=(batch, n_in))
    c = rng.normal(size=(batch, n_out))
    return layer, x, c


@settings(max_examples=examples(150), deadline=None)
@given(case=dense_cases())
def test_backward_matches_finite_differences(case):
    # L = Σ c ⊙ layer(x), so dL/d(output) = c: backward(c) must give dL/dW, dL/db and dL/dx.
    layer, x, c = case

    def loss(_):
        return float(np.sum(c * layer.forward(x)))

    layer.forward(x)
    input_grad = layer.backward(c)
    analytic = {p.name: p.grad.copy() for p in layer.parameters()}
    analytic["input"] = input_grad

    numeric = {p.name: numerical_gradient(loss, p.value) for p in layer.parameters()}
    numeric["input"] = numerical_gradient(loss, x)

    assert analytic.keys() == numeric.keys()
    for name in analytic:
        np.testing.assert_allclose(
            analytic[name], numeric[name], rtol=1e-5, atol=1e-7, err_msg=name
        )


def forward_backward(layer, x, c, **kwargs):
    layer.forward(x)
    returned = layer.backward(c, **kwargs)
    return returned, [p.grad.copy() for p in layer.parameters()]


def batch(seed=0, n_in=3, n_out=2, samples=4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(samples, n_in)), rng.normal(size=(samples, n_out))


def test_backward_overwrites_gradients_instead_of_adding():
    layer = initialized(Dense(3, 2, "tanh"))
    x, c = batch()
    first_input_grad, first = forward_backward(layer, x, c)
    second_input_grad, second = forward_backward(layer, x, c)
    assert any(np.any(g != 0) for g in first)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first_input_grad, second_input_grad)


def test_backward_before_forward_raises():
    layer = initialized(Dense(3, 2))
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((4, 2)))


def test_input_grad_false_returns_none_but_still_sets_parameter_gradients():
    layer = initialized(Dense(3, 2, "sigmoid"))
    x, c = batch()
    _, with_input = forward_backward(layer, x, c)
    for p in layer.parameters():
        p.grad[...] = np.nan  # so a gradient left unwritten would show
    returned, without_input = forward_backward(layer, x, c, input_grad=False)
    assert returned is None
    for a, b in zip(with_input, without_input, strict=True):
        np.testing.assert_array_equal(a, b)


# --- Hyperparameter checks ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 3), r"Dense\.n_in must be a whole number >= 1; got 0"),
        ((3, -1), r"Dense\.n_out must be a whole number >= 1; got -1"),
        ((1.5, 3), r"Dense\.n_in must be a whole number >= 1; got 1\.5"),
        ((True, 3), r"Dense\.n_in must be a whole number >= 1; got True"),
        ((2, 3, "mish"), r"unknown activation 'mish' \(.*\); expected one of: .*identity"),
    ],
)
def test_bad_hyperparameters_raise_config_error(args, message):
    with pytest.raises(ConfigError, match=message):
        Dense(*args)


def test_repr_reads_back_as_the_call_that_made_the_layer():
    from minifw import Identity, Sigmoid, Zeros  # noqa: F401  (names the repr uses)

    for layer in [
        Dense(1, 5, "sigmoid", bias_unit=True, initializer=HeUniform(scale=0.5)),
        Dense(3, 2, bias=False),
    ]:
        again = eval(repr(layer))
        assert repr(again) == repr(layer)
        assert (again.n_in, again.n_out, again.use_bias, again.bias_unit) == (
            layer.n_in,
            layer.n_out,
            layer.use_bias,
            layer.bias_unit,
        )
        assert again.activation == layer.activation and again.initializer == layer.initializer
