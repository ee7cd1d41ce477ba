"""Components a user might write, for tests/test_contract.py and tests/test_kit.py.

Imported by those tests when they first need them, not when tests are collected: defining
a class registers its name, and the tests that run before them list the registered names.

The first part holds one component of each registered family in every form the contract
allows (attrs frozen or mutable, plain with a parameter of its own or none); the second,
components broken in each of the ways minifw.testing must catch.
"""

import math
from typing import ClassVar

import attrs
import numpy as np

from minifw import Activation, Initializer, Loss, MeanLoss, Optimizer, Tanh
from minifw.core.losses import difference
from minifw.core.targets import Target

# --- One component of each family in every form; each class's name says which form -------


@attrs.frozen
class FrozenSoftsign(Activation):
    """y = x / (1 + |x|),  dy/dx = 1 / (1 + |x|)²."""

    output_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)

    def forward(self, x):
        return x / (1 + np.abs(x))

    def derivative(self, x, y):
        return 1 / (1 + np.abs(x)) ** 2


@attrs.define
class MutableScaledTanh(Activation):
    """y = a tanh(x),  dy/dx = a (1 - tanh²x): an attrs class that is not frozen."""

    a: float = 1.5

    @property
    def output_range(self):
        return (-self.a, self.a)

    def forward(self, x):
        return self.a * np.tanh(x)

    def derivative(self, x, y):
        return self.a * (1 - np.tanh(x) ** 2)


class PlainScaledTanh(Activation):
    """y = a tanh(x),  dy/dx = a (1 - tanh²x): a plain class with a parameter of its own."""

    output_range: tuple[float, float]  # set per instance, from a

    def __init__(self, a=1.5):
        self.a = a
        self.output_range = (-a, a)

    def forward(self, x):
        return self.a * np.tanh(x)

    def derivative(self, x, y):
        return self.a * (1 - np.tanh(x) ** 2)


class PlainSoftsign(Activation):
    """y = x / (1 + |x|): a plain class with no parameters and no __init__."""

    output_range = (-1.0, 1.0)

    def forward(self, x):
        return x / (1 + np.abs(x))

    def derivative(self, x, y):
        return 1 / (1 + np.abs(x)) ** 2


@attrs.define(eq=False)
class AttrsDamped(Optimizer):
    """θ ← θ - lr · k · g, an attrs class."""

    k: float = 0.5

    def update(self, value, grad, state, lr):
        value -= lr * self.k * grad


class PlainDamped(Optimizer):
    """θ ← θ - lr · k · g, with momentum kept in state: the issue's plain class with its own k."""

    def __init__(self, lr=0.05, k=0.5):
        super().__init__(lr=lr)
        self.k = k

    def update(self, value, grad, state, lr):
        if not state:
            state["velocity"] = np.zeros_like(value)
        state["velocity"] *= 0.5
        state["velocity"] += grad
        value -= lr * self.k * state["velocity"]


class PlainNesterovish(Optimizer):
    """θ ← θ - lr · g, counting its steps in state: a plain class with only lr."""

    def __init__(self, lr=0.05):
        super().__init__(lr=lr, weight_decay=1e-4)

    def update(self, value, grad, state, lr):
        state["steps"] = state.get("steps", 0) + 1
        value -= lr * grad * (1 + 1 / state["steps"])


@attrs.frozen
class FrozenLogCosh(MeanLoss):
    """L = mean log cosh(pred - target)."""

    def pointwise(self, pred, target):
        d = difference(pred, target)
        return np.logaddexp(d, -d) - np.log(2.0), np.tanh(d)


class PlainPseudoHuber(MeanLoss):
    """L = mean δ² (sqrt(1 + (d/δ)²) - 1): a plain class with a parameter of its own."""

    def __init__(self, delta=0.5):
        self.delta = delta

    def pointwise(self, pred, target):
        d = difference(pred, target)
        root = np.sqrt(1 + (d / self.delta) ** 2)
        return self.delta**2 * (root - 1), d / root


class PlainHalfSquares(Loss):
    """L = ½ Σ d², per network of a stack: a plain Loss with no parameters."""

    def value(self, pred, target):
        d = difference(pred, target)
        return 0.5 * np.sum(d * d, axis=(-2, -1))

    def gradient(self, pred, target):
        return difference(pred, target)


