"""Hypothesis strategies for components' inputs, the ones ``minifw.testing``'s checks draw from.

Use them in property tests of your own::

    from hypothesis import given
    from minifw.testing import strategies

    @given(x=strategies.float_arrays(low=-5, high=5))
    def test_my_activation_is_odd(x):
        assert np.array_equal(MyActivation().forward(-x), -MyActivation().forward(x))

Every array strategy gives finite numbers only (no NaN, no inf) of the dtype asked
for, float32 or float64, and shapes of at most a few entries per axis, so that a
failure shrinks to a small example.
"""

from __future__ import annotations

import math
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st

from ..core.targets import Target

Array = np.ndarray
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def dtypes() -> st.SearchStrategy[np.dtype]:
    """float32 or float64: the dtypes a network computes in."""
    return st.sampled_from(FLOAT_DTYPES)


def _inside(value: float, dtype: np.dtype, towards: float) -> float:
    """``value`` rounded to ``dtype`` without leaving [low, high]: hypothesis wants bounds that
    the dtype holds exactly, and float32(0.1) is above 0.1."""
    rounded = dtype.type(value)
    if (towards > value and rounded < value) or (towards < value and rounded > value):
        rounded = np.nextafter(rounded, dtype.type(towards))
    return float(rounded)


def floats(dtype: Any = np.float64, low: float = -10.0, high: float = 10.0) -> st.SearchStrategy:
    """Finite numbers of ``dtype`` in [low, high] (subnormal ones and 0 included)."""
    dtype = np.dtype(dtype)
    return st.floats(
        _inside(low, dtype, high),
        _inside(high, dtype, low),
        allow_nan=False,
        allow_infinity=False,
        width=8 * dtype.itemsize,
    )


def float_arrays(
    dtype: Any = np.float64,
    *,
    low: float = -10.0,
    high: float = 10.0,
    min_dims: int = 1,
    max_dims: int = 2,
    max_side: int = 5,
) -> st.SearchStrategy[Array]:
    """Arrays of ``dtype`` with ``min_dims`` to ``max_dims`` axes of 1 to ``max_side`` entries,
    holding finite numbers in [low, high]. ``dtype=None``: float32 or float64, either."""
    if dtype is None:
        return dtypes().flatmap(
            lambda t: float_arrays(
                t, low=low, high=high, min_dims=min_dims, max_dims=max_dims, max_side=max_side
            )
        )
    shapes = hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side)
    return hnp.arrays(np.dtype(dtype), shapes, elements=floats(dtype, low, high))


def matrices(
    dtype: Any = np.float64,
    *,
    low: float = -10.0,
    high: float = 10.0,
    max_rows: int = 5,
    max_columns: int = 3,
) -> st.SearchStrategy[Array]:
    """(samples, features) arrays, the shape minifw passes between layers."""
    shapes = st.tuples(st.integers(1, max_rows), st.integers(1, max_columns))
    return shapes.flatmap(
        lambda s: hnp.arrays(np.dtype(dtype), s, elements=floats(dtype, low, high))
    )


def stacks(
    dtype: Any = np.float64, *, low: float = -10.0, high: float = 10.0, max_networks: int = 3
) -> st.SearchStrategy[Array]:
    """(networks, samples, features) arrays: what a stack of networks (``minifw.stack``) passes."""
    shapes = st.tuples(st.integers(1, max_networks), st.integers(1, 4), st.integers(1, 3))
    return shapes.flatmap(
        lambda s: hnp.arrays(np.dtype(dtype), s, elements=floats(dtype, low, high))
    )


def prediction_target_pairs(
    dtype: Any = np.float64,
    *,
    low: float = -10.0,
    high: float = 10.0,
    margin: float = 0.0,
    stacked: bool = False,
) -> st.SearchStrategy[tuple[Array, Array]]:
    """(pred, target) of one (samples, outputs) shape, or with ``stacked`` pred (networks,
    samples, outputs) against the targets they share. Targets lie in [low, high], predictions
    ``margin`` inside it (a loss defined on an open interval)."""
    inner = (low + margin, high - margin)
    predictions = stacks(dtype, low=inner[0], high=inner[1]) if stacked else None

    def pair(pred: Array) -> st.SearchStrategy[tuple[Array, Array]]:
        target = hnp.arrays(np.dtype(dtype), pred.shape[-2:], elements=floats(dtype, low, high))
        return target.map(lambda t: (pred, t))

    if predictions is None:
        predictions = matrices(dtype, low=inner[0], high=inner[1])
    return predictions.flatmap(pair)


def seeds() -> st.SearchStrategy[int]:
    """Seeds for ``numpy.random.default_rng``."""
    return st.integers(0, 2**32 - 1)


def generators() -> st.SearchStrategy[np.random.Generator]:
    """Fresh ``numpy.random.Generator``s, each from a seed of its own."""
    return seeds().map(np.random.default_rng)


def weight_shapes(max_side: int = 8) -> st.SearchStrategy[tuple[int, ...]]:
    """What an initializer is asked for: a weight matrix's (fan_in, fan_out) or a bias's (n,)."""
    side = st.integers(1, max_side)
    return st.one_of(st.tuples(side), st.tuples(side, side))


def learning_rates(low: float = 1e-6, high: float = 10.0) -> st.SearchStrategy[float]:
    """Learning rates, finite and > 0."""
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def update_counts(high: int = 10**6) -> st.SearchStrategy[int]:
    """Update numbers t = 0, 1, 2, ..., as a schedule is asked for them."""
    return st.integers(0, high)


def quadratics(
    dtype: Any = np.float64, max_size: int = 6
) -> st.SearchStrategy[tuple[Array, Array]]:
    """(a, θ₀) for f(θ) = ½ Σ aᵢθᵢ², ∇f = aθ: curvatures a in [0.5, 4] and a start θ₀ with
    entries of 0.5 to 4 in size, of either sign, both of ``dtype``."""
    dtype = np.dtype(dtype)

    def pair(n: int) -> st.SearchStrategy[tuple[Array, Array]]:
        curvature = hnp.arrays(dtype, n, elements=floats(dtype, 0.5, 4.0))
        size = hnp.arrays(dtype, n, elements=floats(dtype, 0.5, 4.0))
        sign = hnp.arrays(dtype, n, elements=st.sampled_from([-1.0, 1.0]))
        return st.tuples(curvature, st.tuples(size, sign).map(lambda s: s[0] * s[1]))

    return st.integers(1, max_size).flatmap(pair)


def target_inputs(target: Target, max_samples: int = 6) -> st.SearchStrategy[Array]:
    """x of shape (samples, target.inputs), every entry in the target's domain."""
    low, high = (float(v) for v in target.domain)
    inputs = int(target.inputs)
    return st.integers(1, max_samples).flatmap(
        lambda n: hnp.arrays(np.float64, (n, inputs), elements=floats(np.float64, low, high))
    )


def within(bounds: tuple[float, float], fallback: float = 10.0) -> tuple[float, float]:
    """(low, high) of ``bounds`` with an infinite side replaced by ±``fallback``: where to
    draw numbers from an interval that may be unbounded."""
    low, high = bounds
    return (low if math.isfinite(low) else -fallback, high if math.isfinite(high) else fallback)
