"""minifw.testing, the check kit: it passes every built-in component and catches a component
broken in each of the ways a user's can be (one mutant per failure mode)."""

import importlib
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import minifw.core.activations
import minifw.core.initializers
import minifw.core.losses
import minifw.core.optimizers
import minifw.core.schedules
import minifw.core.targets
from minifw import (
    ELU,
    SGD,
    Activation,
    Adam,
    ArraySource,
    BinaryCrossEntropy,
    Callback,
    Checkpoint,
    Constant,
    CosineDecay,
    CSVLogger,
    Dense,
    EarlyStopping,
    EvaluationTarget,
    ExponentialDecay,
    ExpressionTarget,
    FunctionSource,
    HeUniform,
    Huber,
    Initializer,
    InverseTimeDecay,
    LambdaCallback,
    LeakyReLU,
    Loss,
    LossHistory,
    Optimizer,
    ProgressBar,
    RMSProp,
    Schedule,
    StepDecay,
    Tanh,
    Target,
    TerminateOnNaN,
    TimeLimit,
    Timer,
    VarianceScaling,
)
from minifw.core.errors import ConfigError
from minifw.testing import (
    central_difference,
    check_activation,
    check_component,
    check_initializer,
    check_loss,
    check_optimizer,
    strategies,
)

# --- Every built-in component ------------------------------------------------------------

FAMILIES = {
    Activation: minifw.core.activations,
    Initializer: minifw.core.initializers,
    Loss: minifw.core.losses,
    Optimizer: minifw.core.optimizers,
    Schedule: minifw.core.schedules,
    Target: minifw.core.targets,
}

# The registered classes with a parameter that has no default: built here with one.
NEEDS_ARGUMENTS = {
    StepDecay: StepDecay(10),
    ExponentialDecay: ExponentialDecay(100, 0.5),
    InverseTimeDecay: InverseTimeDecay(100, 1.0),
    CosineDecay: CosineDecay(100),
    ExpressionTarget: ExpressionTarget("sin(x) * exp(-x / 4)", domain=(0.0, 6.28)),
}

# Settings of registered classes worth checking apart: a range that moves with a
# hyperparameter, a kink that moves, momentum, decay, clipping, a nested schedule.
VARIANTS = [
    LeakyReLU(alpha=0.0),
    LeakyReLU(alpha=0.3),
    ELU(alpha=2.0),
    Huber(delta=0.3),
    Huber(delta=5.0),
    BinaryCrossEntropy(epsilon=1e-3),
    SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
    RMSProp(rho=0.8),
    Adam(lr=0.01, clip_norm=1.0, schedule=CosineDecay(100, alpha=0.1)),
    VarianceScaling(2.0, "fan_avg", "truncated_normal"),
    HeUniform(scale=1.5),
    Constant(0.25),
    StepDecay(10, gamma=0.5),
    ExpressionTarget("x0 * x1", domain=(-2.0, 2.0)),
]

LAYERS = [
    Dense(2, 3, "tanh"),
    Dense(1, 2, "relu", bias=False),
    Dense(3, 2, "sigmoid", bias_unit=True),
    Dense(4, 1, "identity", bias_initializer=Constant(0.5)),  # a bias that is not 0
    Dense(2, 2, LeakyReLU(0.1), initializer=HeUniform(scale=0.5)),
]

SOURCES = [
    ArraySource(np.linspace(0, 1, 10).reshape(-1, 2), np.arange(5.0).reshape(-1, 1)),
    ArraySource(
        np.linspace(-1, 1, 12).reshape(-1, 1), np.linspace(0, 2, 12).reshape(-1, 1), validation=0.25
    ),
    FunctionSource(minifw.core.targets.Sin(), (0.0, 6.28), 16, validation=0.25),
    FunctionSource(minifw.core.targets.Ripple(), (-3.0, 3.0), 5, sampling="uniform"),
]


def registered_built_ins():
    """An instance of every class minifw registers (not the ones tests register)."""
    found = []
    for family, module in FAMILIES.items():
        for name in family.registry.names():
            cls = family.registry.get(name)
            if cls.__module__ == module.__name__:
                found.append(NEEDS_ARGUMENTS.get(cls) or cls())
    return found


def callbacks(folder):
    """Every callback minifw's core and files define, and the lab's cheaply enough to draw."""
    return [
        LossHistory(),
        Timer(),
        TimeLimit(0.05),
        TerminateOnNaN(),
        TerminateOnNaN(raise_error=True, check="epoch"),
        EarlyStopping(monitor="loss", patience=1, restore_best=True),
        ProgressBar(),
        CSVLogger(folder / "log.csv"),
        LambdaCallback(on_epoch_end=lambda trainer, epoch, logs: None),
        Checkpoint(folder / "run-{epoch}.npz", every=1),
        # On the kit's 1-input network: some fits reach this target, some do not.
        EvaluationTarget(np.linspace(0, 1, 5).reshape(-1, 1), np.zeros((5, 1)), 0.2, stop=True),
    ]


