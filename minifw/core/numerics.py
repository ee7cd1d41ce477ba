"""Underflow: the one floating-point event that is never an error in minifw.

A result smaller than the smallest normal float (2.2e-308 in float64, 1.2e-38 in
float32) rounds to a subnormal number or to 0, and for a loss, a gradient or an
activation that rounded value is the right answer: a squared error of 1e-320 is a
squared error of 0 to every digit that matters. numpy calls such a rounding an
underflow, and raises ``FloatingPointError`` for it when asked to, by
``np.errstate(under="raise")`` or ``np.errstate(all="raise")``, which people set to
catch NaN and overflow early. (numpy's float32 ``exp`` even reports an underflow
for a subnormal input, whose e^x rounds to exactly 1.)

``tolerate_underflow`` lets a computation honour such a setting for everything but
underflow: overflow, invalid operations (NaN) and division by zero still raise.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import numpy as np

R = TypeVar("R")


def tolerate_underflow(compute: Callable[..., R]) -> Callable[..., R]:
    """Decorate a pure function so that numpy's underflow error never escapes it.

    The decorated function calls ``compute``; if numpy raised its underflow error
    (which it does only under ``errstate(under="raise")``), it calls ``compute``
    again with underflow ignored, so that tiny results round quietly to 0 or a
    subnormal. Other floating-point errors pass through. Only for functions
    without side effects, since a retried call repeats them.

    Why a retry rather than an ``np.errstate`` around every call: entering one
    costs about 1 µs, 5 % of a blog batch, while a ``try`` costs nothing until
    it catches. (Positional arguments only: keyword packing would cost a tenth
    of a microsecond a call, and the blog's network makes three a batch.)
    """

    @functools.wraps(compute)
    def quietly(*args: object) -> R:
        try:
            return compute(*args)
        except FloatingPointError as error:
            if "underflow" not in str(error):  # numpy: "underflow encountered in exp"
                raise
        with np.errstate(under="ignore"):
            return compute(*args)

    return quietly


def ignore_underflow(run: Callable[..., R]) -> Callable[..., R]:
    """Decorate a function so that it runs with numpy's underflow errors off.

    For a whole computation, such as a training run, where underflow anywhere (a
    running average decaying, a saturated unit's tiny slope) is no fault, but
    which has side effects, so that ``tolerate_underflow``'s retry would not do.
    numpy's error state is changed only if the caller changed it from numpy's
    default: while an ``np.errstate`` is in force, every ufunc call costs a few
    nanoseconds more, 2 % of the blog's training.
    """

    @functools.wraps(run)
    def quietly(*args: object, **kwargs: object) -> R:
        if np.geterr()["under"] == "ignore":
            return run(*args, **kwargs)
        with np.errstate(under="ignore"):
            return run(*args, **kwargs)

    return quietly
