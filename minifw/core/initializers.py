"""Initializers: where a layer's weights start.

An initializer sees only a shape and a random generator, never the layer or
its activation: ``initializer((fan_in, fan_out), rng)`` returns a new array.
The named schemes are settings of one family, ``VarianceScaling``, as in Keras.
Each can say what it draws for a shape, ``formula(shape)``, and with what
variance, ``variance(shape)``; ``Network.describe`` prints both.
"""

from __future__ import annotations

import math
import sys
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

import attrs
import numpy as np

from .registry import Registered, Registry
from .validation import at_most, number, one_of

Array = np.ndarray
Shape = tuple[int, ...]

# The standard deviation of a standard normal cut at ±2, sqrt(1 - 4φ(2) / (2Φ(2) - 1)):
# 0.87962566103423978, Keras's constant. Dividing by it gives the cut normal the
# variance asked for.
TRUNCATED_STDDEV = math.sqrt(1 - 4 * math.exp(-2) / math.sqrt(2 * math.pi) / math.erf(math.sqrt(2)))


class Initializer(Registered, ABC):
    """Base of every initializer: W = draw(shape, rng).

    What a subclass must provide: ``__call__(shape, rng)``, a new float64 array of
    ``shape`` (a weight matrix's (fan_in, fan_out), a bias's (n,)), every random number
    drawn from ``rng``, never from numpy's global state, so that one seed gives one
    network. It may leave to defaults ``formula`` and ``variance``, which say what is
    drawn for a shape (``Network.describe`` prints both): by default the formula is
    the initializer's repr and the variance unknown (None); a variance given must be
    what is drawn. Constructor parameters, if any, are kept as attributes of the same
    names (attrs does this for you). ``minifw.testing.check_initializer`` tests it.

    How to subclass (registered as ``"half"`` at once)::

        @attrs.frozen
        class Half(Initializer):
            '''W = 0.5 everywhere.'''

            def __call__(self, shape, rng):
                return np.full(shape, 0.5)
    """

    registry = Registry["Initializer"]("initializer")
    _family: ClassVar[str] = "initializer"

    @abstractmethod
    def __call__(self, shape: Shape, rng: np.random.Generator) -> Array:
        """A new float64 array of ``shape``; every random number comes from ``rng``."""

    def formula(self, shape: Shape) -> str:
        """What is drawn for ``shape``, for people, with the numbers filled in."""
        return repr(self)

    def variance(self, shape: Shape) -> float | None:
        """The variance of the values drawn for ``shape``, or None if it is not known."""
        return None