COMPONENTS = registered_built_ins() + VARIANTS + LAYERS + SOURCES


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: repr(c)[:60])
def test_the_kit_passes_every_built_in_component(component):
    check_component(component)


def test_every_callback_passes_the_kit(tmp_path):
    for callback in callbacks(tmp_path):
        check_component(callback)


def test_the_lists_above_hold_every_built_in_class():
    checked = {type(c) for c in COMPONENTS} | {type(c) for c in callbacks(Path("unused"))}
    for family, module in FAMILIES.items():
        for name in family.registry.names():
            cls = family.registry.get(name)
            assert cls.__module__ != module.__name__ or cls in checked, cls
    defined = [
        cls
        for cls in vars(minifw.core.callbacks).values()
        if isinstance(cls, type) and issubclass(cls, Callback) and cls is not Callback
    ]
    assert set(defined) | {Checkpoint} <= checked


# --- Mutants: one per failure mode the issue lists, each caught and shown -----------------


# Each check, the name of the mutant in tests/user_parts.py it must catch, and what it says.
MUTANTS = [
    (check_activation, "OnePercentOffTanh", "derivative: derivative is .* but forward's slope"),
    (
        check_activation,
        "RoundedRangeGelu",
        r"output_range: forward\(-0\.75.*\) = -0\.17004.*outside",
    ),
    (check_activation, "InPlaceTanh", "forward changed its input x"),
    (check_activation, "Float64Sigmoid", "forward\\(x\\) is float64 for float32 input"),
    (check_initializer, "UnseededUniform", "gave different draws: it does not draw from rng"),
    (check_optimizer, "FixedStepSGD", "lr: .*not twice as far for twice the rate"),
    (check_optimizer, "SelfCountingSGD", "state: another optimizer given its state"),
    (check_loss, "HalfScaleMSE", r"gradient: gradient\[0, 0\] is .* but value's slope"),
]


def mutant(name):
    """tests/user_parts.py's broken component ``name`` (importing it registers its classes)."""
    return importlib.import_module("user_parts").MUTANTS[name]


@pytest.mark.parametrize(("check", "name", "message"), MUTANTS, ids=[m for _, m, _ in MUTANTS])
def test_the_kit_catches_each_kind_of_broken_component(check, name, message):
    broken = mutant(name)
    with pytest.raises(AssertionError, match=message) as caught:
        check(broken)
    assert str(caught.value).startswith(f"{check.__name__}({broken!r})")


def test_a_counterexample_is_shrunk_to_the_smallest_input():
    # 0 is the simplest input and already shows the 1 % (tanh's slope there is 1, not 1.01).
    with pytest.raises(AssertionError) as caught:
        check_activation(mutant("OnePercentOffTanh"))
    assert "smallest counterexample (shrunk by hypothesis): array([0.], dtype=float" in str(
        caught.value
    )


def test_a_range_declared_too_wide_is_caught_as_well_as_one_too_narrow():
    class LooseTanh(Tanh):
        output_range: ClassVar[tuple[float, float]] = (-1.5, 1.0)

    with pytest.raises(AssertionError, match=r"says -1\.5, but the outputs come no nearer than"):
        check_activation(LooseTanh())


def test_check_component_refuses_what_is_no_component():
    with pytest.raises(ConfigError, match="check_component takes a component"):
        check_component(np.tanh)
    with pytest.raises(ConfigError, match="check_loss takes a Loss"):
        check_loss(Tanh())


# --- The kit's own pieces -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_central_difference_is_the_derivative_to_the_dtypes_precision(dtype):
    x = np.linspace(-3, 3, 13).astype(dtype)
    tolerance = 10 * np.finfo(dtype).eps ** (2 / 3)
    np.testing.assert_allclose(central_difference(np.sin, x), np.cos(x), atol=tolerance)


def test_strategies_give_what_they_promise():
    from hypothesis import find, settings

    once = settings(max_examples=30, derandomize=True, database=None)
    arrays = strategies.float_arrays(np.float32, low=0.1, high=0.2, max_dims=3)
    # find with a condition that never holds returns nothing: every example obeys the bounds.
    with pytest.raises(Exception, match="No examples"):
        find(
            arrays,
            lambda a: a.dtype != np.float32 or not ((a >= 0.1) & (a <= 0.2)).all(),
            settings=once,
        )
    pairs = strategies.prediction_target_pairs(stacked=True)
    with pytest.raises(Exception, match="No examples"):
        find(pairs, lambda p: p[0].ndim != 3 or p[0].shape[1:] != p[1].shape, settings=once)


def test_importing_minifw_does_not_import_hypothesis_and_the_kit_says_how_to_get_it():
    code = (
        "import sys, minifw, minifw.core.activations, minifw.files.saving\n"
        "assert 'hypothesis' not in sys.modules, 'hypothesis imported'\n"
        "sys.modules['hypothesis'] = None\n"
        "try:\n    import minifw.testing\n"
        "except ImportError as error:\n    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "pip install hypothesis" in result.stdout
