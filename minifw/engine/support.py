"""Which parts the compiled engine has kernels for, and why a given run cannot use it.

This module imports no numba: ``Trainer`` asks it at every fit whether the compiled
engine can take the run, and only a fit that can imports the kernels.

A kernel exists for an exact built-in class. A subclass, even one that changes nothing,
is the user's own component: its ``forward`` (or ``update``, ...) may differ, and the
compiled loop would silently run the built-in arithmetic instead. So it is refused by
``engine="compiled"`` and sends ``engine="auto"`` to the numpy engine.
"""

from __future__ import annotations

import importlib.util
import warnings
from typing import Any

import numpy as np

from ..core.activations import (
    ELU,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softplus,
    Tanh,
)
from ..core.errors import ConfigError
from ..core.layers import Dense
from ..core.losses import MAE, MSE, BinaryCrossEntropy, Huber
from ..core.optimizers import SGD, Adam, RMSProp

ENGINES = ("auto", "numpy", "compiled")

# Each built-in with a kernel, and the name of its code in minifw.engine.kernels.
ACTIVATION_KERNELS: dict[type, str] = {
    Identity: "IDENTITY",
    Sigmoid: "SIGMOID",
    Tanh: "TANH",
    ReLU: "RELU",
    LeakyReLU: "LEAKY_RELU",
    ELU: "ELU",
    Softplus: "SOFTPLUS",
    SiLU: "SILU",
}
LOSS_KERNELS: dict[type, str] = {MSE: "MSE", MAE: "MAE", Huber: "HUBER", BinaryCrossEntropy: "BCE"}
OPTIMIZER_KERNELS: dict[type, str] = {SGD: "SGD", RMSProp: "RMSPROP", Adam: "ADAM"}
LAYER_KERNELS: dict[type, str] = {Dense: "DENSE"}
# Schedules need none: the learning rate of every update is asked of the schedule in
# Python, as the numpy engine asks it, and handed to the kernel as a table.


# The most multiply-adds a batch's forward pass may take (batch size x the sum over layers
# of inputs x outputs, per network) for "auto" to choose the kernels: they loop over every
# product (layers of WIDE outputs or more a row of W at a time, vectorised), which beats
# numpy's ~0.4 µs a call on small networks (the blog's is 60: 45 times faster) but loses
# to BLAS past about this size. tanh networks in batches of 32, 1,600 updates, compiled
# over numpy (python benchmarks/engine_sizes.py): 1-16-16-1 (9,216) 0.58; 1-32-32-1
# (34,816) 1.32; 1-64-64-1 (135,168) 2.3; 1-128-128-1 5.2: even at about 20,000.
AUTO_LIMIT = 20000
# The limit is per network: a stack of any size still goes to the kernels, its networks
# side by side in lanes (minifw.engine.kernels.train_lanes), on threads, because that
# stays the faster however many networks there are: 1000 blog networks stacked through
# minifw.sweep, end to end, took 0.31 of the numpy stack's time ("1000 blog networks
# stacked: compiled / numpy stack" of benchmarks/run.py; 3.6 against 12.1 s).


def work(trainer: Any) -> int:
    """Multiply-adds of one batch's forward pass, per network: batch x Σ n_in · n_out."""
    layers = trainer.network.layers
    sizes = sum(getattr(layer, "n_in", 0) * getattr(layer, "n_out", 0) for layer in layers)
    return trainer.batch_size * sizes


class EngineFallback(UserWarning):
    """``engine="auto"`` trained on numpy; the message says why (once per reason a process)."""


class EngineSwitch(UserWarning):
    """A run continues on another engine than the one that trained it so far (a checkpoint
    resumed on numpy, say): the same numbers to rounding, said in one line, once."""


# The fallback reasons already given in this process: a sweep of a hundred runs with a
# user's own activation says why once, whatever the warning filters (pytest's show all).
_SAID: set[str] = set()


def _named(component: Any) -> str:
    return f"{type(component).__module__}.{type(component).__qualname__}"


