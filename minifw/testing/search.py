"""How the checks look for a failure, and how they judge a derivative.

``falsify`` asks hypothesis for the smallest example on which a property fails
(``hypothesis.find``: a search, then shrinking), derandomised so that a check gives
the same answer every time, and turns it into an AssertionError that says what
failed and on what.

A derivative is judged against the slopes of the function on either side of each
point: from the left, from differences over steps of h and 2h, h = ε^(1/3)·max(1, |x|)
for the dtype's ε, extrapolated to a step of 0 (Richardson), and likewise from the
right. A derivative must lie between the two, give or take the rounding of the
differences and of the extrapolation (h²|f'''|/3, estimated from the same values),
and about ε^(2/3) (1e-10 in float64, 3e-5 in float32). Where the function
is smooth the two agree, so a derivative 1 % off is far outside; at a kink (ReLU at
0, ELU's change of slope) they differ, and any value between them, a subgradient, is
accepted. No list of kinks is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hypothesis
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis.errors import Flaky, NoSuchExample

Array = np.ndarray
Problem = Callable[[Any], str | None]


def falsify(check: str, strategy: Any, problem: Problem, max_examples: int) -> None:
    """Raise AssertionError if hypothesis finds an example where ``problem(example)`` says
    something is wrong (a message) or raises; the example reported is the smallest found.

    ``check`` names what is being checked, as the error's first words.
    """

    def fails(example: Any) -> bool:
        return _message(problem, example) is not None

    chosen = settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    try:
        example = hypothesis.find(strategy, fails, settings=chosen)
    except NoSuchExample:
        return
    except Flaky as error:  # failed once and passed when asked again: not deterministic
        raise AssertionError(
            f"{check}: gives different answers for the same input ({error})"
        ) from None
    raise AssertionError(
        f"{check}: {_message(problem, example)}\n"
        f"  smallest counterexample (shrunk by hypothesis): {show(example)}"
    )


def fail_if(check: str, message: str | None) -> None:
    """Raise AssertionError naming ``check`` if ``message`` says what is wrong."""
    if message is not None:
        raise AssertionError(f"{check}: {message}")


def _message(problem: Problem, example: Any) -> str | None:
    """What ``problem`` says of ``example``; an exception is a problem too."""
    try:
        with np.errstate(all="ignore"):  # a property is judged by its results, not warnings
            return problem(example)
    except Exception as error:
        return f"raised {type(error).__name__}: {error}"


def show(value: Any) -> str:
    """``value`` for a message: arrays with their dtype, tuples item by item."""
    if isinstance(value, np.ndarray):
        return f"array({np.array2string(value, separator=', ', threshold=50)}, dtype={value.dtype})"
    if isinstance(value, tuple) and any(isinstance(v, np.ndarray | tuple) for v in value):
        return "(" + ", ".join(map(show, value)) + ")"
    return repr(value)


def central_difference(f: Callable[[Array], Array], x: Array) -> Array:
    """(f(x + h) - f(x - h)) / (2h) at every entry of ``x``, for an elementwise ``f``.

    h = ε^(1/3)·max(1, |x|) for the ε of x's dtype, and the step actually taken,
    (x + h) - (x - h) after rounding, is the one divided by. Computed in float64
    from f's values in x's dtype. Compare a derivative with it to within about
    ε^(2/3) (1e-10 in float64, 3e-5 in float32), more near a kink.
    """
    x = np.asarray(x)
    points = _nudged(x)
    below, above = points[-1], points[1]
    rise = f(above).astype(np.float64) - f(below).astype(np.float64)
    return rise / (above.astype(np.float64) - below.astype(np.float64))


def outside_slopes(
    f: Callable[[Array], Array], x: Array, derivative: Array, y: Array | None = None
) -> tuple[Array, Array, Array]:
    """(where ``derivative``, of an elementwise ``f`` at ``x``, lies outside the slopes of f on
    either side, as a boolean array of x's shape (NaN is outside); the slopes on the left;
    those on the right). ``y`` is f(x), if already computed."""
    points = _nudged(x)
    values = {k: (f(v) if k or y is None else y).astype(np.float64) for k, v in points.items()}
    left, right, noise = _one_sided(points, values, x.dtype)
    return ~_between(derivative, left, right, noise, x.dtype), left, right


def slope_bracket_problem(
    f: Callable[[Array], float], x: Array, gradient: Array
) -> tuple[tuple[int, ...], float, float, float] | None:
    """The first entry of x where ``gradient`` (of a scalar ``f``) lies outside f's slopes on
    either side of that entry alone, as (index, gradient, left slope, right slope); None if
    there is none. Each entry is nudged in a copy, one at a time."""
    points = _nudged(x)
    f0 = np.asarray(float(f(x)))
    for index in np.ndindex(x.shape):
        values = {0: f0}
        for k, moved in points.items():
            if k:
                nudged = x.copy()
                nudged[index] = moved[index]
                values[k] = np.asarray(float(f(nudged)))
        at = {k: np.asarray(v[index]) for k, v in points.items()}
        left, right, noise = _one_sided(at, values, x.dtype)
        g = float(gradient[index])
        if not _between(np.asarray(g), left, right, noise, x.dtype):
            return index, g, float(left), float(right)
    return None


def _nudged(x: Array) -> dict[int, Array]:
    """x + k·h for k = -2, -1, 0, 1, 2, rounded to x's dtype, h = ε^(1/3)·max(1, |x|)."""
    x64 = x.astype(np.float64)
    h = np.finfo(x.dtype).eps ** (1 / 3) * np.maximum(1.0, np.abs(x64))
    return {k: (x64 + k * h).astype(x.dtype) if k else x for k in (-2, -1, 0, 1, 2)}


def _one_sided(
    points: dict[int, Array], values: dict[int, Array], dtype: np.dtype
) -> tuple[Array, Array, Array]:
    """(f's slope as x is approached from the left, from the right, the error they may
    carry), each extrapolated to a step of 0 from the steps h and 2h (Richardson), so that a
    one-sided derivative is found to O(h²) even where the other side has another (a kink).
    The error allowed is the differences' rounding and what the extrapolation leaves."""
    x = points[0].astype(np.float64)
    limits = []
    for side in (-1, 1):
        near, far = (points[side * k].astype(np.float64) - x for k in (1, 2))
        slope_near = (values[side] - values[0]) / near
        slope_far = (values[2 * side] - values[0]) / far
        limits.append((far * slope_near - near * slope_far) / (far - near))
    eps = float(np.finfo(dtype).eps)
    h = eps ** (1 / 3) * np.maximum(1.0, np.abs(x))
    noise = 8 * eps * sum(np.abs(v) for v in values.values()) / h
    # What the extrapolation leaves, h²|f'''|/3, with f''' from the same five values, doubled.
    third = values[2] - 2 * values[1] + 2 * values[-1] - values[-2]
    return limits[0], limits[1], noise + np.abs(third) / (3 * h)


def _between(derivative: Array, left: Array, right: Array, noise: Array, dtype: np.dtype) -> Array:
    """Whether each derivative lies within [min(left, right), max(left, right)], widened by
    ``noise`` (the rounding of the differences), and by 64 ε^(2/3) (1 + |derivative|) for
    the derivative's own rounding and what the steps leave of the curvature."""
    d = np.asarray(derivative, dtype=np.float64)
    widen = noise + 64 * float(np.finfo(dtype).eps) ** (2 / 3) * (1 + np.abs(d))
    low, high = np.minimum(left, right) - widen, np.maximum(left, right) + widen
    return (d >= low) & (d <= high)
