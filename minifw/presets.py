"""The blog's network, ready to train: ``blog("sigmoid").fit(3000)``.

"A Neural Network in Python, Part 2" learns sin(x) on [0, 6.28] from 32
evenly spaced points with a 2-5-1 network: a hidden layer of 5 units fed by
x and a bias unit, and one output unit without bias. Targets are mapped from
[-1, 1] into a range the activation can reach. Batches of 4 come in order,
and each update descends half the batch's summed squared error with step L.

``blog_loop`` keeps that loop as plain numpy, as ``seed/RECONSTRUCTION.md``
restores it: the reference that the preset is tested and timed against.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from .activations import Activation, ReLU, Sigmoid, Tanh
from .callbacks import Callback
from .data import FunctionSource, Normaliser
from .errors import ConfigError
from .initializers import HeUniform
from .layers import Dense
from .losses import MSE
from .network import Network
from .optimizers import SGD
from .trainer import FitResult, Trainer

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


@attrs.define(eq=False)
class BlogRun:
    """The blog's experiment: its network, trainer and data, and its printed stats."""

    activation: str
    network: Network
    trainer: Trainer
    source: FunctionSource

    def fit(self, epochs: int = EPOCHS) -> FitResult:
        """Train for ``epochs`` (the blog's 3000 by default)."""
        return self.trainer.fit(self.source, epochs)

    def evaluation_mse(self) -> float:
        """Mean squared error on the shifted evaluation points, in the target's own units."""
        x, y = self.source.evaluation_arrays()
        return float(np.mean((self.network.predict(x) - y) ** 2))

    def stats_line(self, result: FitResult) -> str:
        """The blog's closing line; the input size counts the bias unit, as the blog's does."""
        first, last = self.network.layers[0], self.network.layers[-1]
        sizes = [first.n_in + first.use_bias, first.n_out, last.n_out]  # type: ignore[attr-defined]
        return (
            f"[ {' '.join(map(str, sizes))} ] Activation: {self.activation} "
            f"Iterations: {result.epochs} Learning rate: {self.trainer.optimizer.lr:g} "  # type: ignore[attr-defined]
            f"Final loss: {result.final_loss} Time: {result.seconds}"
        )


def blog(
    activation: str = "sigmoid",
    *,
    hidden: int = HIDDEN,
    batch_size: int = BATCH_SIZE,
    lr: float | None = None,
    bias: bool = True,
    seed: int = 0,
    callbacks: Sequence[Callback] = (),
) -> BlogRun:
    """The blog's setup for ``activation``, with the knobs its closing list invites you to turn.

    ``lr`` is the SGD learning rate on the mean squared error; by default the
    blog's own step, ``mse_lr(L, batch_size)`` (0.9 for sigmoid at batch 4).
    ``bias=False`` drops the bias unit. Weights are drawn with the blog's limit
    sqrt(2 / fan_in), the fan-in counting the bias unit, from ``seed``: the
    same network built by hand with ``Network(..., seed=seed)`` starts the same.
    """
    chosen = setting(activation)
    init = HeUniform(scale=HeUniform.BLOG_SCALE)
    network = Network(
        [
            Dense(1, hidden, chosen.activation, bias=bias, bias_unit=bias, initializer=init),
            Dense(hidden, 1, chosen.activation, bias=False, initializer=init),
        ],
        seed=seed,
        normaliser=Normaliser(TARGET_RANGE, chosen.output_range),
    )
    trainer = Trainer(
        network,
        MSE(),
        SGD(lr=mse_lr(chosen.blog_lr, batch_size) if lr is None else lr),
        batch_size=batch_size,
        shuffle=False,
        seed=seed,
        callbacks=list(callbacks),
    )
    source = FunctionSource(np.sin, DOMAIN, SAMPLES)
    return BlogRun(activation.lower(), network, trainer, source)


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
        for i in range(0, SAMPLES, batch_size):
            Xb, Yb = X[i : i + batch_size], Y[i : i + batch_size]
            H = act(Xb @ Wh)
            Z = act(H @ Wz)
            E = Yb - Z
            epoch_loss.append(np.mean(E**2))
            dZ = E * act_prime(Z)
            dH = (dZ @ Wz.T) * act_prime(H)
            Wz += (H.T @ dZ) * step
            Wh += (Xb.T @ dH) * step
        loss_history.append(float(np.mean(epoch_loss)))
    return Wh, Wz, loss_history
