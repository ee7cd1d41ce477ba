"""Network.describe: one row per layer, with numbers that match a direct computation."""

import math
import re

import numpy as np
import pytest

import minifw
from minifw import Dense, HeUniform, Layer, Network, Parameter

COLUMNS = [
    "#",
    "layer",
    "activation",
    "initializer",
    "fan-in",
    "Var(W) drawn",
    "Var(W) promised",
    "E[x²]",
    "Var(z)",
]


def table(text, columns=COLUMNS):
    """The rows of describe()'s table below its header, each a dict of column -> cell."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("#  layer"))
    # Cells are separated by two or more spaces and never contain two in a row.
    assert re.split(r" {2,}", lines[start]) == columns
    return [
        dict(zip(columns, re.split(r" {2,}", line), strict=True)) for line in lines[start + 1 :]
    ]


# Once the weights are no longer those drawn, the column says so.
NOW = [name.replace("Var(W) drawn", "Var(W) now") for name in COLUMNS]


def printed(value):
    return f"{value:.4g}"


def mean_square_of(f, variance):
    """E[f(z)²] for z ~ N(0, variance), by the trapezoid rule: no random numbers."""
    sd = math.sqrt(variance)
    z = np.linspace(-12 * sd, 12 * sd, 200_001)
    density = np.exp(-0.5 * (z / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
    return float(np.trapezoid(f(z) ** 2 * density, z))


@pytest.fixture
def blog_network():
    return minifw.presets.blog().network


@pytest.fixture
def tanh_network():
    init = HeUniform()
    return Network(
        [
            Dense(1, 8, "tanh", initializer=init),
            Dense(8, 8, "tanh", initializer=init),
            Dense(8, 1, "tanh", initializer=init),
        ],
        seed=3,
    )


def test_header_states_the_assumptions(blog_network):
    header = " ".join(blog_network.describe().split("#  layer")[0].split())  # unwrapped
    assert "E[x²] = 1 for the network's inputs" in header
    assert "x = 1 for a bias unit" in header
    assert "100,000 draws from numpy.random.default_rng(0)" in header


def test_blog_network_rows(blog_network):
    hidden, output = blog_network.layers
    rows = table(blog_network.describe())
    assert [row["#"] for row in rows] == ["0", "1"]
    assert [row["layer"] for row in rows] == ["Dense 1→5", "Dense 5→1"]
    assert [row["activation"] for row in rows] == ["Sigmoid()", "Sigmoid()"]
    # The blog's limit sqrt(2 / fan_in), fan_in counting the bias unit: 2, then 5.
    assert rows[0]["initializer"] == "U(±sqrt(2/fan_in)) = U(±1)"
    assert rows[1]["initializer"] == "U(±sqrt(2/fan_in)) = U(±0.6325)"
    assert rows[0]["fan-in"] == "2 (incl. bias unit)"
    assert rows[1]["fan-in"] == "5"

    # Drawn: the bias unit's row counts with the weights. Promised: (2/3) / fan_in.
    assert rows[0]["Var(W) drawn"] == printed(np.var(np.vstack([hidden.bias, hidden.weights])))
    assert rows[1]["Var(W) drawn"] == printed(np.var(output.weights))
    assert rows[0]["Var(W) promised"] == printed(2 / 3 / 2)
    assert rows[1]["Var(W) promised"] == printed(2 / 3 / 5)

    # Layer 0: inputs and bias unit have E[x²] = 1, so Var(z) = fan_in · Var(W) = 2/3.
    assert rows[0]["E[x²]"] == "1"
    assert rows[0]["Var(z)"] == printed(2 * (2 / 3 / 2))
    # Layer 1: E[sigmoid(z)²] for z ~ N(0, 2/3), against an integral (Monte Carlo error ~0.3 %).
    expected = mean_square_of(minifw.Sigmoid().forward, 2 / 3)
    assert float(rows[1]["E[x²]"]) == pytest.approx(expected, rel=0.015)
    var_z = 5 * (2 / 3 / 5) * float(rows[1]["E[x²]"])  # from the printed E[x²], rounded
    assert float(rows[1]["Var(z)"]) == pytest.approx(var_z, rel=1e-3)


def test_given_inputs_their_mean_square_replaces_the_assumed_one(blog_network):
    # The blog's inputs, x on [0, 6.28], are not standardised: E[x²] = 13.4, not 1.
    x = minifw.presets.blog().source.arrays()[0]
    mean_square = float(np.mean(x**2))
    assert mean_square == pytest.approx(13.36, abs=0.01)
    text = blog_network.describe(x)
    header = " ".join(text.split("#  layer")[0].split())
    assert f"E[x²] = {mean_square:.4g} for the network's inputs, measured on the 32 samples" in (
        header
    )
    rows = table(text)
    # Layer 0 averages the inputs' E[x²] with the bias unit's 1 over its fan-in of 2.
    assert rows[0]["E[x²]"] == printed((mean_square + 1) / 2)
    assert rows[0]["Var(z)"] == printed((2 / 3 / 2) * (mean_square + 1))
    # Layer 1 follows from layer 0's larger Var(z), as before.
    expected = mean_square_of(minifw.Sigmoid().forward, float(rows[0]["Var(z)"]))
    assert float(rows[1]["E[x²]"]) == pytest.approx(expected, rel=0.015)


def test_inputs_of_the_wrong_shape_are_refused(blog_network):
    with pytest.raises(minifw.DataError, match=r"x has 2 inputs per sample; expected 1"):
        blog_network.describe(np.ones((4, 2)))


def test_tanh_network_rows(tanh_network):
    rows = table(tanh_network.describe())
    assert [row["layer"] for row in rows] == ["Dense 1→8", "Dense 8→8", "Dense 8→1"]
    assert [row["activation"] for row in rows] == ["Tanh()"] * 3
    # He's limit sqrt(6 / fan_in); each bias is separate and starts at 0.
    assert rows[0]["initializer"] == "U(±sqrt(6/fan_in)) = U(±2.449); b: 0"
    assert rows[1]["initializer"] == "U(±sqrt(6/fan_in)) = U(±0.866); b: 0"
    assert [row["fan-in"] for row in rows] == ["1", "8", "8"]
    for row, layer in zip(rows, tanh_network.layers, strict=True):
        assert row["Var(W) drawn"] == printed(np.var(layer.weights))
        assert row["Var(W) promised"] == printed(2 / layer.n_in)

    # Var(z) = fan_in · Var(W) · E[x²] (+ Var(b) = 0): 1 · 2 · 1 for the first layer.
    assert rows[0]["Var(z)"] == "2"
    var_z = 2.0
    for row in rows[1:]:
        expected = mean_square_of(np.tanh, var_z)
        assert float(row["E[x²]"]) == pytest.approx(expected, rel=0.015)
        var_z = float(row["Var(z)"])
        # Both printed to 4 significant digits.
        assert var_z == pytest.approx(8 * (2 / 8) * float(row["E[x²]"]), rel=1e-3)


def test_describe_changes_nothing_and_gives_the_same_table_every_time(tanh_network):
    weights = tanh_network.packed.value.copy()
    state = np.random.get_state()
    first = tanh_network.describe()
    assert tanh_network.describe() == first
    np.testing.assert_array_equal(tanh_network.packed.value, weights)
    after = np.random.get_state()
    assert state[0] == after[0]
    np.testing.assert_array_equal(state[1], after[1])
    assert state[2:] == after[2:]
    # And it does not draw from the global state either: reseeding changes nothing.
    np.random.seed(12345)
    assert tanh_network.describe() == first


def test_weights_set_by_hand_are_shown_as_they_are_now(tanh_network):
    tanh_network.layers[1].weights = np.full((8, 8), 0.5) * np.array([1, -1] * 4)
    rows = table(tanh_network.describe(), NOW)
    assert rows[1]["Var(W) now"] == "0.25"
    assert rows[1]["Var(W) promised"] == "0.25"
    tanh_network.layers[1].weights = np.zeros((8, 8))
    assert table(tanh_network.describe(), NOW)[1]["Var(W) now"] == "0"


def test_a_trained_network_never_calls_its_weights_drawn():
    run = minifw.presets.blog()
    drawn = table(run.network.describe())
    assert run.network.as_drawn
    run.fit(20)
    assert not run.network.as_drawn
    text = run.network.describe()
    assert "Var(W) drawn" not in text
    header = " ".join(text.split("#  layer")[0].split())
    assert "The weights are no longer those drawn (trained, set or loaded since)" in header
    rows = table(text, NOW)
    hidden, output = run.network.layers
    assert rows[0]["Var(W) now"] == printed(np.var(np.vstack([hidden.bias, hidden.weights])))
    assert rows[1]["Var(W) now"] == printed(np.var(output.weights))
    assert rows[0]["Var(W) now"] != drawn[0]["Var(W) drawn"]  # training moved them
    # What the initializer promised, and the Var(z) it implies, describe the start: unchanged.
    for before, after in zip(drawn, rows, strict=True):
        assert after["Var(W) promised"] == before["Var(W) promised"]
        assert after["Var(z)"] == before["Var(z)"]


def test_a_loaded_network_is_not_as_drawn(tmp_path):
    run = minifw.presets.blog()
    minifw.save(run.network, tmp_path / "drawn.npz")
    # Untrained weights load as drawn: they are exactly those the network's seed draws.
    assert minifw.load(tmp_path / "drawn.npz").as_drawn
    run.fit(5)
    minifw.save(run.network, tmp_path / "trained.npz")
    assert not minifw.load(tmp_path / "trained.npz").as_drawn


class Scale(Layer):
    """y = a x: a layer that is not Dense, with one trainable number."""

    def __init__(self, n):
        self.n_in = self.n_out = n
        self.a = Parameter("a", np.ones(1))

    def initialize(self, rng):
        self.a.value[...] = 1.0

    def forward(self, x):
        return self.a.value * x

    def backward(self, grad, *, input_grad=True):
        return self.a.value * grad if input_grad else None

    def parameters(self):
        return [self.a]


def test_a_layer_that_is_not_dense_gets_what_is_known():
    network = Network([Dense(2, 4, "tanh"), Scale(4), Dense(4, 1)])
    rows = table(network.describe())
    assert rows[1]["layer"] == "Scale 4→4"
    assert all(rows[1][column] == "—" for column in COLUMNS[2:])
    # After it, the inputs' E[x²] is unknown, and so is Var(z); the weights are still known.
    assert rows[2]["E[x²]"] == rows[2]["Var(z)"] == "—"
    assert rows[2]["Var(W) drawn"] == printed(np.var(network.layers[2].weights))
    assert rows[0]["Var(z)"] == printed(2 * (2 / 2))