def problems(trainer: Any) -> list[str]:
    """Why the compiled engine cannot train ``trainer``'s run: one line each; [] if it can."""
    network, found = trainer.network, []
    for i, layer in enumerate(network.layers):
        if type(layer) not in LAYER_KERNELS:
            found.append(f"layer {i}, {_named(layer)}, has no kernel")
        elif type(layer.activation) not in ACTIVATION_KERNELS:
            found.append(f"layer {i}'s activation {_named(layer.activation)} has no kernel")
    if type(trainer.loss) not in LOSS_KERNELS:
        found.append(f"the loss {_named(trainer.loss)} has no kernel")
    optimizer = trainer.optimizer
    if type(optimizer) not in OPTIMIZER_KERNELS:
        found.append(f"the optimizer {_named(optimizer)} has no kernel")
    else:
        found.extend(_stack_problems(network.copies, optimizer))
    return found


def _stack_problems(copies: int | None, optimizer: Any) -> list[str]:
    """What the kernels, one per network, cannot do for this optimizer on ``copies`` networks."""
    rates = np.shape(optimizer.lr)
    if copies is None:
        return ["the optimizer's lr is an array, for a stack"] if rates else []
    found = []
    if optimizer.clip_norm is not None:  # one norm over every network's gradients
        found.append(f"the optimizer clips a stack of {copies} networks by their joint norm")
    if rates and np.size(optimizer.lr) not in (1, copies):
        found.append(f"the optimizer's lr has shape {rates}, not one rate per network")
    return found


def numba_missing() -> str | None:
    """Why numba cannot be used here, or None when it is installed (not imported: 0.3 s)."""
    if importlib.util.find_spec("numba") is None:
        return "numba is not installed (pip install numba)"
    return None


def numpy_raises() -> str | None:
    """Whether the caller's ``np.errstate`` asks numpy to raise, which compiled code cannot."""
    raising = sorted(kind for kind, action in np.geterr().items() if action == "raise")
    if set(raising) - {"under"}:
        return f"np.errstate asks numpy to raise on {', '.join(raising)}, which kernels cannot"
    return None


def _too_large(trainer: Any) -> str | None:
    """Whether the run is past the size where numpy's BLAS outruns the kernels."""
    multiply_adds = work(trainer)
    if multiply_adds > AUTO_LIMIT:
        return (
            f"a batch's forward pass is {multiply_adds:,} multiply-adds, past the "
            f"{AUTO_LIMIT:,} where numpy's matrix products outrun the kernels' loops"
        )
    return None


def compiled(trainer: Any) -> bool:
    """Whether ``trainer`` trains on the compiled engine in this fit, by its ``engine``.

    "numpy": never. "compiled": always, or ConfigError naming each part that has no
    kernel (or numba missing). "auto": when it can, and the network is small enough for
    the kernels to be the faster (``AUTO_LIMIT``); otherwise an ``EngineFallback`` warning
    says why, once a process for each reason.
    """
    if trainer.engine == "numpy":
        return False
    found = problems(trainer)
    if trainer.engine == "compiled":
        missing = numba_missing()
        if found or missing:
            raise ConfigError(
                "engine='compiled' cannot train this run: "
                + "; ".join([*found, *([missing] if missing else [])])
                + "; use engine='auto' (falls back to numpy) or engine='numpy'"
            )
        return True
    reasons = [*found, *filter(None, [numba_missing(), numpy_raises(), _too_large(trainer)])]
    if reasons:
        message = f"engine='auto' trains on numpy: {'; '.join(reasons)}"
        if message not in _SAID:
            _SAID.add(message)
            warnings.warn(message, EngineFallback, stacklevel=4)
        return False
    return True


def switched(trainer: Any, engine: str) -> None:
    """Say, once, that ``trainer``'s run goes on on ``engine`` after training on another."""
    before = trainer.trained_on
    if before is not None and before != engine:
        warnings.warn(
            f"this run trained on the {before} engine so far and continues on the {engine} "
            "engine: the same numbers to rounding (1e-12 relative in float64)",
            EngineSwitch,
            stacklevel=4,
        )


def check_engine(trainer: Any) -> None:
    """For ``Trainer``'s construction: "compiled" with a part that has no kernel is refused."""
    if trainer.engine == "compiled":
        compiled(trainer)
