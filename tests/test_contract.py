"""The extension contract: each family refuses a subclass that breaks it, naming the class and
the piece, and every form that keeps it (attrs or plain, frozen or not, with parameters of
its own or none) trains, saves, loads, checkpoints and resumes exactly as a built-in does."""

import functools
import importlib
import math

import numpy as np
import pytest

import minifw
from minifw import (
    Activation,
    Callback,
    ConfigError,
    Dense,
    FunctionSource,
    Initializer,
    Layer,
    Loss,
    MeanLoss,
    Network,
    Optimizer,
    Schedule,
    Trainer,
)
from minifw.core.losses import difference
from minifw.core.serialize import from_spec, rebuilt, to_spec
from minifw.core.targets import Target
from minifw.testing import check_component


@functools.cache
def parts():
    """tests/user_parts.py, imported (so its classes registered) by the first test that asks."""
    return importlib.import_module("user_parts")


# The forms, by the class names of user_parts.EXAMPLES.
ACTIVATIONS = ["FrozenSoftsign", "MutableScaledTanh", "PlainScaledTanh", "PlainSoftsign"]
OPTIMIZERS = ["AttrsDamped", "PlainDamped", "PlainNesterovish"]
LOSSES = ["FrozenLogCosh", "PlainPseudoHuber", "PlainHalfSquares"]
TARGETS = ["FrozenChirp", "PlainWave", "PlainRamp"]

# Each case: (activation, optimizer, loss, target), with every form of each family present in
# some case and the other families at a built-in.
CASES = (
    [(a, "adam", "mse", "sin") for a in ACTIVATIONS]
    + [("tanh", o, "mse", "sin") for o in OPTIMIZERS]
    + [("tanh", "sgd", loss, "sin") for loss in LOSSES]
    + [("tanh", "adam", "mse", t) for t in TARGETS]
)


def label(case):
    return "-".join(case)


def component(family, text):
    """A built-in by name, or a fresh copy of user_parts.EXAMPLES[text] built from its spec
    (as a file would give it), so that nothing is shared between two setups."""
    if text[0].isupper():
        return from_spec(family, to_spec(parts().EXAMPLES[text]))
    return family.resolve(text)


def setup(case):
    """A fresh network, trainer and source for ``case``."""
    activation, optimizer, loss, target = (
        component(family, text)
        for family, text in zip((Activation, Optimizer, Loss, Target), case, strict=True)
    )
    source = FunctionSource(target, target.domain, 12)
    network = Network([Dense(1, 5, activation), Dense(5, 1)], seed=3)
    trainer = Trainer(network, loss, optimizer, batch_size=4, seed=1)
    return network, trainer, source


@pytest.mark.parametrize("case", CASES, ids=label)
def test_every_form_trains_checkpoints_and_resumes_exactly(tmp_path, case):
    _, trainer, source = setup(case)
    trainer.fit(source, 3)
    minifw.save_checkpoint(trainer, tmp_path / "run.npz")
    resumed = minifw.load_checkpoint(tmp_path / "run.npz")
    resumed.fit(resumed.source, 3)

    alone, trainer_alone, source_alone = setup(case)
    trainer_alone.fit(source_alone, 6)
    np.testing.assert_array_equal(resumed.network.packed.value, alone.packed.value)
    assert resumed.run_history == trainer_alone.run_history
    for mine, theirs in [
        (resumed.optimizer, trainer_alone.optimizer),
        (resumed.loss, trainer_alone.loss),
        (resumed.source.f, source_alone.f),
        (resumed.network.layers[0].activation, alone.layers[0].activation),
    ]:
        assert type(mine) is type(theirs) and to_spec(mine) == to_spec(theirs)


@pytest.mark.parametrize("case", CASES, ids=label)
def test_every_form_saves_loads_and_loads_into_an_identical_network(tmp_path, case):
    network, trainer, source = setup(case)
    trainer.fit(source, 2)
    minifw.save(network, tmp_path / "model.npz", optimizer=trainer.optimizer, source=source)
    x = np.linspace(0, 3, 7).reshape(-1, 1)
    np.testing.assert_array_equal(
        minifw.load(tmp_path / "model.npz").predict(x), network.predict(x)
    )
    # A network built anew, its components equal to the saved ones but not the same objects.
    fresh = setup(case)[0]
    minifw.load_weights(fresh, tmp_path / "model.npz")
    np.testing.assert_array_equal(fresh.predict(x), network.predict(x))
    saved = minifw.load_saved(tmp_path / "model.npz")
    np.testing.assert_array_equal(saved.source.arrays()[1], source.arrays()[1])


