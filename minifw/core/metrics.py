"""Metrics: numbers that say how good predictions are, reported but never trained on.

A metric sees predictions and targets, never layers, and has no gradient. The
trainer computes every metric it is given (``Trainer(metrics=["mae", "r2"])``)
in the target's own units: on predictions passed back through the network's
normaliser, as ``Network.predict`` returns them, against the targets as the
data holds them. So an MAE of 0.01 means 0.01 of whatever y is measured in,
whatever range training squeezed the targets into. (The loss is the exception:
it is what training minimises, on the normalised targets.)

Every metric reduces over the last two axes, samples and outputs: for a stack
of networks (``minifw.stack``), predictions (N, samples, outputs) against the
(samples, outputs) targets they share give one value per network.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import attrs
import numpy as np

from .losses import difference
from .registry import Registered, Registry

Array = np.ndarray


# minifw's own metrics, by name: what a sweep records for every run, whatever else it is asked.
STANDARD = ("mae", "rmse", "r2", "max_abs_error")


def scores(
    metrics: Sequence[Metric], pred: Array, target: Array, prefix: str = ""
) -> dict[str, Any]:
    """{prefix + name: value} for each metric of ``pred`` against ``target``."""
    return {prefix + metric.key: metric(pred, target) for metric in metrics}


def per_network(value: Array) -> float | Array:
    """A metric's result as the trainer logs it: a float for one network, (N,) for a stack."""
    return float(value) if np.ndim(value) == 0 else value


class Metric(Registered, ABC):
    """Base of every metric: m = metric(pred, target), a float (one per network for a stack).

    ``greater_is_better`` says which way is good (False: an error, lower is
    better; True: a score such as R²); a sweep's leaderboard ranks by it. A
    metric's ``key``, as the trainer logs it and ``--metrics`` takes it, is its
    registered name (``val_`` before it for the validation data).

    How to subclass (registered as ``"median_abs_error"`` at once)::

        @attrs.frozen
        class MedianAbsError(Metric):
            '''m = median |pred - target| over all entries.'''

            def __call__(self, pred, target):
                d = difference(pred, target)
                return per_network(np.median(np.abs(d), axis=(-2, -1)))

    Reduce over ``axis=(-2, -1)`` (samples and outputs), so that a stack of
    networks gets one value each.
    """

    registry = Registry("metric")
    greater_is_better: ClassVar[bool] = False

    @property
    def key(self) -> str:
        """The name the metric is registered under, which the trainer logs it under."""
        return type(self).registry.name_of(type(self))

    @abstractmethod
    def __call__(self, pred: Array, target: Array) -> float | Array:
        """The metric of predictions ``pred`` against ``target``, both in the target's units."""


@attrs.frozen
class MAE(Metric):
    """m = (1/N) Σ |pred - target| over all N entries: the mean absolute error."""

    name = "mae"
    aliases = ("mean_absolute_error",)

    def __call__(self, pred: Array, target: Array) -> float | Array:
        return per_network(np.mean(np.abs(difference(pred, target)), axis=(-2, -1)))


@attrs.frozen
class RMSE(Metric):
    """m = √((1/N) Σ (pred - target)²) over all N entries: the root mean squared error."""

    name = "rmse"
    aliases = ("root_mean_squared_error",)

    def __call__(self, pred: Array, target: Array) -> float | Array:
        size = np.abs(difference(pred, target))
        # Scaled by the largest miss, so that misses below 1e-154 do not square to 0 (and
        # above 1e154 to inf): the mean of squares of numbers at most 1, then scaled back.
        largest = np.max(size, axis=(-2, -1))
        scale = np.where((largest > 0) & np.isfinite(largest), largest, 1.0)
        scaled = size / scale[..., None, None]
        return per_network(scale * np.sqrt(np.mean(scaled * scaled, axis=(-2, -1))))


@attrs.frozen
class MaxAbsError(Metric):
    """m = max |pred - target| over all entries: the worst miss."""

    name = "max_abs_error"
    aliases = ("max_error",)  # scikit-learn's name for it

    def __call__(self, pred: Array, target: Array) -> float | Array:
        return per_network(np.max(np.abs(difference(pred, target)), axis=(-2, -1)))


@attrs.frozen
class R2(Metric):
    """m = 1 - Σ (target - pred)² / Σ (target - mean(target))², per output, averaged over outputs.

    The coefficient of determination: 1 for a perfect fit, 0 for predicting the
    targets' mean, below 0 for worse than that. As in scikit-learn's
    ``r2_score``, an output whose targets are all equal scores 1 if it is
    predicted exactly and 0 otherwise (its ratio would be 0/0 or x/0).
    """

    name = "r2"
    aliases = ("r2_score",)
    greater_is_better = True

    def __call__(self, pred: Array, target: Array) -> float | Array:
        d = difference(pred, target)
        residual = np.sum(d * d, axis=-2)  # per output; (N, outputs) for a stack
        spread = target - np.mean(target, axis=-2, keepdims=True)
        total = np.sum(spread * spread, axis=-2)
        constant = total == 0
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # -inf: R² of a blow-up
            scores = 1.0 - residual / np.where(constant, 1.0, total)
        scores = np.where(constant, np.where(residual == 0, 1.0, 0.0), scores)
        return per_network(np.mean(scores, axis=-1))
