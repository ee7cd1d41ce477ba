"""Learning-rate schedules: the step size as a function of the update count.

A schedule is a stateless value object. An optimizer given ``schedule=`` asks
it, at every step, for the learning rate of update number t = 0, 1, 2, ...
given the optimizer's base ``lr``; the optimizer keeps the count, so one
schedule can serve several optimizers. The four decays below follow Keras's
definitions (``keras.optimizers.schedules``) and never increase the rate.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar

import attrs

from .registry import Registered, Registry
from .validation import at_most, integer, number


class Schedule(Registered, ABC):
    """Base of every schedule: lr_t = schedule(lr, t), the rate of update t = 0, 1, 2, ...

    What a subclass must provide: ``__call__(lr, t)``, a finite rate >= 0 that depends
    on ``lr`` and ``t`` alone (an optimizer keeps the count, and one schedule may serve
    several), and that takes ``lr`` as an (N, 1) array too, a rate per network of a
    stack, giving each row what it gives that row's rate alone. Constructor
    parameters, if any, are kept as attributes of the same names (attrs does this for
    you). ``minifw.testing.check_schedule`` tests it.

    How to subclass (registered as ``"linear_warmup"`` at once)::

        @attrs.frozen
        class LinearWarmup(Schedule):
            '''lr_t = lr · min(1, (t + 1) / steps): ramp up over the first updates.'''

            steps: int = 100

            def __call__(self, lr, t):
                return lr * min(1.0, (t + 1) / self.steps)
    """

    registry = Registry["Schedule"]("schedule")
    _family: ClassVar[str] = "schedule"

    @abstractmethod
    def __call__(self, lr: float, t: int) -> float:
        """The learning rate for update number ``t`` (0 for the first) given the base ``lr``."""


@attrs.frozen
class StepDecay(Schedule):
    """lr_t = lr · γ^⌊t / step_size⌋: multiply by ``gamma`` every ``step_size`` updates."""

    name = "step"

    step_size: int = attrs.field(validator=integer(low=1))
    gamma: float = attrs.field(default=0.1, validator=[number(low=0, strict=True), at_most(1)])

    def __call__(self, lr: float, t: int) -> float:
        return lr * self.gamma ** (t // self.step_size)


@attrs.frozen
class ExponentialDecay(Schedule):
    """lr_t = lr · rate^(t / decay_steps): a smooth decay by ``rate`` per ``decay_steps``."""

    name = "exponential"

    decay_steps: float = attrs.field(validator=number(low=0, strict=True))
    rate: float = attrs.field(validator=[number(low=0, strict=True), at_most(1)])

    def __call__(self, lr: float, t: int) -> float:
        return lr * self.rate ** (t / self.decay_steps)


@attrs.frozen
class InverseTimeDecay(Schedule):
    """lr_t = lr / (1 + rate · t / decay_steps): halved (for rate 1) after ``decay_steps``."""

    name = "inverse_time"

    decay_steps: float = attrs.field(validator=number(low=0, strict=True))
    rate: float = attrs.field(validator=number(low=0))

    def __call__(self, lr: float, t: int) -> float:
        return lr / (1.0 + self.rate * t / self.decay_steps)


@attrs.frozen
class CosineDecay(Schedule):
    """lr_t = lr · ((1 - α) · ½(1 + cos(π · min(t, T) / T)) + α), T = ``decay_steps``.

    Half a cosine from ``lr`` down to ``alpha · lr`` over T updates, then flat.
    """

    name = "cosine"

    decay_steps: float = attrs.field(validator=number(low=0, strict=True))
    alpha: float = attrs.field(default=0.0, validator=[number(low=0), at_most(1)])

    def __call__(self, lr: float, t: int) -> float:
        progress = min(t, self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return lr * ((1.0 - self.alpha) * cosine + self.alpha)
