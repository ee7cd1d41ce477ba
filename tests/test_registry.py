"""The registry of component names: redefinition, clashes and guesses at misspelt names."""

import numpy as np
import pytest

import minifw
from minifw import Activation, ConfigError, Dense, Network
from minifw.core.registry import did_you_mean

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


def run_cell(namespace, source=CELL):
    """Run ``source`` as a notebook cell would, in ``namespace`` (its module's globals)."""
    exec(compile(source, "<notebook cell>", "exec"), namespace)
    return namespace


def test_an_instance_made_before_its_class_was_defined_again_keeps_its_name(tmp_path):
    namespace = {"__name__": "notebook"}
    first = run_cell(namespace)["CubeAgain"]
    network = Network([Dense(1, 3, first()), Dense(3, 1)], seed=0)
    # The cell run again: a new class object, the same component.
    second = run_cell(namespace)["CubeAgain"]
    assert second is not first and Activation.registry.get("cube_again") is second

    assert Activation.registry.name_of(first) == "cube_again"
    minifw.save(network, tmp_path / "cube.npz")
    loaded = minifw.load_saved(tmp_path / "cube.npz").network
    assert type(loaded.layers[0].activation) is second  # loads as the class defined now
    x = np.linspace(-1, 1, 5).reshape(-1, 1)
    np.testing.assert_array_equal(loaded.predict(x), network.predict(x))


def test_another_class_under_a_taken_name_is_refused_and_the_name_kept():
    with pytest.raises(ConfigError, match=r"activation name 'sigmoid' is taken by minifw\."):
        run_cell(
            {"__name__": "notebook"},
            CELL.replace("class CubeAgain(Activation):", "class Sigmoid(Activation):"),
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


@pytest.mark.parametrize(
    ("family", "alias", "cls"),
    [
        (Activation, "linear", minifw.Identity),  # Keras
        (Activation, "Swish", minifw.SiLU),  # Keras, any case
        (minifw.Loss, "mean_squared_error", minifw.MSE),  # Keras
        (minifw.Loss, "mean_absolute_error", minifw.MAE),
        (minifw.Loss, "binary_crossentropy", minifw.BinaryCrossEntropy),
        (minifw.Loss, "bce", minifw.BinaryCrossEntropy),  # PyTorch's BCELoss
        (minifw.Initializer, "xavier_uniform", minifw.GlorotUniform),  # PyTorch
        (minifw.Initializer, "kaiming_uniform", minifw.HeUniform),
    ],
)
def test_other_libraries_names_are_aliases_of_the_same_class(family, alias, cls):
    assert type(family.resolve(alias)) is cls
    name = family.registry.name_of(cls)
    assert alias.lower() in family.registry.aliases_of(name)
    assert alias.lower() not in family.registry.names()  # names() lists each class once


def test_an_alias_is_saved_under_the_classs_own_name(tmp_path):
    run = minifw.presets.experiment(activation="swish", output_activation="linear")
    minifw.save(run.network, tmp_path / "aliased.npz")
    text = (tmp_path / "aliased.npz").read_bytes()
    assert b'"silu"' in text and b'"identity"' in text and b"swish" not in text
    loaded = minifw.load_saved(tmp_path / "aliased.npz").network
    assert [type(layer.activation) for layer in loaded.layers] == [minifw.SiLU, minifw.Identity]


def test_the_same_kaiming_uniform_limit_as_pytorch():
    # torch.nn.init.kaiming_uniform_(w) (a = 0): bound = sqrt(2) · sqrt(3 / fan_in).
    # minifw's shape is (fan_in, fan_out); PyTorch's Linear weight is (out, in).
    weights = minifw.Initializer.resolve("kaiming_uniform")((50, 40), np.random.default_rng(0))
    bound = np.sqrt(2.0) * np.sqrt(3.0 / 50)
    assert np.abs(weights).max() <= bound and np.abs(weights).max() > 0.99 * bound


def test_an_alias_is_not_inherited_and_cannot_take_a_name():
    run_cell(
        {"__name__": "notebook"},
        "import attrs\nfrom minifw import SiLU\n\n"
        "@attrs.frozen\nclass ScaledSiLU(SiLU):\n    name = 'scaled_silu'\n",
    )
    assert Activation.registry.aliases_of("scaled_silu") == []
    assert type(Activation.resolve("swish")) is minifw.SiLU
    with pytest.raises(ConfigError, match=r"activation name 'relu' is taken by minifw\."):
        run_cell(
            {"__name__": "notebook2"},
            CELL.replace("CubeAgain", "Grabby").replace(
                '"""y = x³', 'aliases = ("relu",)\n    """y = x³'
            ),
        )
    assert type(Activation.resolve("relu")) is minifw.ReLU


def test_a_misspelt_alias_is_guessed_too():
    with pytest.raises(ConfigError, match=r"unknown activation 'swsh'.*did you mean 'swish'\?$"):
        Activation.resolve("swsh")
