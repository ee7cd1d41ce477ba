"""gradcheck: every activation, loss and bias layout passes; broken parts fail where they are."""

import itertools
import pickle
import re

import attrs
import numpy as np
import pytest
from helpers import BUILT_IN_ACTIVATIONS, built_in, numerical_gradient

import minifw.core.activations
import minifw.core.losses
from minifw import (
    MAE,
    MSE,
    Activation,
    BinaryCrossEntropy,
    ConfigError,
    DataError,
    Dense,
    GlorotUniform,
    GradcheckReport,
    Huber,
    Loss,
    Network,
    Normaliser,
    Tanh,
    gradcheck,
    stack,
)
from minifw.core.gradients import TINY, GradcheckRow, relative_error
from minifw.core.registry import Registry

ACTIVATIONS = built_in(Activation, minifw.core.activations)
LOSSES = {
    "mse": MSE(),
    "mae": MAE(),
    "huber": Huber(),
    "binary_cross_entropy": BinaryCrossEntropy(),
}
# Dense keyword arguments. "bias" draws the biases at random: the default zeros would let a
# bias gradient that is wrong by a factor of the bias (or a term in it) pass unseen.
BIASES = {
    "no bias": {"bias": False},
    "bias": {"bias_initializer": GlorotUniform()},
    "bias unit": {"bias_unit": True},
}
DEPTHS = [1, 2, 3]
SEED = 0
# Relative errors in float64 with ε = 1e-6 are ~1e-8 for gradients of ~1e-2; a wrong
# formula is off by a percent or more. 1e-5 sits between with room on both sides.
TOLERANCE = 1e-5
# How far every pre-activation and every loss kink must be from the point checked. A
# central difference straddling a kink averages two slopes: ReLU and LeakyReLU jump in
# slope at 0, ELU in curvature, MAE at pred = target and Huber at |pred - target| = δ. A
# nudge of ε = 1e-6 to one weight moves each pre-activation (and output) by ε times an
# input of order 1, three orders of magnitude short of this margin.
KINK_MARGIN = 1e-3
# The smallest gradient entry (other than an exact 0, as of a dead ReLU unit) that central
# differences resolve to TOLERANCE. The losses here are of order 1 and computed to ~1e-16
# of that, so with ε = 1e-6 a central difference is off by ~1e-10 in absolute terms
# (measured: up to 3e-10), whatever the entry's size: an entry of 1e-6 (a LeakyReLU's
# slope of 0.01 makes such) has a relative error of ~1e-4 however right backpropagation
# is. At 1e-4 the error is at most ~3e-6, with room under TOLERANCE.
RESOLVABLE = 1e-4


def test_the_matrix_covers_every_built_in_activation_and_loss():
    # If a filter above went wrong, the matrix would check nothing and still pass.
    assert set(ACTIVATIONS) == BUILT_IN_ACTIVATIONS
    assert set(LOSSES) == set(built_in(Loss, minifw.core.losses))


def build(activation, loss, bias, depth, dtype=np.float64):
    """``depth`` Dense layers of ``activation``, 2 inputs, 3 hidden units, 2 outputs.

    For binary cross-entropy, whose predictions must be probabilities, a sigmoid layer
    is put on top as the output, so the activation is still checked in ``depth`` layers.
    """
    widths = [2] + [3] * (depth - 1) + [2 if loss != "binary_cross_entropy" else 3]
    layers = [
        Dense(n_in, n_out, activation, **BIASES[bias]) for n_in, n_out in itertools.pairwise(widths)
    ]
    if loss == "binary_cross_entropy":
        layers.append(Dense(3, 2, "sigmoid", **BIASES[bias]))
    return Network(layers, seed=SEED, dtype=dtype)


def kinks_in_reach(network, loss, x, y):
    """Whether a pre-activation or a loss kink is within KINK_MARGIN of where x, y put it."""
    pred = network.forward(x)
    if any(np.any(np.abs(layer.pre_activation) < KINK_MARGIN) for layer in network.layers):
        return True
    d = np.abs(pred - y)
    if isinstance(loss, MAE):
        return bool(np.any(d < KINK_MARGIN))
    if isinstance(loss, Huber):
        return bool(np.any(np.abs(d - loss.delta) < KINK_MARGIN))
    return False


def too_small_to_resolve(network, loss, x, y):
    """Whether some gradient entry, not exactly 0, is below RESOLVABLE (see there)."""
    network.backward(loss.gradient(network.forward(x), y))
    size = np.abs(network.packed.grad)
    return bool(np.any((size > 0) & (size < RESOLVABLE)))


