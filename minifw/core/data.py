"""Data: where training pairs come from, and how targets are scaled for the network.

A ``DataSource`` hands over the whole training set as two 2-D arrays,
``x`` of shape (samples, inputs) and ``y`` of shape (samples, outputs). A
``Normaliser`` maps targets linearly into the output activation's range and
predictions back into the target's own units.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

import attrs
import numpy as np

from .contract import Component
from .errors import ConfigError, DataError
from .validation import (
    as_matrix,
    check_memory,
    count_text,
    integer,
    memory_needed,
    number,
    one_of,
    path_problem,
    plural,
    random_seed,
    real_array,
)

Array = np.ndarray


class DataSource(Component, ABC):
    """Base of every data source: (x, y) = source.arrays(), each (samples, features).

    What a subclass must provide: ``arrays()``, the whole training set as two 2-D
    float arrays with one row per sample, the same ones at every call (a random
    source draws from a seed of its own). It may leave to defaults
    ``evaluation_arrays`` (the points to judge the trained network on; by default
    the training points themselves) and ``validation_arrays`` (held-out points for
    a validation loss; by default none), which must have the columns of ``arrays``.
    ``minifw.testing.check_data_source`` tests it.

    How to subclass::

        class Line(DataSource):
            '''y = 2x + 1 at 10 points of [0, 1].'''

            def arrays(self):
                x = np.linspace(0, 1, 10).reshape(-1, 1)
                return x, 2 * x + 1
    """

    _family: ClassVar[str] = "data source"

    @abstractmethod
    def arrays(self) -> tuple[Array, Array]:
        """The whole training set: ``x`` (samples, inputs) and ``y`` (samples, outputs)."""

    def evaluation_arrays(self) -> tuple[Array, Array]:
        """Points to evaluate on; the training set unless a source knows better."""
        return self.arrays()

    def validation_arrays(self) -> tuple[Array, Array] | None:
        """Held-out (x, y) for the trainer's ``val_loss`` each epoch; None if there are none."""
        return None


def split(
    x: Array, y: Array, fraction: float, rng: np.random.Generator
) -> tuple[tuple[Array, Array], tuple[Array, Array] | None]:
    """((x, y) to train on, (x, y) held out or None): a random ``fraction`` of the rows held out.

    The held-out rows are drawn at random, not taken from the tail, so they
    cover the whole domain; both parts keep the rows' original order.
    """
    held = round(fraction * len(x))
    if held == 0:
        return (x, y), None
    if held >= len(x):
        raise DataError(
            f"a validation fraction of {fraction} leaves no training samples out of {len(x)}"
        )
    out = np.zeros(len(x), dtype=bool)
    out[rng.choice(len(x), size=held, replace=False)] = True
    return (x[~out], y[~out]), (x[out], y[out])