def fans(shape: Shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shape ``(..., fan_in, fan_out)``; a 1-D shape is both."""
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[-2], shape[-1]


@attrs.frozen
class Constant(Initializer):
    """W = value everywhere."""

    value: float = attrs.field(default=0.0, validator=number())

    def __call__(self, shape: Shape, rng: np.random.Generator) -> Array:
        return np.full(shape, float(self.value))

    def formula(self, shape: Shape) -> str:
        return f"{self.value:g}"

    def variance(self, shape: Shape) -> float:
        return 0.0


def _fixed(value: Any) -> Any:
    """An attrs field that a named setting fixes: not an argument, not in the repr."""
    return attrs.field(default=value, init=False, repr=False)


@attrs.frozen
class Zeros(Constant):
    """W = 0. The usual start for biases."""

    value: float = _fixed(0.0)


# The largest scale numpy can draw from: the uniform limit sqrt(3 scale / n) is drawn as
# U(-limit, limit), whose width must be a float, for any fan n >= 1.
MAX_SCALE = sys.float_info.max / 3
_drawable = at_most(MAX_SCALE)


@attrs.frozen
class VarianceScaling(Initializer):
    """Var(W) = scale / n, with n the fan-in, the fan-out or their mean (``mode``).

    ``distribution`` is the shape of the draw, each with that variance:

    - ``"uniform"``: W ~ U(-sqrt(3 scale / n), +sqrt(3 scale / n));
    - ``"normal"``: W ~ N(0, scale / n);
    - ``"truncated_normal"``: W ~ N(0, σ²) redrawn beyond ±2σ, with
      σ = sqrt(scale / n) / 0.8796 so that the cut leaves Var(W) = scale / n
      (as in Keras). No weight starts far out in a tail.

    Keeping Var(W) near 2 / fan_in (He) or 1 / fan_avg (Glorot) keeps the
    pre-activations' variance from growing or shrinking from layer to layer.
    """

    scale: float = attrs.field(default=1.0, validator=[number(low=0, strict=True), _drawable])
    mode: Literal["fan_in", "fan_out", "fan_avg"] = attrs.field(
        default="fan_in", validator=one_of("fan_in", "fan_out", "fan_avg")
    )
    distribution: Literal["uniform", "normal", "truncated_normal"] = attrs.field(
        default="uniform", validator=one_of("uniform", "normal", "truncated_normal")
    )

    def variance(self, shape: Shape) -> float:
        """The variance of the weights drawn for ``shape``: scale / n."""
        fan_in, fan_out = fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        return self.scale / n

    def stddev(self, shape: Shape) -> float:
        """The σ of the normal drawn from: sqrt(variance), over 0.8796 when truncated."""
        stddev = math.sqrt(self.variance(shape))
        return stddev / TRUNCATED_STDDEV if self.distribution == "truncated_normal" else stddev

    def limit(self, shape: Shape) -> float:
        """The largest |W| that can be drawn: sqrt(3 Var) for uniform, 2σ truncated, else inf."""
        if self.distribution == "uniform":
            return math.sqrt(3.0 * self.variance(shape))
        if self.distribution == "truncated_normal":
            return 2.0 * self.stddev(shape)
        return math.inf

    def __call__(self, shape: Shape, rng: np.random.Generator) -> Array:
        if self.distribution == "uniform":
            limit = self.limit(shape)
            return rng.uniform(low=-limit, high=limit, size=shape)
        stddev = self.stddev(shape)
        w = rng.normal(0.0, stddev, size=shape)
        if self.distribution == "truncated_normal":
            # By rejection: redraw whatever lies beyond the cut (4.6 % a round) until
            # nothing does. The redraws come from rng in order: one seed, one result.
            limit = self.limit(shape)
            outside = np.abs(w) > limit
            while outside.any():
                w[outside] = rng.normal(0.0, stddev, size=np.count_nonzero(outside))
                outside = np.abs(w) > limit
        return w

    def formula(self, shape: Shape) -> str:
        """E.g. "U(±sqrt(6/fan_in)) = U(±0.7746)" for HeUniform and a fan-in of 10."""
        variance = f"{self.scale:.4g}/{self.mode}"
        if self.distribution == "uniform":
            return f"U(±sqrt({3 * self.scale:.4g}/{self.mode})) = U(±{self.limit(shape):.4g})"
        if self.distribution == "normal":
            return f"N(0, {variance}) = N(0, {self.stddev(shape):.4g}²)"
        return (
            f"N(0, σ²) truncated at ±2σ, σ = sqrt({variance})/{TRUNCATED_STDDEV:.4f} "
            f"= {self.stddev(shape):.4g}"
        )


def _scale(default: float) -> Any:
    """The ``scale`` field of a named setting: an argument, with the setting's default."""
    return attrs.field(default=default, validator=[number(low=0, strict=True), _drawable])


@attrs.frozen
class HeUniform(VarianceScaling):
    """W ~ U(-sqrt(3 scale / fan_in), +sqrt(3 scale / fan_in)); the variance of He et al. 2015.

    The paper draws from a normal distribution with variance 2 / fan_in; the default
    ``scale=2`` gives the uniform distribution of the same variance, limit
    sqrt(6 / fan_in), as Keras's ``he_uniform`` and PyTorch's ``kaiming_uniform_`` do.
    ``scale=2/3`` (``HeUniform.BLOG_SCALE``, or ``BlogUniform``) gives the blog's limit
    sqrt(2 / fan_in), a third of that variance.
    """

    BLOG_SCALE = 2.0 / 3.0
    aliases = ("kaiming_uniform",)  # PyTorch's kaiming_uniform_ (a = 0) has the same limit

    scale: float = _scale(2.0)
    mode: Literal["fan_in", "fan_out", "fan_avg"] = _fixed("fan_in")
    distribution: Literal["uniform", "normal", "truncated_normal"] = _fixed("uniform")


@attrs.frozen
class HeNormal(VarianceScaling):
    """W ~ N(0, σ²) truncated at ±2σ, Var(W) = scale / fan_in = 2 / fan_in; after He et al. 2015.

    The paper's normal is not truncated; this one is, as Keras's ``he_normal`` is, with
    σ raised (divided by 0.8796) so that the variance is still 2 / fan_in.
    """

    scale: float = _scale(2.0)
    mode: Literal["fan_in", "fan_out", "fan_avg"] = _fixed("fan_in")
    distribution: Literal["uniform", "normal", "truncated_normal"] = _fixed("truncated_normal")


@attrs.frozen
class GlorotUniform(VarianceScaling):
    """W ~ U(±sqrt(3 scale / fan_avg)) = U(±sqrt(6 / (fan_in + fan_out))); Glorot & Bengio 2010."""

    aliases = ("xavier_uniform",)  # PyTorch's name for it

    scale: float = _scale(1.0)
    mode: Literal["fan_in", "fan_out", "fan_avg"] = _fixed("fan_avg")
    distribution: Literal["uniform", "normal", "truncated_normal"] = _fixed("uniform")


@attrs.frozen
class GlorotNormal(VarianceScaling):
    """W ~ N(0, σ²) truncated at ±2σ, Var(W) = 2 / (fan_in + fan_out); Glorot & Bengio 2010."""

    scale: float = _scale(1.0)
    mode: Literal["fan_in", "fan_out", "fan_avg"] = _fixed("fan_avg")
    distribution: Literal["uniform", "normal", "truncated_normal"] = _fixed("truncated_normal")


@attrs.frozen
class LecunUniform(VarianceScaling):
    """W ~ U(±sqrt(3 scale / fan_in)) = U(±sqrt(3 / fan_in)); LeCun et al. 1998."""

    scale: float = _scale(1.0)
    mode: Literal["fan_in", "fan_out", "fan_avg"] = _fixed("fan_in")
    distribution: Literal["uniform", "normal", "truncated_normal"] = _fixed("uniform")


@attrs.frozen
class LecunNormal(VarianceScaling):
    """W ~ N(0, σ²) truncated at ±2σ, Var(W) = 1 / fan_in; LeCun et al. 1998."""

    scale: float = _scale(1.0)
    mode: Literal["fan_in", "fan_out", "fan_avg"] = _fixed("fan_in")
    distribution: Literal["uniform", "normal", "truncated_normal"] = _fixed("truncated_normal")


@attrs.frozen
class BlogUniform(HeUniform):
    """W ~ U(-sqrt(2 / fan_in), +sqrt(2 / fan_in)): the blog's own, HeUniform with scale 2/3.

    The blog counts its bias unit in fan_in. It has no knob: ``scale`` is fixed.
    """

    scale: float = _fixed(HeUniform.BLOG_SCALE)
