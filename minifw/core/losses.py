"""Losses: one number that says how far predictions are from targets.

A loss sees predictions and targets, never layers. ``value`` and ``gradient``
are on the same scale: ``gradient`` is exactly d value / d pred (for
``BinaryCrossEntropy``, wherever its clipping leaves pred as it is).

Most losses are the mean of one function of each entry; they subclass
``MeanLoss`` and say only what that function and its slope are.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar

import attrs
import numpy as np

from .contract import check_class_value, checked_range
from .errors import DataError
from .numerics import tolerate_underflow
from .registry import Registered, Registry
from .validation import at_most, number

Array = np.ndarray


def difference(pred: Array, target: Array) -> Array:
    """pred - target, refusing shapes that differ ((n, 1) - (n,) would broadcast to (n, n)).

    The one broadcast allowed: a stack of networks' predictions (N, n, k) against
    the (n, k) targets they share; (n, k) against (k,) is refused like any mismatch.
    """
    # The equal-shape test is all a training batch pays; only a mismatch looks further. (The
    # try costs nothing in Python 3.11+ unless it catches: a list target has no .shape.)
    try:
        if pred.shape != target.shape and not (pred.ndim == 3 and pred.shape[1:] == target.shape):
            raise DataError(
                f"predictions have shape {pred.shape} but targets have shape {target.shape}; "
                "they must match exactly (reshape targets to (samples, outputs))"
            )
    except AttributeError:
        raise DataError(
            f"targets must be a numpy array of the predictions' shape {np.shape(pred)}; got a "
            f"{type(target).__name__} (np.asarray it, shape (samples, outputs))"
        ) from None
    d = pred - target
    if d.dtype.kind not in "fiu":  # one attribute read a batch: complex or object refused
        raise DataError(
            f"targets must hold real numbers; got an array of dtype {target.dtype} (a "
            "complex or object target would make the loss and its gradient meaningless)"
        )
    return d


class Loss(Registered, ABC):
    """Base of every loss: L = loss(pred, target), a float, and dL/d(pred), an array.

    What a subclass must provide (checked when the class is defined):

    - ``value(pred, target)``: a float for (samples, outputs) arrays;
    - ``gradient(pred, target)``: dL/d(pred), exactly the derivative of ``value`` (the
      same scale), of pred's shape and dtype, leaving both arrays as they were;
    - for a stack of networks (``minifw.stack``, which sweeps use), ``pred`` has a
      leading axis over networks against the targets they share: ``value`` then gives
      one value per network, summing or averaging over the last two axes only, and the
      gradient each network's own;
    - mismatched shapes refused with a DataError, never broadcast (``difference`` does it).

    It may leave to defaults ``value_and_gradient`` (the two, one after the other) and
    ``domain``: the interval (low, high) where predictions and targets are meant to lie
    and ``gradient`` is the derivative of ``value``; unbounded unless set, (0, 1) for
    binary cross-entropy. Constructor parameters, if any, are kept as attributes of the
    same names (attrs does this for you). ``minifw.testing.check_loss`` tests the rest.

    How to subclass (registered as ``"sum_squared_error"`` at once)::

        @attrs.frozen
        class SumSquaredError(Loss):
            '''L = ½ Σ (pred - target)²,  dL/dpred = pred - target.'''

            def value(self, pred, target):
                d = difference(pred, target)
                return 0.5 * np.sum(d * d, axis=(-2, -1))  # one value per network of a stack

            def gradient(self, pred, target):
                return difference(pred, target)
    """

    registry = Registry["Loss"]("loss")
    _family: ClassVar[str] = "loss"
    domain: ClassVar[tuple[float, float]] = (-math.inf, math.inf)

    @classmethod
    def _check_class(cls) -> None:
        super()._check_class()
        check_class_value(cls, "domain", checked_range)

    @abstractmethod
    def value(self, pred: Array, target: Array) -> float:
        """The loss of predictions ``pred`` against ``target`` (same shape)."""

    @abstractmethod
    def gradient(self, pred: Array, target: Array) -> Array:
        """dL/d(pred), the shape of ``pred``."""

    def value_and_gradient(self, pred: Array, target: Array) -> tuple[float, Array]:
        """Both at once; the trainer calls this, so a loss may share work between them."""
        return self.value(pred, target), self.gradient(pred, target)


class MeanLoss(Loss):
    """L = (1/N) Σᵢ ℓ(pᵢ, tᵢ) over all N entries,  dL/dpᵢ = ℓ'(pᵢ, tᵢ) / N.

    A loss that averages one function ℓ of each prediction and its target
    defines ``pointwise``, ℓ and dℓ/dp for every entry, and gets ``value``,
    ``gradient`` and ``value_and_gradient`` from it, on one scale by construction.

    How to subclass (registered as ``"log_cosh"`` at once)::

        @attrs.frozen
        class LogCosh(MeanLoss):
            '''L = mean log cosh(pred - target),  dL/dpred = tanh(pred - target) / N.'''

            def pointwise(self, pred, target):
                d = difference(pred, target)
                return np.logaddexp(d, -d) - np.log(2.0), np.tanh(d)
    """

    @abstractmethod
    def pointwise(self, pred: Array, target: Array) -> tuple[Array, Array]:
        """ℓ(p, t) and dℓ/dp for every entry, each of the shape of ``pred``."""

    def value(self, pred: Array, target: Array) -> float:
        return self.value_and_gradient(pred, target)[0]

    def gradient(self, pred: Array, target: Array) -> Array:
        return self.value_and_gradient(pred, target)[1]

    @tolerate_underflow  # e.g. Huber's ½d² for |d| < 1.5e-154
    def value_and_gradient(self, pred: Array, target: Array) -> tuple[float, Array]:
        losses, slopes = self.pointwise(pred, target)
        if losses.ndim == 2:
            return float(losses.sum()) / losses.size, slopes / losses.size
        # A stack of networks: one loss each, each summed as the 2-D case sums it (row by row).
        n = losses.shape[-2] * losses.shape[-1]
        return losses.reshape(losses.shape[0], -1).sum(axis=-1) / n, slopes / n


@attrs.frozen
class MSE(MeanLoss):
    """L = (1/N) Σ (pred - target)² over all N entries,  dL/dpred = 2 (pred - target) / N.

    The blog's update descends ½ Σ (target - pred)² summed over a batch of B
    samples with n outputs; the same step under MSE needs lr = L·B·n / 2.
    """

    name = "mse"
    aliases = ("mean_squared_error",)  # Keras's name for it

    def pointwise(self, pred: Array, target: Array) -> tuple[Array, Array]:
        d = difference(pred, target)
        return d * d, 2.0 * d

    # What the trainer calls, written out: the sum of squares as one vdot, with no array of
    # squares, is most of why minifw keeps pace with the blog's hand-written loop.
    @tolerate_underflow  # d * (2 / N) for a subnormal d
    def value_and_gradient(self, pred: Array, target: Array) -> tuple[float, Array]:
        d = difference(pred, target)
        if d.ndim == 2:
            return float(np.vdot(d, d)) / d.size, d * (2.0 / d.size)
        # A stack of networks: one loss each. Each network's entries as one row, so that
        # matmul takes the same dot product vdot does, and a loss equals its network's alone.
        n = d.shape[-2] * d.shape[-1]
        rows = d.reshape(d.shape[0], 1, n)
        return (rows @ rows.mT)[:, 0, 0] / n, d * (2.0 / n)


@attrs.frozen
class MAE(MeanLoss):
    """L = (1/N) Σ |pred - target|,  dL/dpred = sign(pred - target) / N (0 where equal)."""

    name = "mae"
    aliases = ("mean_absolute_error",)  # Keras's name for it

    def pointwise(self, pred: Array, target: Array) -> tuple[Array, Array]:
        d = difference(pred, target)
        return np.abs(d), np.sign(d)


@attrs.frozen
class Huber(MeanLoss):
    """L = (1/N) Σ (½d² if |d| ≤ δ else δ(|d| - ½δ)),  dL/dpred = clip(d, -δ, δ) / N.

    d = pred - target and δ = ``delta``: squared error for small misses,
    absolute error (times δ) for large ones, so an outlier pulls with a force
    of at most δ. The slope, d where |d| ≤ δ and δ · sign(d) beyond, is d
    clipped to [-δ, δ].
    """

    name = "huber"

    delta: float = attrs.field(default=1.0, validator=number(low=0, strict=True))

    def pointwise(self, pred: Array, target: Array) -> tuple[Array, Array]:
        d = difference(pred, target)
        delta = self.delta
        size = np.abs(d)
        losses = np.where(size <= delta, 0.5 * d * d, delta * (size - 0.5 * delta))
        return losses, np.clip(d, -delta, delta)


@attrs.frozen
class BinaryCrossEntropy(MeanLoss):
    """L = -(1/N) Σ (t log p + (1 - t) log(1 - p)),  dL/dp = (p - t) / (p(1 - p)) / N.

    For probabilities ``pred`` (a sigmoid's outputs, say) against targets t in
    [0, 1]. p is ``pred`` clipped to [ε, 1 - ε] (ε = ``epsilon``), which keeps
    value and gradient finite, and numpy silent, for predictions at or beyond
    0 and 1, where log p or log(1 - p) would be -inf.

    The gradient is evaluated at the clipped p. Outside [ε, 1 - ε] it is
    therefore the slope at the clip, not the slope of the clipped (flat) value,
    which would be 0: a confidently wrong prediction is still pushed back, hard.
    Only inside [ε, 1 - ε] is it the derivative of ``value``, which is why its
    finite-difference test samples only that interior.
    """

    name = "binary_cross_entropy"
    aliases = ("binary_crossentropy", "bce")  # Keras's name, and PyTorch's BCELoss
    domain: ClassVar[tuple[float, float]] = (0.0, 1.0)

    epsilon: float = attrs.field(
        default=1e-7, validator=[number(low=0, strict=True), at_most(0.5, strict=True)]
    )

    def pointwise(self, pred: Array, target: Array) -> tuple[Array, Array]:
        p = np.clip(pred, self.epsilon, 1.0 - self.epsilon)
        d = difference(p, target)  # p has pred's shape: this refuses a mismatched target
        losses = -(target * np.log(p) + (1.0 - target) * np.log1p(-p))
        return losses, d / (p * (1.0 - p))