def batch(network, loss, rng, samples=4):
    """x, y drawn from ``rng``, again until central differences can check the gradient there.

    That is, until no kink is within reach (KINK_MARGIN) and no gradient entry is too
    small to resolve (RESOLVABLE). The draws for a network are the same every time.
    """
    for _ in range(100):
        x = rng.normal(size=(samples, network.n_inputs))
        if isinstance(loss, BinaryCrossEntropy):  # probabilities, away from 0 and 1
            y = rng.uniform(0.05, 0.95, size=(samples, network.n_outputs))
        else:
            y = rng.normal(size=(samples, network.n_outputs))
        if not kinks_in_reach(network, loss, x, y) and not too_small_to_resolve(
            network, loss, x, y
        ):
            return x, y
    raise AssertionError("no batch that central differences can check in 100 draws")


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("bias", BIASES)
@pytest.mark.parametrize("loss_name", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backpropagation_matches_central_differences(activation, loss_name, bias, depth):
    loss = LOSSES[loss_name]
    network = build(activation, loss_name, bias, depth)
    x, y = batch(network, loss, np.random.default_rng(SEED))
    report = gradcheck(network, loss, x, y, tolerance=TOLERANCE)
    assert report.ok, str(report)
    expected = [(i, p.name) for i, layer in enumerate(network.layers) for p in layer.parameters()]
    assert [(row.layer, row.parameter) for row in report.rows] == expected


# --- the checker has teeth -----------------------------------------------------------------


@attrs.frozen
class SteepTanh(Tanh):
    """tanh, with a derivative 1 % too large: 1.01 (1 - y²). A bug gradcheck must catch."""

    # A registry of its own keeps this class out of Activation's: other tests enumerate every
    # registered activation, and this one is wrong on purpose.
    registry = Registry["Activation"]("broken activation")

    def derivative(self, x, y):
        return 1.01 * super().derivative(x, y)


class DropsBiasGradient(Dense):
    """A Dense layer whose backward forgets the bias: dL/db left at 0. Everything else is right."""

    def backward(self, grad, *, input_grad=True):
        returned = super().backward(grad, input_grad=input_grad)
        self.parameters()[1].grad[...] = 0.0
        return returned


def failing(report):
    return {(row.layer, row.parameter) for row in report.rows if row.worst > report.tolerance}


def test_a_derivative_off_by_one_percent_fails_in_its_own_layer():
    network = Network([Dense(2, 3, SteepTanh(), bias_initializer=GlorotUniform()), Dense(3, 1)])
    x, y = batch(network, MSE(), np.random.default_rng(SEED))
    report = gradcheck(network, MSE(), x, y, tolerance=TOLERANCE)
    assert not report.ok
    # Only layer 0's gradients pass through the wrong derivative; layer 1's are right.
    assert failing(report) == {(0, "weights"), (0, "bias")}
    # Every gradient of layer 0 is 1.01 times the true one: |1.01n - n| / |1.01n| = 0.01 / 1.01.
    assert report.worst == pytest.approx(0.01 / 1.01, rel=1e-4)
    assert "layer 0 Dense 2→3 SteepTanh(), weights:" in str(report)


def test_a_dropped_bias_gradient_fails_for_that_layer_and_parameter_only():
    layers = [
        Dense(2, 3, "tanh"),
        DropsBiasGradient(3, 3, "tanh", bias_initializer=GlorotUniform()),
        Dense(3, 1),
    ]
    network = Network(layers, seed=SEED)
    x, y = batch(network, MSE(), np.random.default_rng(SEED))
    report = gradcheck(network, MSE(), x, y, tolerance=TOLERANCE)
    assert not report.ok
    assert failing(report) == {(1, "bias")}
    (row,) = [row for row in report.rows if row.worst > TOLERANCE]
    # Analytic 0 against a numeric gradient that is not: a relative error of exactly 1.
    assert (row.worst, row.analytic) == (1.0, 0.0) and row.numeric != 0.0
    assert row.layer_name == "DropsBiasGradient 3→3 tanh"
    (line,) = [line for line in str(report).splitlines() if "over tolerance" in line]
    assert line.startswith("layer 1 DropsBiasGradient 3→3 tanh, bias:")
    assert str(report).splitlines()[0].endswith(": FAILED")


# --- what gradcheck reports, and how ---------------------------------------------------------


def small_network(dtype=np.float64, activation="sigmoid", normaliser=None):
    layers = [Dense(2, 3, activation, bias_initializer=GlorotUniform()), Dense(3, 1)]
    return Network(layers, seed=SEED, dtype=dtype, normaliser=normaliser)


def small_batch():
    rng = np.random.default_rng(SEED)
    return rng.normal(size=(4, 2)), rng.normal(size=(4, 1))


def test_str_is_a_table_naming_each_layer_and_parameter():
    report = gradcheck(small_network(), MSE(), *small_batch())
    header, *lines = str(report).splitlines()
    assert re.fullmatch(
        r"gradcheck \(epsilon 1e-06\): worst relative error \d\.\de-\d\d, tolerance 1e-06: ok",
        header,
    )
    labels = [
        "layer 0 Dense 2→3 sigmoid, weights:",
        "layer 0 Dense 2→3 sigmoid, bias:   ",
        "layer 1 Dense 3→1 identity, weights:",
        "layer 1 Dense 3→1 identity, bias:   ",
    ]
    assert len(lines) == len(labels)
    for line, label, row in zip(lines, labels, report.rows, strict=True):
        assert line.startswith(label)
        assert line.endswith(f"worst relative error {row.worst:.1e} at {row.at}")
    assert report.worst == max(row.worst for row in report.rows)


def test_a_parameterised_activation_is_named_by_its_spec():
    report = gradcheck(small_network(activation="leaky_relu:alpha=0.2"), MSE(), *small_batch())
    assert report.rows[0].layer_name == "Dense 2→3 leaky_relu:alpha=0.2"


def test_the_worst_entry_is_located_and_its_two_gradients_given():
    network = small_network()
    x, y = small_batch()
    report = gradcheck(network, MSE(), x, y)
    # The same numbers by hand, on the caller's network now that gradcheck is done with it.
    network.backward(MSE().gradient(network.forward(x), y))
    for row, p in zip(report.rows, network.parameters(), strict=True):
        numeric = numerical_gradient(lambda _: MSE().value(network.forward(x), y), p.value)
        errors = relative_error(p.grad, numeric)
        assert row.at == np.unravel_index(np.argmax(errors), errors.shape)
        assert (row.analytic, row.numeric) == (p.grad[row.at], numeric[row.at])
        assert row.worst == errors[row.at] > 0


def test_relative_error_is_scaled_by_the_larger_size_and_zero_for_two_zeros():
    a = np.array([0.0, 1.0, 1e-8, 1.0, 0.0])
    n = np.array([0.0, 1.01, 1.01e-8, -1.0, 1e-300])
    expected = [0.0, 0.01 / 1.01, 0.01 / 1.01, 2.0, 1.0]
    np.testing.assert_allclose(relative_error(a, n), expected, rtol=1e-12)
    assert np.finfo(np.float64).smallest_normal == TINY


def test_a_dead_relu_unit_gives_exact_zeros_and_an_error_of_zero():
    network = small_network(activation="relu")
    network.layers[0].bias = [-100.0, 0.5, 0.5]  # unit 0 is off for any input near 0
    x, y = batch(network, MSE(), np.random.default_rng(SEED))
    report = gradcheck(network, MSE(), x, y, tolerance=TOLERANCE)
    assert report.ok, str(report)
    # Unit 0's weights have both gradients exactly 0: 0 / max(0, 0, TINY) = 0, not NaN.
    network.backward(MSE().gradient(network.forward(x), y))
    weights = network.parameters()[0]
    numeric = numerical_gradient(lambda _: MSE().value(network.forward(x), y), weights.value)
    assert np.all(weights.grad[:, 0] == 0) and np.all(numeric[:, 0] == 0)
    assert np.all(relative_error(weights.grad[:, 0], numeric[:, 0]) == 0)


def test_a_nan_anywhere_fails_the_report():
    rows = [
        GradcheckRow(0, "Dense 1→1 identity", "weights", 1e-9, (0, 0), 1.0, 1.0),
        GradcheckRow(0, "Dense 1→1 identity", "bias", float("nan"), (0,), float("nan"), 1.0),
    ]
    report = GradcheckReport(rows, tolerance=1e-6, epsilon=1e-6)
    assert np.isnan(report.worst) and not report.ok
    assert "nan" in str(report).splitlines()[0]


def test_a_loss_may_be_given_by_name():
    network, (x, y) = small_network(), small_batch()
    by_name = gradcheck(network, "huber:delta=0.5", x, y)
    assert by_name == gradcheck(network, Huber(delta=0.5), x, y)
    assert by_name != gradcheck(network, Huber(delta=2.0), x, y)


def test_targets_are_taken_in_the_networks_output_units():
    # A normaliser maps targets into the output range for training; gradcheck's y is already
    # there, as the trainer hands it to the loss, so the normaliser plays no part.
    x, y = small_batch()
    normalised = small_network(normaliser=Normaliser(([-1.0], [1.0]), (0, 5)))
    assert gradcheck(normalised, MSE(), x, y) == gradcheck(small_network(), MSE(), x, y)


def test_a_float32_network_is_checked_through_an_exact_float64_copy():
    network32 = small_network(np.float32)
    network64 = small_network(np.float64)
    for mine, theirs in zip(network64.parameters(), network32.parameters(), strict=True):
        mine.value[...] = theirs.value  # the float32 weights, exactly, in float64
    x, y = small_batch()
    report = gradcheck(network32, MSE(), x, y, tolerance=TOLERANCE)
    assert report.ok, str(report)  # in float32, L's rounding (~6e-8 L) / 2ε would be ~0.03 L
    assert report == gradcheck(network64, MSE(), x, y, tolerance=TOLERANCE)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_callers_network_is_unchanged_bit_for_bit(dtype):
    network = small_network(dtype)
    x, y = small_batch()
    # A forward and backward of its own first, so its caches and gradients hold something.
    network.backward(MSE().gradient(network.forward(x.astype(dtype)), y.astype(dtype)))
    before = pickle.dumps(network)
    cached = [layer.pre_activation for layer in network.layers]
    gradcheck(network, MSE(), x[:3], y[:3])  # another batch than the cached one
    assert pickle.dumps(network) == before
    assert all(layer.pre_activation is z for layer, z in zip(network.layers, cached, strict=True))
    # And still packed: each parameter a view into the one vector an optimizer updates.
    for p in network.parameters():
        assert np.shares_memory(p.value, network.packed.value)
        assert np.shares_memory(p.grad, network.packed.grad)


# --- bad input -------------------------------------------------------------------------------


def call_with(**changes):
    """gradcheck of a small network on a small batch, with ``changes`` to its arguments."""
    x, y = small_batch()
    return gradcheck(**{"network": small_network(), "loss": MSE(), "x": x, "y": y, **changes})


BAD_INPUTS = {
    "1-D x": ({"x": np.ones(4)}, DataError, r"x must be 2-D with shape \(samples, inputs\)"),
    "x of 3 columns": ({"x": np.ones((4, 3))}, DataError, r"x has 3 inputs per sample; expected 2"),
    "y of 2 columns": (
        {"y": np.ones((4, 2))},
        DataError,
        r"y has 2 outputs per sample; expected 1",
    ),
    "fewer targets": ({"y": np.ones((3, 1))}, DataError, r"y has 3 samples but x has 4"),
    "NaN in x": (
        {"x": np.array([[0.0, np.nan]])},
        DataError,
        r"x must be finite; found nan at row 0, column 1",
    ),
    "zero epsilon": ({"epsilon": 0.0}, ConfigError, r"epsilon must be a finite number > 0; got 0"),
    "negative epsilon": ({"epsilon": -1e-6}, ConfigError, r"epsilon must be a finite number > 0"),
    "NaN epsilon": ({"epsilon": float("nan")}, ConfigError, r"epsilon must be a finite number"),
    "text epsilon": ({"epsilon": "1e-6"}, ConfigError, r"epsilon must be a finite number"),
    "negative tolerance": (
        {"tolerance": -1.0},
        ConfigError,
        r"tolerance must be a finite number >= 0; got -1",
    ),
    "unknown loss": (
        {"loss": "msa"},
        ConfigError,
        r"unknown loss 'msa' \(.*--plugin FILE\); expected one of",
    ),
    "not a network": (
        {"network": Dense(2, 1)},
        ConfigError,
        r"gradcheck checks a minifw Network; got Dense",
    ),
    "a stack": (
        {"network": stack([small_network(), small_network()])},
        ConfigError,
        r"not a stack of 2 \(minifw\.stack\)",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_raises_a_specific_error(case):
    changes, error, message = BAD_INPUTS[case]
    with pytest.raises(error, match=message):
        call_with(**changes)


def test_bad_input_leaves_the_network_as_it_was():
    network = small_network()
    before = pickle.dumps(network)
    with pytest.raises(DataError):
        gradcheck(network, MSE(), np.ones((4, 2)), np.ones((4, 5)))
    assert pickle.dumps(network) == before
