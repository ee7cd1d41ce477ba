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

from .contract import check_class_value, checked_range
from .errors import DataError
from .numerics import tolerate_underflow
from .registry import Registered, Registry
from .validation import number

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


def _float_dtype(x: Array, who: Activation) -> np.dtype:
    """``x.dtype`` if float32 or float64, the dtypes the constant tables hold; else DataError."""
    if x.dtype not in _ONE:
        raise DataError(f"{type(who).__name__} takes float32 or float64 arrays; got {x.dtype}")
    return x.dtype


def _silu_minimum() -> float:
    """min over x of x·sigmoid(x): -W(1/e) = -0.27846..., with W the Lambert W function.

    At the minimum 1 + x(1 - s) = 0, so s = 1 + 1/x and y = x s = x + 1, and
    x = -1 - W(1/e). Newton's method on w e^w = 1/e from 0.3 settles in 4 steps.
    """
    w = 0.3
    for _ in range(6):
        w -= (w * math.exp(w) - math.exp(-1.0)) / (math.exp(w) * (1.0 + w))
    return -w


class Activation(Registered, ABC):
    """Base of every activation: y = f(x) elementwise, with f'(x) for backpropagation.

    What a subclass must provide (checked when the class is defined, naming the class):

    - ``forward(x)``: y = f(x), elementwise, for a float array of any shape, keeping
      its dtype (float32 or float64) and leaving ``x`` as it was;
    - ``derivative(x, y)``: dy/dx elementwise, given the input and the output; a new
      array, or ``x`` or ``y`` themselves, never a view of them;
    - ``output_range``: the interval ``(low, high)`` the outputs can reach, with
      ``math.inf`` for an unbounded side: where a ``Normaliser`` may put targets. It is
      required, with no default: a wrong guess (unbounded for a bounded function, or
      the reverse) would send targets where the network cannot follow. A class
      attribute (checked at once), or a property when a hyperparameter sets it
      (``ELU``'s alpha); read it from an instance.

    Constructor parameters, if any, are kept as attributes of the same names (attrs
    does this for you); nothing else is needed to save, load and resume. An attrs
    class or a plain one, frozen or not, works the same: networks compare their
    activations by spec, not by identity. ``minifw.testing.check_activation`` tests
    the rest: the derivative against central differences, the range, dtypes, shapes.

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
    _family: ClassVar[str] = "activation"
    # Not a ClassVar: an instance attribute as far as readers know, so that a class
    # attribute (the usual case) and a property (a parameterised range) both fit.
    output_range: tuple[float, float]

    @classmethod
    def _check_class(cls) -> None:
        super()._check_class()
        check_class_value(
            cls,
            "output_range",
            checked_range,
            missing=(
                "must declare output_range, the (low, high) its outputs can reach, with "
                "math.inf for an unbounded side: output_range: ClassVar[tuple[float, float]] "
                "= (-1.0, 1.0), say"
            ),
        )

    def _check_built(self) -> None:
        super()._check_built()
        checked_range(getattr(self, "output_range", None), f"{type(self).__name__}.output_range")

    @abstractmethod
    def forward(self, x: Array) -> Array:
        """y = f(x), elementwise; ``x`` is a float array of any shape."""

    @abstractmethod
    def derivative(self, x: Array, y: Array) -> Array:
        """dy/dx elementwise, given the input ``x`` and the output ``y = forward(x)``.

        Return a new array (``Dense`` multiplies it by the incoming gradient in place),
        or ``x`` or ``y`` themselves; never a view of them.
        """


@attrs.frozen
class Identity(Activation):
    """y = x,  dy/dx = 1. For an output layer that should not squash its values."""

    output_range: ClassVar[tuple[float, float]] = (-math.inf, math.inf)
    aliases = ("linear",)  # Keras's name for it

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

    @tolerate_underflow  # numpy's float32 exp flags subnormal inputs
    def forward(self, x: Array) -> Array:
        t = x.dtype
        if t not in _ONE:  # _float_dtype's test, inline: a call fewer on the blog's every batch
            _float_dtype(x, self)
        u = np.exp(np.minimum(np.maximum(x, _EXP_LOW[t]), _EXP_HIGH[t]))
        return u / (u + _ONE[t])

    def derivative(self, x: Array, y: Array) -> Array:
        slope = _ONE[y.dtype] - y
        slope *= y  # in place: one array fewer on every backward pass (y (1 - y), as before)
        return slope


_SIGMOID = Sigmoid()  # for Softplus's and SiLU's slopes, which are made of sigmoids


@attrs.frozen
class Tanh(Activation):
    """y = tanh(x) = (e^x - e^(-x)) / (e^x + e^(-x)),  dy/dx = 1 - y² = (1 - y)(1 + y).

    The derivative is computed as (1 - y)(1 + y): y·y underflows for |y| < 1e-154,
    the factored form does not, and it is the more accurate of the two near |y| = 1.
    """

    output_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)

    def forward(self, x: Array) -> Array:
        return np.tanh(x)

    def derivative(self, x: Array, y: Array) -> Array:
        one = _ONE[y.dtype]
        slope = one - y
        slope *= one + y  # in place: one array fewer on every backward pass
        return slope


@attrs.frozen
class ReLU(Activation):
    """y = max(0, x),  dy/dx = 1 where x > 0, else 0 (the kink at 0 takes 0)."""

    name = "relu"
    output_range: ClassVar[tuple[float, float]] = (0.0, math.inf)

    def forward(self, x: Array) -> Array:
        return np.maximum(x, 0.0)

    def derivative(self, x: Array, y: Array) -> Array:
        return (x > 0).astype(x.dtype)


@attrs.frozen
class _AlphaBelowZero(Activation):
    """y = x if x > 0 else α·g(x), g increasing with g(0) = 0: the base of LeakyReLU and ELU.

    A subclass declares its ``alpha`` field and says what g is. α is kept as a
    0-d array of each float dtype. Inputs so close to 0 that α·g(x) is below the
    smallest normal float give it rounded to a subnormal or 0, without numpy's
    underflow error (``minifw.numerics.tolerate_underflow``).
    """

    _alphas: dict[np.dtype, Array] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        # Here rather than as a default, so that a bad alpha fails its validator first
        # (validators run after defaults). The class is frozen, hence object.__setattr__.
        alphas = {t: np.array(self.alpha, dtype=t) for t in _FLOATS}  # type: ignore[attr-defined]
        object.__setattr__(self, "_alphas", alphas)

    @staticmethod
    @abstractmethod
    def _g(v: Array) -> Array:
        """g(v), elementwise, for v <= 0."""

    @tolerate_underflow
    def forward(self, x: Array) -> Array:
        alpha = self._alphas[_float_dtype(x, self)]
        # g sees min(x, 0), never more: np.where computes both branches everywhere, and
        # ELU's e^x - 1 would overflow on the large inputs whose value it throws away.
        return np.where(x > 0, x, alpha * self._g(np.minimum(x, 0.0)))


@attrs.frozen
class LeakyReLU(_AlphaBelowZero):
    """y = x if x > 0 else α·x,  dy/dx = 1 if x > 0 else α (the kink at 0 takes α).

    ``alpha`` (α, default 0.01) is the slope for negative inputs; 0 gives ReLU.
    With α > 1, inputs below -1.8e308 / α overflow: their true output is beyond
    the float range.
    Takes float32 or float64 arrays and keeps their dtype.
    """

    name = "leaky_relu"

    alpha: float = attrs.field(default=0.01, validator=number(low=0))

    @property
    def output_range(self) -> tuple[float, float]:  # type: ignore[override]
        """(-inf, inf); (0, inf) when alpha is 0."""
        return (-math.inf if self.alpha > 0 else 0.0, math.inf)

    @staticmethod
    def _g(v: Array) -> Array:
        return v

    def derivative(self, x: Array, y: Array) -> Array:
        alpha = self._alphas[_float_dtype(x, self)]
        return np.where(x > 0, _ONE[x.dtype], alpha)


@attrs.frozen
class ELU(_AlphaBelowZero):
    """y = x if x > 0 else α(e^x - 1),  dy/dx = 1 if x > 0 else y + α. Clevert et al. 2015.

    ``alpha`` (α, default 1) is the value approached as x -> -inf, so outputs lie in
    (-α, inf). e^x - 1 is ``expm1`` of min(x, 0): exact near 0, and -1 without
    overflow or underflow for any negative input (y is -α to double precision
    below x = -37, where dy/dx becomes 0 instead of α e^x < 1e-16).
    Takes float32 or float64 arrays and keeps their dtype.
    """

    alpha: float = attrs.field(default=1.0, validator=number(low=0))

    @property
    def output_range(self) -> tuple[float, float]:  # type: ignore[override]
        """(-alpha, inf)."""
        return (-self.alpha, math.inf)

    @staticmethod
    def _g(v: Array) -> Array:
        return np.expm1(v)

    def derivative(self, x: Array, y: Array) -> Array:
        alpha = self._alphas[_float_dtype(x, self)]
        return np.where(x > 0, _ONE[x.dtype], y + alpha)


@attrs.frozen
class Softplus(Activation):
    """y = log(1 + e^x),  dy/dx = sigmoid(x). A smooth ReLU.

    Computed as max(x, 0) + log1p(e^(-|x|)), which never takes e^x of a large x,
    with |x| held to 708 (87 in float32) inside the exponent so that e^(-|x|) stays
    a normal float: for x < -708 the output is e^(-708) = 3.3e-308 instead of a
    smaller positive number, and for x > 708 it is x, exactly as it should be.
    Takes float32 or float64 arrays and keeps their dtype.
    """

    output_range: ClassVar[tuple[float, float]] = (0.0, math.inf)

    @tolerate_underflow  # numpy's float32 exp flags subnormal inputs
    def forward(self, x: Array) -> Array:
        t = _float_dtype(x, self)
        tail = np.exp(np.maximum(-np.abs(x), _EXP_LOW[t]))
        return np.maximum(x, 0.0) + np.log1p(tail)

    def derivative(self, x: Array, y: Array) -> Array:
        _float_dtype(x, self)  # so that a wrong dtype's message names Softplus
        return _SIGMOID.forward(x)


@attrs.frozen
class SiLU(Activation):
    """y = x·sigmoid(x),  dy/dx = s(1 + x(1 - s)) with s = sigmoid(x). Also called swish.

    Bounded below by its minimum, -W(1/e) = -0.27846 at x = -1.27846 (W is the
    Lambert W function). The input is held to x >= -708 (-87 in float32), where
    sigmoid(x) is still a normal float, so every x below gives -708·e^(-708) =
    -2.3e-305; Sigmoid's own bound alone would give x·sigmoid(x) = -3e-8 at
    x = -1e300. Inputs so close to 0 that x/2 is below the smallest normal float
    give it rounded, without numpy's underflow error.
    The derivative is computed from the output as s + y(1 - s), the same number.
    Takes float32 or float64 arrays and keeps their dtype.
    """

    name = "silu"
    aliases = ("swish",)  # Keras's other name for it
    # Rounding puts some computed outputs a step or two below the true minimum (float32:
    # up to 1.5 of its steps, 4e-8), so the range starts a millionth of it lower.
    output_range: ClassVar[tuple[float, float]] = (_silu_minimum() * (1 + 1e-6), math.inf)

    @tolerate_underflow
    def forward(self, x: Array) -> Array:
        held = np.maximum(x, _EXP_LOW[_float_dtype(x, self)])
        return held * _SIGMOID.forward(held)

    @tolerate_underflow
    def derivative(self, x: Array, y: Array) -> Array:
        # Sigmoid of x and of the held input are the same number (held inputs change it by
        # less than a rounding step).
        _float_dtype(x, self)  # so that a wrong dtype's message names SiLU
        s = _SIGMOID.forward(x)
        return s + y * (_ONE[s.dtype] - s)
