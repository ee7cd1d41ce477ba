"""Optimizers: how parameters move, given their gradients.

An optimizer sees parameters (value and grad arrays), never layers, and
updates the values in place. The ``Trainer`` hands it a single parameter,
the network's ``packed`` vector of every weight and bias end to end, so an
elementwise rule updates the whole network in one numpy call. To see the
layers' parameters one by one, call ``step(network.parameters())`` yourself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import attrs

from .layers import Parameter
from .registry import Registered, Registry
from .validation import number


class Optimizer(Registered, ABC):
    """Base of every optimizer: θ ← update(θ, dL/dθ), in place, for each parameter.

    How to subclass (registered as ``"sign_sgd"`` at once)::

        @attrs.define(eq=False)
        class SignSGD(Optimizer):
            '''θ ← θ - lr · sign(dL/dθ).'''

            lr: float = 0.01

            def step(self, parameters):
                for p in parameters:
                    p.value -= self.lr * np.sign(p.grad)
    """

    registry = Registry["Optimizer"]("optimizer")

    @abstractmethod
    def step(self, parameters: Sequence[Parameter]) -> None:
        """Update every ``parameter.value`` in place from its ``grad``."""


@attrs.define(eq=False)
class SGD(Optimizer):
    """Stochastic gradient descent: θ ← θ - lr · dL/dθ."""

    name = "sgd"

    lr: float = attrs.field(default=0.01, validator=number(low=0, strict=True))

    def step(self, parameters: Sequence[Parameter]) -> None:
        lr = self.lr
        for p in parameters:
            p.value -= lr * p.grad
