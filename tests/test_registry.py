"""The registry of component names: redefinition, clashes and guesses at misspelt names."""

import numpy as np
import pytest

import minifw
from minifw import Activation, ConfigError, Dense, Network
from minifw.registry import did_you_mean

# A notebook cell defining an activation; run twice below, as a notebook user re-runs it.
CELL = '''
from typing import ClassVar

import attrs

from minifw import Activation


@attrs.frozen
class CubeAgain(Activation):
    """y = x³,  dy/dx = 3x²."""

    output_range: ClassVar[tuple[float, float]] = (-float("inf"), float("inf"))

    def forward(self, x):
        return x**3

    def derivative(self, x, y):
        return 3 * x**2
'''


def run_cell(namespace):
    exec(compile(CELL, "<notebook cell>", "exec"), namespace)
    return namespace["CubeAgain"]


def test_an_instance_made_before_its_class_was_defined_again_keeps_its_name(tmp_path):
    namespace = {"__name__": "notebook"}
    first = run_cell(namespace)
    network = Network([Dense(1, 3, first()), Dense(3, 1)], seed=0)
    second = run_cell(namespace)  # the cell run again: a new class object, the same component
    assert second is not first and Activation.registry.get("cube_again") is second

    assert Activation.registry.name_of(first) == "cube_again"
    network.save(tmp_path / "cube.npz")
    loaded = minifw.load_saved(tmp_path / "cube.npz").network
    assert type(loaded.layers[0].activation) is second  # loads as the class defined now
    x = np.linspace(-1, 1, 5).reshape(-1, 1)
    np.testing.assert_array_equal(loaded.predict(x), network.predict(x))


def test_another_class_under_a_taken_name_is_refused_and_the_name_kept():
    with pytest.raises(ConfigError, match=r"activation name 'sigmoid' is taken by minifw\."):
        exec(
            compile(
                CELL.replace("class CubeAgain(Activation):", "class Sigmoid(Activation):"),
                "<notebook cell>",
                "exec",
            ),
            {"__name__": "notebook"},
        )
    assert Activation.registry.get("sigmoid") is minifw.Sigmoid


def test_a_class_that_was_never_registered_has_no_name():
    class Unregistered:
        pass

    with pytest.raises(ConfigError, match=r"Unregistered is not a registered activation"):
        Activation.registry.name_of(Unregistered)


@pytest.mark.parametrize(
    ("word", "choices", "hint"),
    [
        ("he_unifrom", ["he_normal", "he_uniform", "zeros"], "; did you mean 'he_uniform'?"),
        # Every choice as close as the closest is named, in alphabetical order.
        ("beta", ["lr", "beta2", "beta1"], "; did you mean 'beta1' or 'beta2'?"),
        ("zzz", ["lr", "beta1"], ""),
        ("anything", [], ""),
    ],
)
def test_did_you_mean_names_the_closest_choices_or_nothing(word, choices, hint):
    assert did_you_mean(word, choices) == hint
