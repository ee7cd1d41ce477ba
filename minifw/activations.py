"""Activation functions: the non-linearity applied after each layer's weighted sum.

An activation is a stateless value object. ``forward`` maps a pre-activation
``x`` to an output ``y``; ``derivative`` gives d y / d x elementwise, and is
handed both ``x`` and ``y`` so that each function can use whichever is cheaper
(sigmoid and tanh use their output, as the blog does; ReLU its input).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

import attrs
import numpy as np

from .errors import DataError
from .registry import Registered, Registry

Array = np.ndarray

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _per_dtype(value_of: Callable[[np.dtype], float]) -> dict[np.dtype, Array]:
    """``value_of(dtype)`` as a 0-d array of each float dtype, keyed by dtype.

    numpy combines an array with a 0-d array of its own dtype about 0.2 µs
    faster than with a Python float, a fifth of a small op's cost; the blog's
    network spends most of its time in such ops.
    """
    return {t: np.array(value_of(t), dtype=t) for t in _FLOATS}


def _exp_limit(dtype: np.dtype) -> float:
    """The largest v for which e^v and 1 / (1 + e^v) are both normal floats: 708 in float64."""
    return math.floor(-math.log(np.finfo(dtype).smallest_normal))


_ONE = _per_dtype(lambda t: 1.0)
_EXP_LOW = _per_dtype(lambda t: -_exp_limit(t))
_EXP_HIGH = _per_dtype(_exp_limit)


class Activation(Registered, ABC):
    """Base of every activation: y = f(x) elementwise, with f'(x) for backpropagation.

    ``output_range`` is the interval the outputs can reach, ``(low, high)``, with
    ``math.inf`` where a side is unbounded: where a ``Normaliser`` may put targets.

    How to subclass (it is registered under its snake-case name at once)::

        @attrs.frozen
        class Cube(Activation):
            '''y = x³,  dy/dx = 3x².'''

            output_range: ClassVar[tuple[float, float]] = (-math.inf, math.inf)

            def forward(self, x):
                return x**3

            def derivative(self, x, y):
                return 3 * x**2
    """

    registry = Registry["Activation"]("activation")
    output_range: ClassVar[tuple[float, float]]

    @abstractmethod
    def forward(self, x: Array) -> Array:
        """y = f(x), elementwise; ``x`` is a float array of any shape."""

    @abstractmethod
    def derivative(self, x: Array, y: Array) -> Array:
        """dy/dx elementwise, given the input ``x`` and the output ``y = forward(x)``."""


@attrs.frozen
class Identity(Activation):
    """y = x,  dy/dx = 1. For an output layer that should not squash its values."""

    output_range: ClassVar[tuple[float, float]] = (-math.inf, math.inf)

    def forward(self, x: Array) -> Array:
        return x

    def derivative(self, x: Array, y: Array) -> Array:
        return np.ones_like(x)


@attrs.frozen
class Sigmoid(Activation):
    """y = 1 / (1 + e^(-x)) = e^x / (1 + e^x),  dy/dx = y (1 - y). The blog's default.

    Computed as u / (1 + u) with u = e^x and x held to |x| <= 708 (87 in
    float32), where u and y are normal floats: no finite float64 input
    overflows or underflows, and the held values change y by less than the
    smallest normal float (y is already 1 to double precision beyond x = 37).
    Takes float32 or float64 arrays and keeps their dtype.
    """

    output_range: ClassVar[tuple[float, float]] = (0.0, 1.0)

    def forward(self, x: Array) -> Array:
        try:
            low, high, one = _EXP_LOW[x.dtype], _EXP_HIGH[x.dtype], _ONE[x.dtype]
        except KeyError:
            raise DataError(f"Sigmoid takes float32 or float64 arrays; got {x.dtype}") from None
        u = np.exp(np.minimum(np.maximum(x, low), high))
        return u / (u + one)

    def derivative(self, x: Array, y: Array) -> Array:
        return y * (_ONE[y.dtype] - y)


@attrs.frozen
class Tanh(Activation):
    """y = tanh(x) = (e^x - e^(-x)) / (e^x + e^(-x)),  dy/dx = 1 - y²."""

    output_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)

    def forward(self, x: Array) -> Array:
        return np.tanh(x)

    def derivative(self, x: Array, y: Array) -> Array:
        return _ONE[y.dtype] - y * y


@attrs.frozen
class ReLU(Activation):
    """y = max(0, x),  dy/dx = 1 where x > 0, else 0 (the kink at 0 takes 0)."""

    name = "relu"
    output_range: ClassVar[tuple[float, float]] = (0.0, math.inf)

    def forward(self, x: Array) -> Array:
        return np.maximum(x, 0.0)

    def derivative(self, x: Array, y: Array) -> Array:
        return (x > 0).astype(x.dtype)