@attrs.frozen
class FrozenChirp(Target):
    """y = sin(x²) on [0, 3]."""

    domain: ClassVar[tuple[float, float]] = (0.0, 3.0)
    value_range: ClassVar[tuple[float, float] | None] = (-1.0, 1.0)

    def __call__(self, x):
        return np.sin(x * x)


class PlainWave(Target):
    """y = sin(ω x) on [0, 3.2]: a plain class with a parameter of its own (ω >= 1.5 reaches
    both ends of its value range there, which check_target holds it to)."""

    domain = (0.0, 3.2)
    value_range = (-1.0, 1.0)

    def __init__(self, omega=2.0):
        self.omega = omega

    def __call__(self, x):
        return np.sin(self.omega * x)


class PlainRamp(Target):
    """y = x on [-1, 1]: a plain class with no parameters."""

    def __call__(self, x):
        return 1.0 * x


# The instances the tests use, by class name.
EXAMPLES = {
    type(c).__name__: c
    for c in [
        FrozenSoftsign(),
        MutableScaledTanh(a=1.2),
        PlainScaledTanh(a=1.2),
        PlainSoftsign(),
        AttrsDamped(lr=0.05, k=0.3),
        PlainDamped(lr=0.05, k=0.3),
        PlainNesterovish(lr=0.02),
        FrozenLogCosh(),
        PlainPseudoHuber(delta=0.3),
        PlainHalfSquares(),
        FrozenChirp(),
        PlainWave(omega=2.5),
        PlainRamp(),
    ]
}


# --- Broken components: one per failure mode the check kit must catch ----------------------


class OnePercentOffTanh(Tanh):
    """tanh with a derivative 1 % too large."""

    def derivative(self, x, y):
        return 1.01 * super().derivative(x, y)


class RoundedRangeGelu(Activation):
    """GELU's tanh form, declared (-0.17, inf) though its minimum is -0.17004."""

    output_range = (-0.17, math.inf)

    def forward(self, x):
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))

    def derivative(self, x, y):
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
        t = np.tanh(inner)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * math.sqrt(2 / math.pi) * (
            1 + 3 * 0.044715 * x * x
        )


class InPlaceTanh(Activation):
    """tanh computed into its own input."""

    output_range = (-1.0, 1.0)

    def forward(self, x):
        return np.tanh(x, out=x)

    def derivative(self, x, y):
        return 1 - y * y


class Float64Sigmoid(Activation):
    """A sigmoid that computes, and returns, float64 whatever it is given."""

    output_range = (0.0, 1.0)

    def forward(self, x):
        return 1 / (1 + np.exp(-x.astype(np.float64)))

    def derivative(self, x, y):
        return y * (1 - y)


class UnseededUniform(Initializer):
    """U(-1, 1) drawn from a generator of its own, not the one it is given."""

    def __call__(self, shape, rng):
        return np.random.default_rng().uniform(-1, 1, size=shape)


@attrs.define(eq=False)
class FixedStepSGD(Optimizer):
    """θ ← θ - 0.01 g, whatever lr says."""

    def update(self, value, grad, state, lr):
        value -= 0.01 * grad


@attrs.define(eq=False)
class SelfCountingSGD(Optimizer):
    """θ ← θ - lr g / t, with the count t kept on the optimizer, not in its state."""

    count: int = attrs.field(default=0, init=False, repr=False)

    def update(self, value, grad, state, lr):
        self.count += 1
        value -= lr * grad / self.count


@attrs.frozen
class HalfScaleMSE(MeanLoss):
    """The mean squared error with dℓ/dp = d instead of 2d: a gradient on another scale."""

    def pointwise(self, pred, target):
        d = difference(pred, target)
        return d * d, d


MUTANTS = {
    type(m).__name__: m
    for m in [
        OnePercentOffTanh(),
        RoundedRangeGelu(),
        InPlaceTanh(),
        Float64Sigmoid(),
        UnseededUniform(),
        FixedStepSGD(),
        SelfCountingSGD(),
        HalfScaleMSE(),
    ]
}