def _fraction(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    number(low=0)(instance, attribute, value)
    if value >= 1:
        raise ConfigError(
            f"{type(instance).__name__}.{attribute.name} must be below 1; got {value!r}"
        )


def _held_out(value: object) -> tuple[Array, Array] | None:
    """None, or a pair (x_val, y_val) as two checked 2-D arrays."""
    if value is None:
        return None
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise ConfigError(
            "ArraySource.validation_data must be a pair (x_val, y_val) of arrays; "
            f"got {value!r:.80} (a {type(value).__name__})"
        )
    x, y = value
    return (
        as_matrix("x_val", x, what="inputs", dtype=None),
        as_matrix("y_val", y, what="outputs", dtype=None),
    )


@attrs.frozen
class ArraySource(DataSource):
    """Training pairs held in memory: (x, y) as given, checked to be 2-D, finite and paired.

    Validation data, for the trainer's ``val_loss``, is either given as
    ``validation_data=(x_val, y_val)`` or held out of (x, y): a random fraction
    ``validation`` of the rows, drawn from ``seed``. ``ArraySource.from_csv``
    reads a CSV file.
    """

    # float32 data stays float32 (a float32 network then trains on it without a copy).
    x: Array = attrs.field(
        converter=lambda v: as_matrix("x", v, what="inputs", dtype=None), eq=False
    )
    y: Array = attrs.field(
        converter=lambda v: as_matrix("y", v, what="outputs", dtype=None), eq=False
    )
    validation: float = attrs.field(default=0.0, kw_only=True, validator=_fraction)
    seed: int | np.random.SeedSequence | None = attrs.field(
        default=0, kw_only=True, validator=random_seed
    )
    validation_data: tuple[Array, Array] | None = attrs.field(
        default=None, kw_only=True, converter=_held_out, eq=False
    )

    def __attrs_post_init__(self) -> None:
        _check_pairs("x", self.x, "y", self.y)
        if self.validation_data is not None:
            if self.validation:
                raise ConfigError(
                    f"ArraySource takes validation={self.validation} (a fraction to hold out) "
                    "or validation_data=(x_val, y_val), not both"
                )
            x_val, y_val = self.validation_data
            _check_pairs("x_val", x_val, "y_val", y_val)
            for name, held, train in (("x_val", x_val, self.x), ("y_val", y_val, self.y)):
                if held.shape[1] != train.shape[1]:
                    raise DataError(
                        f"{name} has {held.shape[1]} column(s) but {name[0]} has "
                        f"{train.shape[1]}; validation data must have the training data's columns"
                    )
        self._split()  # refuse a fraction that leaves nothing to train on, here and now

    @classmethod
    def from_csv(
        cls, path: str | Path, *, targets: int = 1, validation: float = 0.0, seed: int | None = 0
    ) -> ArraySource:
        """Rows of a CSV file: the last ``targets`` columns are y, the others x.

        A first line that is not all numbers is taken as a header and skipped.
        """
        table = read_csv(path, columns=targets + 1)
        return cls(table[:, :-targets], table[:, -targets:], validation=validation, seed=seed)

    def _split(self) -> tuple[tuple[Array, Array], tuple[Array, Array] | None]:
        return split(self.x, self.y, self.validation, np.random.default_rng(self.seed))

    def arrays(self) -> tuple[Array, Array]:
        return self._split()[0]

    def validation_arrays(self) -> tuple[Array, Array] | None:
        return self._split()[1] if self.validation_data is None else self.validation_data


def _check_pairs(x_name: str, x: Array, y_name: str, y: Array) -> None:
    if x.shape[0] != y.shape[0]:
        raise DataError(
            f"{x_name} has {x.shape[0]} samples but {y_name} has {y.shape[0]}; "
            "every input needs exactly one target"
        )


def read_csv(path: str | Path, *, columns: int = 1) -> Array:
    """The numbers in a CSV file as a 2-D float array of at least ``columns`` columns.

    A first line that is not all numbers is taken as a header and skipped; any
    other problem is a DataError naming the file.
    """
    path = Path(path)
    if problem := path_problem(path):
        raise DataError(f"cannot read CSV file {path}: {problem}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read CSV file {path}: {error}") from None
    rows = [line.split(",") for line in lines if line.strip()]
    if rows and not all(_is_number(cell) for cell in rows[0]):
        rows = rows[1:]  # a header
    widths = {len(row) for row in rows}
    if not rows or len(widths) != 1 or widths.pop() < columns:
        raise DataError(
            f"CSV file {path} must have rows of one width with at least {columns} "
            f"column(s) (inputs, then any target columns); found widths "
            f"{sorted({len(row) for row in rows})} in {len(rows)} row(s)"
        )
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError as error:
        raise DataError(f"CSV file {path} holds something that is not a number: {error}") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def checked_domain(value: tuple[float, float], *, name: str = "domain") -> tuple[float, float]:
    """(low, high) as floats, if two finite numbers with low < high and a finite width
    high - low; else ConfigError whose message starts with ``name``."""
    try:
        bounds = np.asarray(value)
    except ValueError:  # a ragged sequence: refused below like any other shape
        bounds = np.asarray(None)
    if not (
        bounds.shape == (2,)
        and bounds.dtype.kind in "iuf"
        and np.isfinite(bounds).all()
        and bounds[0] < bounds[1]
    ):
        raise ConfigError(
            f"{name} must be two finite numbers (low, high) with low < high; got {value!r}"
        )
    low, high = float(bounds[0]), float(bounds[1])
    # Both ends can be finite while the width overflows (-1e308, 1e308): sampling would then
    # make inf/NaN points, and the error would blame the target instead of the domain.
    if not math.isfinite(high - low):
        raise ConfigError(
            f"{name} must have a finite width high - low; got {value!r}, whose width "
            "overflows to inf (use a narrower domain)"
        )
    return low, high


# The largest grid FunctionSource builds: 10 million points of float64 inputs is already
# hundreds of MB; numpy's meshgrid stops at 32 axes.
MAX_GRID_POINTS = 10_000_000
MAX_GRID_INPUTS = 32


def _function_of_x(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not callable(value):
        text = (
            "; for a target's name or a formula given as text, pass minifw.target_from(text)"
            if isinstance(value, str)
            else ""
        )
        raise ConfigError(
            "FunctionSource.f must be a function of x, such as np.sin or any callable taking "
            f"x of shape (samples, inputs); got {value!r:.80} (a {type(value).__name__}){text}"
        )


@attrs.frozen
class FunctionSource(DataSource):
    """y = f(x) sampled on [low, high]^d: an even grid or uniform random points.

    ``f`` maps x of shape (samples, d) to y of shape (samples, k): a function,
    or a target (``minifw.target_from("sin(x) * exp(-x / 4)")`` for a formula). With
    ``sampling="grid"`` there are n points per input axis, both ends included,
    and the evaluation points are the grid shifted by half a step on every axis
    (so no training point is reused; the last lies just past the domain), as the
    blog does. With ``"uniform"`` there are n points drawn uniformly at random,
    and n fresh ones to evaluate on. ``noise`` adds N(0, noise²) to the training
    targets only; ``validation`` holds a random fraction of the training points
    out. Every random number comes from ``seed``.
    """

    f: Callable[[Array], Array] = attrs.field(eq=False, validator=_function_of_x)
    domain: tuple[float, float] = attrs.field(default=(0.0, 1.0), converter=checked_domain)
    n: int = attrs.field(default=32, validator=integer(low=2))
    inputs: int = attrs.field(default=1, kw_only=True, validator=integer(low=1))
    sampling: Literal["grid", "uniform"] = attrs.field(
        default="grid", kw_only=True, validator=one_of("grid", "uniform")
    )
    noise: float = attrs.field(default=0.0, kw_only=True, validator=number(low=0))
    validation: float = attrs.field(default=0.0, kw_only=True, validator=_fraction)
    seed: int | np.random.SeedSequence | None = attrs.field(
        default=0, kw_only=True, validator=random_seed
    )
    # The arrays, drawn on first use and kept (read-only: copy them to change them). A run
    # reads its data several times (to build, to check, to fit), and drawing it again took
    # 0.1 ms each time: a third of what building a run costs.
    _drawn: dict[str, Any] = attrs.field(factory=dict, init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        # A grid has n**inputs points: refused here, before numpy tries to allocate it (or
        # fails with its own 32-dimension limit), rather than when the data is first read.
        if self.sampling == "grid" and (
            self.inputs > MAX_GRID_INPUTS or self.n**self.inputs > MAX_GRID_POINTS
        ):
            raise ConfigError(
                f"FunctionSource: a grid of n={count_text(self.n)} points per axis over "
                f"{count_text(self.inputs)} input(s) has {count_text(self.n)}**"
                f"{count_text(self.inputs)} points; a grid may have at most "
                f"{MAX_GRID_POINTS:,} points and {MAX_GRID_INPUTS} inputs. Use "
                'sampling="uniform" (n random points) for this many inputs'
            )
        # Refused before numpy allocates: 10 million uniform points over many inputs, or a
        # count no memory holds, would fail with MemoryError (or after minutes of work).
        points = self.n if self.sampling == "uniform" else self.n**self.inputs
        check_memory(
            memory_needed((self.inputs, 1), points),
            f"sampling a FunctionSource at {count_text(points)} points (and as many to evaluate "
            f"on) of {plural(self.inputs, 'input')} and training on them",
            "use fewer points (n)",
        )

    @property
    def step(self) -> float:
        """The distance between neighbouring grid points along each axis."""
        low, high = self.domain
        return (high - low) / (self.n - 1)

    def _streams(self) -> list[np.random.Generator]:
        # Independent generators for sampling, evaluation points, noise and the split, so
        # turning one option on does not change the numbers another one draws.
        return [np.random.default_rng(s) for s in np.random.SeedSequence(self.seed).spawn(4)]

    def _points(self, rng: np.random.Generator, shift: float = 0.0) -> Array:
        low, high = self.domain
        if self.sampling == "uniform":
            return rng.uniform(low, high, size=(self.n, self.inputs))
        axis = np.linspace(low, high, num=self.n) + shift
        grids = np.meshgrid(*[axis] * self.inputs, indexing="ij")
        return np.stack([g.reshape(-1) for g in grids], axis=1)

    def _sample(self, x: Array) -> tuple[Array, Array]:
        # numpy would warn of log(-1) and the like from inside f; the check below refuses
        # the NaN it makes and says at which x, which tells more.
        with np.errstate(all="ignore"):
            y = real_array("f(x)", self.f(x))
        if y.ndim != 2 or y.shape[0] != x.shape[0]:
            raise DataError(
                f"the target function must return shape ({x.shape[0]}, outputs) for x of shape "
                f"{x.shape}; got shape {y.shape}"
            )
        return x, as_matrix("f(x)", y, what="outputs", inputs=x)

    def _training(self) -> tuple[tuple[Array, Array], tuple[Array, Array] | None]:
        sampling, _, noise, splitting = self._streams()
        x, y = self._sample(self._points(sampling))
        if self.noise:
            y = y + noise.normal(0.0, self.noise, size=y.shape)
        return split(x, y, self.validation, splitting)

    def _kept(self, name: str, draw: Callable[[], Any]) -> Any:
        """``draw()``'s arrays, drawn the first time only, made read-only."""
        if name not in self._drawn:
            self._drawn[name] = _read_only(draw())
        return self._drawn[name]

    def arrays(self) -> tuple[Array, Array]:
        return self._kept("training", self._training)[0]

    def validation_arrays(self) -> tuple[Array, Array] | None:
        return self._kept("training", self._training)[1]

    def evaluation_arrays(self) -> tuple[Array, Array]:
        return self._kept(
            "evaluation",
            lambda: self._sample(self._points(self._streams()[1], shift=self.step / 2)),
        )


def _read_only(value: Any) -> Any:
    """``value``, its arrays (at any depth of tuples) made read-only."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, tuple):
        for item in value:
            _read_only(item)
    return value


def _interval(name: str) -> Callable[[object], tuple[Array, Array]]:
    def convert(value: object) -> tuple[Array, Array]:
        try:
            low, high = (np.asarray(v, dtype=np.float64) for v in value)  # type: ignore[attr-defined]
        except OverflowError:  # an int too large for a float: not finite, as refused below
            low = high = np.asarray(math.inf)
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
