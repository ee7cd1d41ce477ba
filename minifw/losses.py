"""Losses: one number that says how far predictions are from targets.

A loss sees predictions and targets, never layers. ``value`` and ``gradient``
are on the same scale: ``gradient`` is exactly d value / d pred.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import attrs
import numpy as np

from .errors import DataError
from .registry import Registered, Registry

Array = np.ndarray


def difference(pred: Array, target: Array) -> Array:
    """pred - target, refusing shapes that differ ((n, 1) - (n,) would broadcast to (n, n))."""
    if pred.shape != target.shape:
        raise DataError(
            f"predictions have shape {pred.shape} but targets have shape {target.shape}; "
            "they must match exactly (reshape targets to (samples, outputs))"
        )
    return pred - target


class Loss(Registered, ABC):
    """Base of every loss: L = loss(pred, target), a float, and dL/d(pred), an array.

    How to subclass (registered as ``"sum_squared_error"`` at once)::

        @attrs.frozen
        class SumSquaredError(Loss):
            '''L = ½ Σ (pred - target)²,  dL/dpred = pred - target.'''

            def value(self, pred, target):
                d = difference(pred, target)
                return 0.5 * float(np.vdot(d, d))

            def gradient(self, pred, target):
                return difference(pred, target)
    """

    registry = Registry["Loss"]("loss")

    @abstractmethod
    def value(self, pred: Array, target: Array) -> float:
        """The loss of predictions ``pred`` against ``target`` (same shape)."""

    @abstractmethod
    def gradient(self, pred: Array, target: Array) -> Array:
        """dL/d(pred), the shape of ``pred``."""

    def value_and_gradient(self, pred: Array, target: Array) -> tuple[float, Array]:
        """Both at once; the trainer calls this, so a loss may share work between them."""
        return self.value(pred, target), self.gradient(pred, target)


@attrs.frozen
class MSE(Loss):
    """L = (1/N) Σ (pred - target)² over all N entries,  dL/dpred = 2 (pred - target) / N.

    The blog's update descends ½ Σ (target - pred)² summed over a batch of B
    samples with n outputs; the same step under MSE needs lr = L·B·n / 2.
    """

    name = "mse"

    def value(self, pred: Array, target: Array) -> float:
        return self.value_and_gradient(pred, target)[0]

    def gradient(self, pred: Array, target: Array) -> Array:
        return self.value_and_gradient(pred, target)[1]

    def value_and_gradient(self, pred: Array, target: Array) -> tuple[float, Array]:
        d = difference(pred, target)
        return float(np.vdot(d, d)) / d.size, d * (2.0 / d.size)