@pytest.mark.parametrize("name", ACTIVATIONS + OPTIMIZERS + LOSSES + TARGETS)
def test_every_form_passes_the_check_kit(name):
    check_component(parts().EXAMPLES[name])


def test_the_forms_named_here_are_the_examples_there():
    assert set(parts().EXAMPLES) == {*ACTIVATIONS, *OPTIMIZERS, *LOSSES, *TARGETS}


def test_the_issues_plain_optimizer_keeps_exactly_its_own_parameters():
    PlainDamped = parts().PlainDamped
    assert to_spec(PlainDamped(lr=0.1, k=0.25)) == {"name": "plain_damped", "lr": 0.1, "k": 0.25}
    assert repr(PlainDamped(lr=0.1, k=0.25)) == "PlainDamped(lr=0.1, k=0.25)"
    assert rebuilt(PlainDamped(k=0.25), lr=0.2).k == 0.25
    with pytest.raises(
        ConfigError, match=r"^PlainDamped: unknown parameter 'schedule'; it takes: lr, k$"
    ):
        rebuilt(PlainDamped(), schedule=None)


def test_a_plain_optimizer_runs_in_a_preset_and_a_sweep():
    parts()  # registers plain_damped
    run = minifw.experiment(optimizer="plain_damped:k=0.3", lr=0.5, epochs=5)
    assert to_spec(run.trainer.optimizer) == {"name": "plain_damped", "lr": 0.5, "k": 0.3}
    config = minifw.RunConfig(optimizer="plain_damped", epochs=3)
    rows = minifw.sweep(config, {"lr": [0.2, 0.4]}).rows
    assert [row.lr for row in rows] == [0.2, 0.4]
    assert [(row.reason, row.stacked) for row in rows] == [(None, 2), (None, 2)]


def test_networks_of_a_plain_activation_stack():
    tanh = parts().PlainScaledTanh
    networks = [Network([Dense(1, 3, tanh(a=1.2)), Dense(3, 1)], seed=s) for s in (0, 1)]
    stacked = minifw.stack(networks)
    x = np.linspace(-1, 1, 5).reshape(-1, 1)
    np.testing.assert_array_equal(stacked.forward(x)[1], networks[1].forward(x))


# --- Refusals: when the class is defined, naming the class and the piece --------------------


def test_an_activation_without_output_range_is_refused_when_defined():
    with pytest.raises(ConfigError, match="activation Gelu must declare output_range"):

        class Gelu(Activation):
            def forward(self, x):
                return x

            def derivative(self, x, y):
                return np.ones_like(x)


@pytest.mark.parametrize("bad", [(1.0, -1.0), (0.0, math.nan), "(-1, 1)", (0.0,)])
def test_an_activation_with_a_malformed_output_range_is_refused(bad):
    with pytest.raises(ConfigError, match=r"Clipped\.output_range must be two numbers"):

        class Clipped(Activation):
            output_range = bad

            def forward(self, x):
                return np.clip(x, -1, 1)

            def derivative(self, x, y):
                return (np.abs(x) < 1).astype(x.dtype)


def test_an_instance_range_that_is_never_set_is_refused_when_built():
    class Forgetful(Activation):
        output_range: tuple[float, float]  # promised per instance, then not set

        def __init__(self, a=1.0):
            self.a = a

        def forward(self, x):
            return x

        def derivative(self, x, y):
            return np.ones_like(x)

    with pytest.raises(ConfigError, match=r"Forgetful\.output_range must be two numbers"):
        Forgetful()


def test_an_optimizer_without_update_or_step_is_refused():
    with pytest.raises(ConfigError, match=r"optimizer Lazy must define update\(value, grad"):

        class Lazy(Optimizer):
            pass


def test_an_optimizer_whose_constructor_takes_no_lr_is_refused():
    with pytest.raises(ConfigError, match="optimizer Fixed must take lr in its constructor"):

        class Fixed(Optimizer):
            def __init__(self):
                super().__init__(lr=0.1)

            def update(self, value, grad, state, lr):
                value -= lr * grad


