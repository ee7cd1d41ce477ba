"""The blog's network, ready to train: ``blog("sigmoid").fit(3000)``.

"A Neural Network in Python, Part 2" learns sin(x) on [0, 6.28] from 32
evenly spaced points with a 2-5-1 network: a hidden layer of 5 units fed by
x and a bias unit, and one output unit without bias. Targets are mapped from
[-1, 1] into a range the activation can reach. Batches of 4 come in order,
and each update descends half the batch's summed squared error with step L.

``experiment`` builds a run from named parts with the blog's choices as its
defaults (what ``minifw train`` calls); ``blog`` is it with the blog's knobs.
``blog_loop`` keeps the blog's loop as plain numpy, as
``seed/RECONSTRUCTION.md`` restores it: the reference that the preset is
tested and timed against.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence

import attrs
import numpy as np

from ..core.activations import Activation, ReLU, Sigmoid, Tanh
from ..core.callbacks import Callback
from ..core.data import FunctionSource, Normaliser
from ..core.errors import ConfigError
from ..core.initializers import BlogUniform, Initializer
from ..core.layers import Dense
from ..core.losses import MSE, Loss
from ..core.network import Network
from ..core.optimizers import Optimizer
from ..core.registry import parse_spec
from ..core.schedules import Schedule
from ..core.targets import Target, target_from
from ..core.trainer import FitResult, Trainer
from ..core.validation import check_count, check_seed

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
class Experiment:
    """One training run, ready to go: its network, trainer and data, and its printed stats."""

    network: Network
    trainer: Trainer
    source: FunctionSource

    def fit(self, epochs: int = EPOCHS) -> FitResult:
        """Train for ``epochs`` (the blog's 3000 by default)."""
        return self.trainer.fit(self.source, epochs)

    def evaluation_mse(self) -> float:
        """Mean squared error on the evaluation points, in the target's own units."""
        x, y = self.source.evaluation_arrays()
        return float(np.mean((self.network.predict(x) - y) ** 2))

    def stats_line(self, result: FitResult) -> str:
        """The blog's closing line; the input size counts the bias unit, as the blog's does."""
        layers = self.network.layers
        sizes = [layers[0].n_in + layers[0].use_bias] + [layer.n_out for layer in layers]  # type: ignore[attr-defined]
        names = dict.fromkeys(registered_name(layer.activation) for layer in layers)  # type: ignore[attr-defined]
        return (
            f"[ {' '.join(map(str, sizes))} ] Activation: {'/'.join(names)} "
            f"Iterations: {result.epochs} Learning rate: {self.trainer.optimizer.lr:g} "  # type: ignore[attr-defined]
            f"Final loss: {result.final_loss} Time: {result.seconds}"
        )


def registered_name(component: object) -> str:
    """The name a component's class is registered under (``ReLU()`` -> ``"relu"``)."""
    return type(component).registry.name_of(type(component))  # type: ignore[attr-defined]


def _normaliser(activation: Activation, target: object, y: Array) -> Normaliser | None:
    """Targets -> a range the output activation reaches: the blog's for its three activations,
    else the activation's own (a bounded side plus one where the other side is unbounded), and
    none for an activation unbounded on both sides. Targets are mapped from their known range,
    else from the sampled extremes.

    There is no margin, as in the blog: the extreme targets land exactly on bounds that
    sigmoid (0 and 1), tanh (±1), softplus (0) and ELU (-1) only reach at infinity, so the
    network can only approach them and its error at the peaks of sin never quite vanishes.
    An identity output layer (``output_activation="identity"``) has no such bound."""
    name = registered_name(activation)
    low, high = SETTINGS[name].output_range if name in SETTINGS else activation.output_range
    if math.isinf(low) and math.isinf(high):
        return None
    if math.isinf(low) or math.isinf(high):
        low, high = (low, low + 1.0) if math.isfinite(low) else (high - 1.0, high)
    known = getattr(target, "value_range", None)
    if known is not None:
        return Normaliser(known, (low, high))
    return Normaliser.fit(y, (low, high))


def experiment(
    *,
    target: Target | str = "sin",
    domain: tuple[float, float] | None = None,
    samples: int = SAMPLES,
    sampling: str = "grid",
    noise: float = 0.0,
    validation: float = 0.0,
    layers: Sequence[int] = (HIDDEN,),
    activation: Activation | str = "sigmoid",
    output_activation: Activation | str | None = None,
    initializer: Initializer | str | None = None,
    bias: bool = True,
    loss: Loss | str = "mse",
    optimizer: Optimizer | str = "sgd",
    lr: float | None = None,
    schedule: Schedule | str | None = None,
    batch_size: int = BATCH_SIZE,
    shuffle: bool = False,
    seed: int = 0,
    dtype: str = "float64",
    callbacks: Sequence[Callback] = (),
) -> Experiment:
    """A run built from named parts, every default the blog's.

    Hidden layers of the sizes in ``layers`` use ``activation`` and a bias drawn
    as a bias unit, as the blog's does; the output layer uses
    ``output_activation`` (the hidden one if None) and no bias. Targets are
    normalised into the output's range (see ``_normaliser``). With SGD on the
    MSE and one of the blog's activations, the default learning rate is the
    blog's step for that activation, ``mse_lr(L, batch_size, outputs)``; else
    the optimizer's own default. ``schedule`` varies the learning rate over the
    updates. ``seed`` seeds the weights, the shuffling and
    any random sampling, noise or split. ``dtype`` ("float64" or "float32") is
    the network's, and so that of everything computed in training.
    """
    # Checked first, so a bad one is named: batch_size feeds the blog's learning rate (0
    # would be refused as "SGD.lr must be > 0"), and seed is read by three components.
    check_count("batch_size", batch_size, low=1)
    check_seed("seed", seed)
    if isinstance(layers, str) or not isinstance(layers, Iterable):
        raise ConfigError(
            f"layers must be a sequence of hidden layer sizes (whole numbers >= 1), "
            f"e.g. (5,); got {layers!r}"
        )
    sizes = [check_count("layer size", size, low=1) for size in layers]
    if not sizes:
        raise ConfigError("layers must name at least one hidden layer size, e.g. (5,)")
    chosen_target = target_from(target)
    source = chosen_target.source(
        samples, domain, sampling=sampling, noise=noise, validation=validation, seed=seed
    )
    _, y = source.arrays()
    hidden = Activation.resolve(activation)
    output = hidden if output_activation is None else Activation.resolve(output_activation)
    init = BlogUniform() if initializer is None else initializer
    dense = [
        Dense(n_in, n_out, hidden, bias=bias, bias_unit=bias, initializer=init)
        for n_in, n_out in itertools.pairwise([chosen_target.inputs, *sizes])
    ]
    dense.append(Dense(sizes[-1], y.shape[1], output, bias=False, initializer=init))
    normaliser = _normaliser(output, chosen_target, y)
    network = Network(dense, seed=seed, normaliser=normaliser, dtype=dtype)

    chosen_loss = Loss.resolve(loss)
    name = registered_name(hidden)
    if isinstance(optimizer, str):
        spec_name, spec_params = parse_spec(optimizer)
        blog_step = spec_name.lower() == "sgd" and isinstance(chosen_loss, MSE) and name in SETTINGS
        if lr is None and "lr" not in spec_params and blog_step:
            lr = mse_lr(SETTINGS[name].blog_lr, batch_size, y.shape[1])
        optimizer = Optimizer.resolve(optimizer)
    changes = {"lr": lr} if lr is not None else {}
    if schedule is not None:
        changes["schedule"] = Schedule.resolve(schedule)
    optimizer = attrs.evolve(optimizer, **changes) if changes else optimizer
    trainer = Trainer(
        network,
        chosen_loss,
        optimizer,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        callbacks=list(callbacks),
    )
    return Experiment(network, trainer, source)


def blog(
    activation: str = "sigmoid",
    *,
    hidden: int = HIDDEN,
    batch_size: int = BATCH_SIZE,
    lr: float | None = None,
    bias: bool = True,
    seed: int = 0,
    callbacks: Sequence[Callback] = (),
) -> Experiment:
    """The blog's setup for ``activation``, with the knobs its closing list invites you to turn.

    ``lr`` is the SGD learning rate on the mean squared error; by default the
    blog's own step, ``mse_lr(L, batch_size)`` (0.9 for sigmoid at batch 4).
    ``bias=False`` drops the bias unit. Weights are drawn with the blog's limit
    sqrt(2 / fan_in), the fan-in counting the bias unit, from ``seed``: the
    same network built by hand with ``Network(..., seed=seed)`` starts the same.
    """
    setting(activation)  # refuse anything but the blog's three, naming them
    return experiment(
        activation=activation,
        layers=(hidden,),
        batch_size=batch_size,
        lr=lr,
        bias=bias,
        seed=seed,
        callbacks=callbacks,
    )


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
