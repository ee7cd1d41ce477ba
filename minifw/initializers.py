"""Initializers: where a layer's weights start.

An initializer sees only a shape and a random generator, never the layer or
its activation: ``initializer((fan_in, fan_out), rng)`` returns a new array.
The named schemes are settings of one family, ``VarianceScaling``, as in Keras.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Literal

import attrs
import numpy as np

from .registry import Registered, Registry
from .validation import number, one_of

Array = np.ndarray
Shape = tuple[int, ...]


class Initializer(Registered, ABC):
    """Base of every initializer: W = draw(shape, rng).

    How to subclass (registered as ``"half"`` at once)::

        @attrs.frozen
        class Half(Initializer):
            '''W = 0.5 everywhere.'''

            def __call__(self, shape, rng):
                return np.full(shape, 0.5)
    """

    registry = Registry["Initializer"]("initializer")

    @abstractmethod
    def __call__(self, shape: Shape, rng: np.random.Generator) -> Array:
        """A new float64 array of ``shape``; every random number comes from ``rng``."""


def fans(shape: Shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shape ``(..., fan_in, fan_out)``; a 1-D shape is both."""
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[-2], shape[-1]


@attrs.frozen
class Zeros(Initializer):
    """W = 0. The usual start for biases."""

    def __call__(self, shape: Shape, rng: np.random.Generator) -> Array:
        return np.zeros(shape)


@attrs.frozen
class VarianceScaling(Initializer):
    """Var(W) = scale / n, with n the fan-in, the fan-out or their mean (``mode``).

    ``distribution="uniform"`` draws W ~ U(-sqrt(3 scale / n), +sqrt(3 scale / n));
    ``"normal"`` draws W ~ N(0, scale / n). Keeping Var(W) near 2 / fan_in (He)
    or 1 / fan_avg (Glorot) keeps the pre-activations' variance from growing or
    shrinking from layer to layer.
    """

    scale: float = attrs.field(default=1.0, validator=number(low=0, strict=True))
    mode: Literal["fan_in", "fan_out", "fan_avg"] = attrs.field(
        default="fan_in", validator=one_of("fan_in", "fan_out", "fan_avg")
    )
    distribution: Literal["uniform", "normal"] = attrs.field(
        default="uniform", validator=one_of("uniform", "normal")
    )

    def variance(self, shape: Shape) -> float:
        """The variance of the weights drawn for ``shape``."""
        fan_in, fan_out = fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        return self.scale / n

    def __call__(self, shape: Shape, rng: np.random.Generator) -> Array:
        variance = self.variance(shape)
        if self.distribution == "normal":
            return rng.normal(0.0, math.sqrt(variance), size=shape)
        limit = math.sqrt(3.0 * variance)
        return rng.uniform(low=-limit, high=limit, size=shape)


@attrs.frozen
class HeUniform(VarianceScaling):
    """W ~ U(-sqrt(3 scale / fan_in), +sqrt(3 scale / fan_in)); He et al. 2015.

    The default ``scale=2`` gives the limit sqrt(6 / fan_in), as in the paper and
    Keras. ``scale=2/3`` (``HeUniform.BLOG_SCALE``) gives the blog's limit
    sqrt(2 / fan_in), a third of the paper's variance.
    """

    BLOG_SCALE = 2.0 / 3.0

    scale: float = attrs.field(default=2.0, validator=number(low=0, strict=True))
    mode: Literal["fan_in", "fan_out", "fan_avg"] = attrs.field(
        default="fan_in", init=False, repr=False
    )
    distribution: Literal["uniform", "normal"] = attrs.field(
        default="uniform", init=False, repr=False
    )
