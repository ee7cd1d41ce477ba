"""Data: where training pairs come from, and how targets are scaled for the network.

A ``DataSource`` hands over the whole training set as two 2-D arrays,
``x`` of shape (samples, inputs) and ``y`` of shape (samples, outputs). A
``Normaliser`` maps targets linearly into the output activation's range and
predictions back into the target's own units.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import attrs
import numpy as np

from .errors import ConfigError, DataError
from .validation import as_matrix, integer, real_array

Array = np.ndarray


class DataSource(ABC):
    """Base of every data source: (x, y) = source.arrays(), each (samples, features).

    ``evaluation_arrays`` gives the points to judge the trained network on; by
    default the training points themselves.

    How to subclass::

        class Line(DataSource):
            '''y = 2x + 1 at 10 points of [0, 1].'''

            def arrays(self):
                x = np.linspace(0, 1, 10).reshape(-1, 1)
                return x, 2 * x + 1
    """

    @abstractmethod
    def arrays(self) -> tuple[Array, Array]:
        """The whole training set: ``x`` (samples, inputs) and ``y`` (samples, outputs)."""

    def evaluation_arrays(self) -> tuple[Array, Array]:
        """Points to evaluate on; the training set unless a source knows better."""
        return self.arrays()

    def validation_arrays(self) -> tuple[Array, Array] | None:
        """Held-out (x, y) the trainer reports ``val_loss`` on each epoch; None if there are none."""
        return None


@attrs.frozen
class ArraySource(DataSource):
    """Training pairs held in memory: (x, y) as given, checked to be 2-D, finite and paired."""

    x: Array = attrs.field(converter=lambda v: as_matrix("x", v, what="inputs"), eq=False)
    y: Array = attrs.field(converter=lambda v: as_matrix("y", v, what="outputs"), eq=False)

    def __attrs_post_init__(self) -> None:
        if self.x.shape[0] != self.y.shape[0]:
            raise DataError(
                f"x has {self.x.shape[0]} samples but y has {self.y.shape[0]}; "
                "every input needs exactly one target"
            )

    def arrays(self) -> tuple[Array, Array]:
        return self.x, self.y


def _domain(value: tuple[float, float]) -> tuple[float, float]:
    bounds = np.asarray(value)
    if not (
        bounds.shape == (2,)
        and bounds.dtype.kind in "iuf"
        and np.isfinite(bounds).all()
        and bounds[0] < bounds[1]
    ):
        raise ConfigError(
            f"domain must be two finite numbers (low, high) with low < high; got {value!r}"
        )
    return float(bounds[0]), float(bounds[1])


@attrs.frozen
class FunctionSource(DataSource):
    """y = f(x) sampled at n evenly spaced x in [low, high], both ends included.

    ``f`` takes and returns arrays of shape (n, 1). The evaluation points are
    the same x shifted right by half a step, (high - low) / (n - 1) / 2, so no
    training point is reused (the last one lies just past the domain).
    """

    f: Callable[[Array], Array] = attrs.field(eq=False)
    domain: tuple[float, float] = attrs.field(default=(0.0, 1.0), converter=_domain)
    n: int = attrs.field(default=32, validator=integer(low=2))

    @property
    def step(self) -> float:
        """The distance between neighbouring sample points."""
        low, high = self.domain
        return (high - low) / (self.n - 1)

    def _sample(self, x: Array) -> tuple[Array, Array]:
        y = real_array("f(x)", self.f(x))
        if y.shape != x.shape:
            raise DataError(
                f"the target function must return shape {x.shape} for x of shape {x.shape}; "
                f"got shape {y.shape}"
            )
        return x, as_matrix("f(x)", y, what="outputs")

    def inputs(self) -> Array:
        """The n training inputs, shape (n, 1)."""
        return np.linspace(*self.domain, num=self.n).reshape(-1, 1)

    def arrays(self) -> tuple[Array, Array]:
        return self._sample(self.inputs())

    def evaluation_arrays(self) -> tuple[Array, Array]:
        return self._sample(self.inputs() + self.step / 2)


def _interval(name: str) -> Callable[[object], tuple[Array, Array]]:
    def convert(value: object) -> tuple[Array, Array]:
        low, high = (np.asarray(v, dtype=np.float64) for v in value)  # type: ignore[attr-defined]
        if not (np.isfinite(low).all() and np.isfinite(high).all()) or np.any(low == high):
            raise DataError(
                f"Normaliser {name} range must be finite with low != high; got ({low}, {high})"
            )
        return low, high

    return convert


@attrs.frozen(eq=False)
class Normaliser:
    """The affine map sending ``source`` = (lo, hi) onto ``target`` = (a, b), per column.

    forward(y) = (y - lo) (b - a) / (hi - lo) + a;  inverse is the same map from
    ``target`` back onto ``source``. Either range may be flipped (a > b), as the
    blog's tanh range (0, -1) is.
    """

    source: tuple[Array, Array] = attrs.field(converter=_interval("source"))
    target: tuple[Array, Array] = attrs.field(converter=_interval("target"))

    @classmethod
    def fit(cls, y: Array, target: tuple[float, float]) -> Normaliser:
        """The normaliser that maps each column's [min, max] of ``y`` onto ``target``."""
        y = as_matrix("y", y, what="outputs")
        low, high = y.min(axis=0), y.max(axis=0)
        if np.any(low == high):
            raise DataError(
                "every target column must vary to be normalised; "
                f"column(s) {np.flatnonzero(low == high).tolist()} are constant"
            )
        return cls((low, high), target)

    def forward(self, y: Array) -> Array:
        """Targets in their own units -> the network's output range."""
        return _affine(y, self.source, self.target)

    def inverse(self, y: Array) -> Array:
        """Network outputs -> the target's own units."""
        return _affine(y, self.target, self.source)


def _affine(y: Array, source: tuple[Array, Array], target: tuple[Array, Array]) -> Array:
    (lo, hi), (a, b) = source, target
    # The blog's order of operations, so its normalised targets are reproduced bit for bit.
    return (y - lo) * (b - a) / (hi - lo) + a
