"""The blog's facts: its data, its network's sizes, its three activations and their steps.

"A Neural Network in Python, Part 2" learns sin(x) on [0, 6.28] from 32
evenly spaced points with a 2-5-1 network: a hidden layer of 5 units fed by
x and a bias unit, and one output unit without bias. Targets are mapped from
[-1, 1] into a range the activation can reach. Batches of 4 come in order,
and each update descends half the batch's summed squared error with step L.

``blog_loop`` keeps the blog's loop as plain numpy, as
``seed/RECONSTRUCTION.md`` restores it: the reference that the preset is
tested and timed against. The defaults of ``RunConfig`` are these facts;
``minifw.run.resolve`` turns the step L into a learning rate.
"""

from __future__ import annotations

import attrs
import numpy as np

from ..core.activations import Activation, ReLU, Sigmoid, Tanh
from ..core.errors import ConfigError

Array = np.ndarray

DOMAIN = (0.0, 6.28)
SAMPLES = int(6.28 * 5 + 1)  # 32, the blog's numx
TARGET_RANGE = (-1.0, 1.0)  # sin's range: the blog's (miny, maxy)
EPOCHS = 3000
BATCH_SIZE = 4
HIDDEN = 5


@attrs.frozen
class BlogSetting:
    """One row of the blog's ``funcs`` table: activation, normalisation range, step L."""

    activation: Activation
    output_range: tuple[float, float]
    blog_lr: float


SETTINGS: dict[str, BlogSetting] = {
    "sigmoid": BlogSetting(Sigmoid(), (0.0, 1.0), 0.45),
    "tanh": BlogSetting(Tanh(), (0.0, -1.0), 0.005),  # sic: the blog's flipped range
    "relu": BlogSetting(ReLU(), (0.0, 6.28), 0.0005),
}


def setting(activation: str) -> BlogSetting:
    """The blog's setting for ``activation`` ("sigmoid", "tanh" or "relu", any case)."""
    try:
        return SETTINGS[activation.lower()]
    except (KeyError, AttributeError):
        raise ConfigError(
            f"unknown blog activation {activation!r}; expected one of: {', '.join(SETTINGS)}"
        ) from None


def mse_lr(blog_lr: float, batch_size: int, n_outputs: int = 1) -> float:
    """The MSE learning rate that takes the blog's step: L · batch_size · n_outputs / 2.

    The blog's ``W += xᵀ(E f') L`` descends ½ Σ E² over the batch; MSE averages
    E² over the batch_size · n_outputs entries and doubles it in its gradient.
    """
    return blog_lr * batch_size * n_outputs / 2


_BLOG_FUNCS = {  # the blog's lambdas, unchanged: act(v) and act_prime(y), y the output
    "sigmoid": (lambda v: 1 / (1 + np.exp(-v)), lambda y: y * (1 - y)),
    "tanh": (np.tanh, lambda y: 1 - y**2),
    "relu": (lambda v: v * (v > 0), lambda y: y > 0),
}


def blog_loop(
    activation: str, wh: Array, wz: Array, epochs: int = EPOCHS, batch_size: int = BATCH_SIZE
) -> tuple[Array, Array, list[float]]:
    """The blog's training loop in plain numpy, as RECONSTRUCTION.md restores it.

    ``wh`` (2, 5) holds the bias unit's weights in row 0; ``wz`` is (5, 1).
    Returns the trained copies of both and the per-epoch loss history.
    """
    act, act_prime = _BLOG_FUNCS[activation.lower()]
    (mina, maxa), step = setting(activation).output_range, setting(activation).blog_lr
    (minx, maxx), (miny, maxy) = DOMAIN, TARGET_RANGE
    x = np.linspace(minx, maxx, num=SAMPLES).reshape(-1, 1)
    Y = (np.sin(x) - miny) * (maxa - mina) / (maxy - miny) + mina
    X = np.concatenate((np.ones((SAMPLES, 1)), x), axis=1)
    Wh, Wz = np.array(wh, dtype=float), np.array(wz, dtype=float)
    loss_history = []
    for _ in range(epochs):
        epoch_loss = []
        for i in range(0, SAMPLES, batch_size):  # np.dot, as the blog wrote it
            Xb, Yb = X[i : i + batch_size], Y[i : i + batch_size]
            H = act(np.dot(Xb, Wh))
            Z = act(np.dot(H, Wz))
            E = Yb - Z
            epoch_loss.append(np.mean(E**2))
            dZ = E * act_prime(Z)
            dH = np.dot(dZ, Wz.T) * act_prime(H)
            Wz += np.dot(H.T, dZ) * step
            Wh += np.dot(Xb.T, dH) * step
        loss_history.append(float(np.mean(epoch_loss)))
    return Wh, Wz, loss_history
