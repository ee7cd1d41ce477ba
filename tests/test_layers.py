"""Dense: parameters and their assignment, initialization, backpropagation, checks."""

import numpy as np
import pytest

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


def test_backward_before_forward_raises():
    layer = initialized(Dense(3, 2))
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((4, 2)))


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


def test_dense_backward_reads_what_remember_was_handed_as_after_its_own_forward():
    # The compiled engine runs the forward in its kernels and hands Dense its buffers: the
    # backward and pre_activation must then read them exactly as after Dense's own forward.
    rng = np.random.default_rng(3)
    layer = Dense(3, 4, "tanh")
    layer.initialize(rng)
    x, grad = rng.normal(size=(5, 3)), rng.normal(size=(5, 4))
    y = layer.forward(x)
    z = layer.pre_activation.copy()
    expected = layer.backward(grad), layer.parameters()[0].grad.copy()
    other = Dense(3, 4, "tanh")
    other.weights, other.bias = layer.weights, layer.bias
    other.remember(x, z, y)
    assert other.pre_activation is z
    got = other.backward(grad), other.parameters()[0].grad
    assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
