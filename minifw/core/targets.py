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

from .contract import check_class_value, checked_range
from .data import FunctionSource, checked_domain
from .errors import ConfigError
from .expressions import Expression, shorten
from .registry import Registered, Registry
from .validation import check_count

Array = np.ndarray


def _count(value: object, what: str) -> None:
    check_count(what, value, low=1)


def _value_range(value: object, what: str) -> None:
    if value is not None:
        checked_range(value, what, finite=True)


class Target(Registered, ABC):
    """Base of every named target: y = f(x) on ``domain`` along each of ``inputs`` axes.

    What a subclass must provide: ``__call__(x)``, y of shape (samples, outputs), finite,
    for x of shape (samples, inputs) in the domain, leaving x as it was. It may leave
    to defaults ``domain`` ((-1, 1) along each axis), ``inputs`` (1) and
    ``value_range`` (None: unknown; the normaliser then maps from the sampled
    extremes). A ``value_range`` given must be where the values lie, coming near both
    ends: the normaliser maps it onto the output activation's range. Class attributes
    are checked when the class is defined, a plain class's instances when built.
    Constructor parameters, if any, are kept as attributes of the same names.
    ``minifw.testing.check_target`` tests the rest, a normalisation round trip too.

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
    _family: ClassVar[str] = "target"
    domain: ClassVar[tuple[float, float]] = (-1.0, 1.0)
    inputs: ClassVar[int] = 1
    value_range: ClassVar[tuple[float, float] | None] = None

    @classmethod
    def _check_class(cls) -> None:
        super()._check_class()
        check_class_value(cls, "domain", lambda value, what: checked_domain(value, name=what))
        check_class_value(cls, "inputs", _count)
        check_class_value(cls, "value_range", _value_range)

    def _check_built(self) -> None:
        super()._check_built()
        where = type(self).__name__
        checked_domain(self.domain, name=f"{where}.domain")
        _count(self.inputs, f"{where}.inputs")
        _value_range(self.value_range, f"{where}.value_range")

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


def _formula(value: str | Expression) -> str:
    # Checked where it is written, and kept as the Expression's (stripped) text.
    return (value if isinstance(value, Expression) else Expression(value)).text


@attrs.frozen
class ExpressionTarget(Target):
    """y = a formula in x given as text, like ``"sin(x) * exp(-x / 4)"``, on [-1, 1] unless given.

    The formula is an ``Expression`` (``minifw.expressions`` lists what it may
    hold); ``inputs`` is the number of inputs it reads (``x0 * x1``: 2). Build
    one with ``target_from(text)`` or ``ExpressionTarget(text, domain=(0, 6.28))``.

    It is registered as ``"expression"``, so a run on a formula is saved and
    loaded like any target, as ``{"name": "expression", "text": ..., "domain": ...}``
    (the text is checked again on loading). The name alone builds nothing: a
    formula comes with text, so ``target_from`` is the way in from a string.
    """

    name: ClassVar[str] = "expression"

    text: str = attrs.field(converter=_formula)
    domain: tuple[float, float] = attrs.field(default=(-1.0, 1.0), converter=checked_domain)
    expression: Expression = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "expression", Expression(self.text))  # frozen: set once, here

    @property
    def inputs(self) -> int:  # type: ignore[override]
        """The number of input columns the formula reads."""
        return self.expression.inputs

    def __call__(self, x: Array) -> Array:
        return self.expression(x)


def target_from(spec: str | Target) -> Target:
    """The target ``spec`` names: a registered name (with parameters), else a formula in x.

    ``target_from("sin")`` is ``Sin()``, as ``Target.resolve`` gives it; any
    other text is parsed as an ``ExpressionTarget``: ``target_from("sin(x) *
    exp(-x / 4)")``. A registered name wins over a formula. A Target instance
    is returned as is. Text that is neither raises ConfigError listing the
    registered names and saying why it is not a valid expression either.
    """
    # The name part of "name:key=value,..."; a colon is never valid in a formula anyway.
    if (
        not isinstance(spec, str)
        or spec.partition(":")[0].strip().lower() in Target.registry.names()
    ):
        return Target.resolve(spec)
    try:
        return ExpressionTarget(spec)
    except ConfigError as error:
        raise ConfigError(
            f"target {shorten(spec.strip())!r} is neither a registered target "
            f"({', '.join(Target.registry.names())}) nor a valid expression: {error}"
        ) from None