def test_a_plain_optimizer_that_skips_the_bases_init_is_refused_when_built():
    class Skipper(Optimizer):
        def __init__(self, lr=0.1):
            self.lr = lr

        def update(self, value, grad, state, lr):
            value -= lr * grad

    with pytest.raises(ConfigError, match=r"Skipper did not call Optimizer.__init__"):
        Skipper()


@pytest.mark.parametrize("signature", ["*args", "**options", "lr, /"])
def test_a_constructor_that_does_not_name_its_parameters_is_refused(signature):
    namespace = {"Schedule": Schedule}
    code = f"class Vague(Schedule):\n    def __init__(self, {signature}): pass\n"
    code += "    def __call__(self, lr, t): return lr\n"
    with pytest.raises(ConfigError, match=r"schedule Vague takes .*; a component's constructor"):
        exec(code, namespace)


def test_a_parameter_kept_under_no_attribute_of_its_name_is_refused_when_built():
    class Hidden(Initializer):
        def __init__(self, value=0.5):
            self._value = value

        def __call__(self, shape, rng):
            return np.full(shape, self._value)

    with pytest.raises(ConfigError, match=r"Hidden takes 'value' but keeps no attribute"):
        Hidden()


def test_a_registry_names_what_an_abstract_class_lacks():
    class HalfDone(Initializer):
        def helper(self):
            return 1

    assert "half_done" not in Initializer.registry.names()
    with pytest.raises(ConfigError, match=r"'half_done' \(HalfDone\) cannot be built: .* __call__"):
        Initializer.resolve("half_done")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("domain = (1.0, -1.0)", r"Bad\.domain must be two finite numbers"),
        ("inputs = 0", r"Bad\.inputs must be a whole number >= 1"),
        ("value_range = (0.0, math.inf)", r"Bad\.value_range must be two finite numbers"),
    ],
)
def test_a_target_with_a_malformed_class_attribute_is_refused(body, problem):
    code = f"class Bad(Target):\n    {body}\n    def __call__(self, x): return x\n"
    with pytest.raises(ConfigError, match=problem):
        exec(code, {"Target": Target, "math": math})


def test_a_loss_with_a_malformed_domain_is_refused():
    with pytest.raises(ConfigError, match=r"Odd\.domain must be two numbers"):

        class Odd(MeanLoss):
            domain = (1.0, 0.0)

            def pointwise(self, pred, target):
                d = difference(pred, target)
                return d * d, 2 * d


def test_a_misspelt_hook_is_refused_with_the_nearest_hook():
    with pytest.raises(ConfigError, match=r"defines on_epoch_ends, .*did you mean 'on_epoch_end'"):

        class Late(Callback):
            def on_epoch_ends(self, trainer, epoch, logs):
                pass


def test_a_hook_with_other_arguments_is_refused():
    with pytest.raises(
        ConfigError, match=r"calls it as on_epoch_end\(self, trainer, epoch, logs\)"
    ):

        class Short(Callback):
            def on_epoch_end(self, trainer, logs):
                pass


def test_a_layer_whose_backward_takes_no_input_grad_is_refused():
    with pytest.raises(ConfigError, match=r"layer Plain must take backward\(grad, \*, input_grad"):

        class Plain(Layer):
            def initialize(self, rng):
                pass

            def forward(self, x):
                return x

            def backward(self, grad):
                return grad

            def parameters(self):
                return []


def test_a_layer_that_sets_no_sizes_is_refused_when_built():
    class Sizeless(Layer):
        def __init__(self):
            self.width = 3

        def initialize(self, rng):
            pass

        def forward(self, x):
            return x

        def backward(self, grad, *, input_grad=True):
            return grad

        def parameters(self):
            return []

    with pytest.raises(ConfigError, match="layer Sizeless must set n_in, a whole number >= 1"):
        Sizeless()


def test_an_abstract_intermediate_base_is_not_checked_but_its_subclasses_are():
    class Family(Activation):  # no forward yet, no output_range: a base for others
        def derivative(self, x, y):
            return np.ones_like(x)

    class Member(Family):
        output_range = (-math.inf, math.inf)

        def forward(self, x):
            return 1.0 * x

    assert Member().forward(np.ones(2)).tolist() == [1.0, 1.0]
    with pytest.raises(ConfigError, match="activation Stray must declare output_range"):

        class Stray(Family):
            def forward(self, x):
                return x
