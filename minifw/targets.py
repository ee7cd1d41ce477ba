"""Targets: named functions to learn, each with its natural domain.

A target maps x of shape (samples, inputs) to y of shape (samples, outputs).
``value_range``, where a target knows it, bounds its values; it is what the
normaliser maps from (the blog maps sin's [-1, 1], not the sampled extremes).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import attrs
import numpy as np

from .data import FunctionSource
from .registry import Registered, Registry

Array = np.ndarray


class Target(Registered, ABC):
    """Base of every named target: y = f(x) on ``domain`` along each of ``inputs`` axes.

    How to subclass (registered as ``"saddle"`` at once, so ``--target saddle``
    works from the command line once the class is imported)::

        @attrs.frozen
        class Saddle(Target):
            '''y = x0² - x1² on [-1, 1]².'''

            domain: ClassVar[tuple[float, float]] = (-1.0, 1.0)
            inputs: ClassVar[int] = 2

            def __call__(self, x):
                return x[:, :1] ** 2 - x[:, 1:2] ** 2
    """

    registry = Registry["Target"]("target")
    domain: ClassVar[tuple[float, float]] = (-1.0, 1.0)
    inputs: ClassVar[int] = 1
    value_range: ClassVar[tuple[float, float] | None] = None

    @abstractmethod
    def __call__(self, x: Array) -> Array:
        """y for x of shape (samples, inputs); shape (samples, outputs)."""

    def source(
        self, n: int = 32, domain: tuple[float, float] | None = None, **options: Any
    ) -> FunctionSource:
        """A FunctionSource sampling this target, on its own domain unless given another."""
        return FunctionSource(self, domain or self.domain, n, inputs=self.inputs, **options)


@attrs.frozen
class Sin(Target):
    """y = sin(x) on [0, 6.28], the blog's target."""

    domain: ClassVar[tuple[float, float]] = (0.0, 6.28)
    value_range: ClassVar[tuple[float, float] | None] = (-1.0, 1.0)

    def __call__(self, x: Array) -> Array:
        return np.sin(x)


@attrs.frozen
class Cos(Target):
    """y = cos(x) on [0, 6.28]."""

    domain: ClassVar[tuple[float, float]] = (0.0, 6.28)
    value_range: ClassVar[tuple[float, float] | None] = (-1.0, 1.0)

    def __call__(self, x: Array) -> Array:
        return np.cos(x)


@attrs.frozen
class Gauss(Target):
    """y = e^(-x²) on [-3, 3]: one smooth bump."""

    domain: ClassVar[tuple[float, float]] = (-3.0, 3.0)
    value_range: ClassVar[tuple[float, float] | None] = (0.0, 1.0)

    def __call__(self, x: Array) -> Array:
        return np.exp(-(x**2))


@attrs.frozen
class Step(Target):
    """y = 1 where x > 0, else 0, on [-1, 1]: a jump no smooth network fits exactly."""

    domain: ClassVar[tuple[float, float]] = (-1.0, 1.0)
    value_range: ClassVar[tuple[float, float] | None] = (0.0, 1.0)

    def __call__(self, x: Array) -> Array:
        return (x > 0).astype(np.float64)


@attrs.frozen
class Abs(Target):
    """y = |x| on [-1, 1]: a kink, which two ReLUs make exactly."""

    domain: ClassVar[tuple[float, float]] = (-1.0, 1.0)
    value_range: ClassVar[tuple[float, float] | None] = (0.0, 1.0)

    def __call__(self, x: Array) -> Array:
        return np.abs(x)


@attrs.frozen
class Sinc(Target):
    """y = sin(πx) / (πx), and 1 at x = 0, on [-4, 4]: a peak with fading ripples."""

    domain: ClassVar[tuple[float, float]] = (-4.0, 4.0)

    def __call__(self, x: Array) -> Array:
        return np.sinc(x)


@attrs.frozen
class Cubic(Target):
    """y = x³ - x on [-1.5, 1.5]: a smooth S with two bends."""

    domain: ClassVar[tuple[float, float]] = (-1.5, 1.5)

    def __call__(self, x: Array) -> Array:
        return x**3 - x


@attrs.frozen
class Ripple(Target):
    """z = sinc(r) = sin(πr) / (πr), r = sqrt(x0² + x1²), on [-3, 3]²: rings round a peak."""

    domain: ClassVar[tuple[float, float]] = (-3.0, 3.0)
    inputs: ClassVar[int] = 2

    def __call__(self, x: Array) -> Array:
        return np.sinc(np.sqrt(np.sum(x**2, axis=1, keepdims=True)))
