"""Gradient checking: backpropagation's gradient against central differences of the loss.

``gradcheck(network, loss, x, y)`` differentiates the loss twice, once with the
network's own ``forward``/``backward`` and once numerically, entry by entry of
every parameter, and reports where the two disagree most. A layer or an
activation whose ``backward`` or ``derivative`` is wrong shows up as a large
relative error on its own parameters (and on those of the layers before it,
which its wrong gradient flows into).

The check runs on a float64 copy of the network, so a float32 network is checked
too, without its rounding swamping the differences, and the caller's network is
left exactly as it was: weights, gradients and the caches of the last forward.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from .errors import ConfigError, DataError
from .layers import Layer
from .losses import Loss
from .network import Network
from .numerics import ignore_underflow
from .serialize import to_spec
from .validation import as_matrix, is_finite, shown

Array = np.ndarray

# The smallest normal float64: the floor of the relative error's denominator. It only
# keeps 0 / 0 away (both gradients exactly 0, as for a dead ReLU unit, give an error of 0);
# it is far too small to excuse any disagreement that a float64 gradient can show.
TINY = float(np.finfo(np.float64).smallest_normal)


def numerical_gradient(f: Callable[[Array], float], x: Array, epsilon: float = 1e-6) -> Array:
    """df/dx by central differences, (f(x + εeᵢ) - f(x - εeᵢ)) / 2ε, one entry i at a time.

    ``f`` is a scalar function of the array ``x``. ``x`` is nudged in place and put back
    afterwards, so ``f`` may read it through another reference (a layer's weights, say)
    instead of its argument. The step actually taken, (xᵢ + ε) - (xᵢ - ε), divides rather
    than 2ε: xᵢ ± ε is rounded to the nearest float, and near |xᵢ| = 20 that rounding is
    already ~1e-9 of ε. Returns a float64 array of ``x``'s shape.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + epsilon
        x_plus, f_plus = x[i], f(x)
        x[i] = original - epsilon
        x_minus, f_minus = x[i], f(x)
        x[i] = original
        grad[i] = (f_plus - f_minus) / (x_plus - x_minus)
    return grad


def relative_error(analytic: Array, numeric: Array) -> Array:
    """|a - n| / max(|a|, |n|, TINY), elementwise: 0 where they agree, 1 where one is 0.

    Scaled by the larger of the two sizes, so a gradient of 1e-8 is held to the same
    relative standard as one of 1e2, and the error is at most 2 (opposite signs).
    TINY (the smallest normal float64) floors the denominator only so that two exact
    zeros give 0 instead of 0 / 0.
    """
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    return np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), TINY)


@attrs.frozen
class GradcheckRow:
    """One parameter's check: max over its entries i of |aᵢ - nᵢ| / max(|aᵢ|, |nᵢ|, TINY).

    ``layer`` is the layer's index in the network and ``layer_name`` what it is
    ("Dense 1→5 sigmoid"); ``parameter`` the parameter's name ("weights", "bias").
    ``worst`` is the largest relative error over the parameter's entries (NaN if a
    gradient is not finite), ``at`` the index of the entry where it occurs, and
    ``analytic`` and ``numeric`` the two gradients of that entry.
    """

    layer: int
    layer_name: str
    parameter: str
    worst: float
    at: tuple[int, ...]
    analytic: float
    numeric: float

    @property
    def label(self) -> str:
        """Which parameter this row is about: "layer 0 Dense 1→5 sigmoid, weights"."""
        return f"layer {self.layer} {self.layer_name}, {self.parameter}"


@attrs.frozen
class GradcheckReport:
    """The result of ``gradcheck``: one row per parameter, and whether all of them agree.

    ``worst`` = max over every entry of every parameter of |a - n| / max(|a|, |n|, TINY),
    a for backpropagation's gradient and n for the central difference; ``ok`` is
    ``worst <= tolerance`` (a NaN anywhere fails). ``str(report)`` is a table, one
    line per parameter, with the rows over the tolerance marked.
    """

    rows: tuple[GradcheckRow, ...] = attrs.field(converter=tuple)
    tolerance: float
    epsilon: float

    @property
    def worst(self) -> float:
        """The largest relative error over all parameters (NaN if any gradient is NaN)."""
        errors = [row.worst for row in self.rows]
        return math.nan if any(math.isnan(e) for e in errors) else max(errors)

    @property
    def ok(self) -> bool:
        """Whether every relative error is at most ``tolerance``."""
        return self.worst <= self.tolerance  # False for a NaN, as it should be

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "FAILED"
        lines = [
            f"gradcheck (epsilon {self.epsilon:g}): worst relative error {self.worst:.1e}, "
            f"tolerance {self.tolerance:g}: {verdict}"
        ]
        width = max(len(row.label) for row in self.rows) + 1  # + 1: the colon after it
        for row in self.rows:
            flag = "" if row.worst <= self.tolerance else "  <- over tolerance"
            lines.append(
                f"{row.label + ':':<{width}} worst relative error {row.worst:.1e} at {row.at}{flag}"
            )
        return "\n".join(lines)


@ignore_underflow  # as in training: a tiny product rounding to 0 is no error
def gradcheck(
    network: Network,
    loss: Loss | str,
    x: Any,
    y: Any,
    *,
    epsilon: float = 1e-6,
    tolerance: float = 1e-6,
) -> GradcheckReport:
    """Compare backpropagation's gradient of L = loss(network(x), y) with central differences.

    For every entry θᵢ of every parameter, the numeric gradient is
    nᵢ = (L(θ + εeᵢ) - L(θ - εeᵢ)) / 2ε (ε = ``epsilon``) and the analytic one aᵢ is what
    ``network.backward`` leaves in the parameter's ``grad`` after one forward pass; the
    report gives, per parameter, the worst relative error |aᵢ - nᵢ| / max(|aᵢ|, |nᵢ|, TINY)
    and where it occurs, and is ``ok`` if no error exceeds ``tolerance``.

    ``loss`` is a ``Loss`` or its name ("mse", "huber:delta=0.5"). ``x`` is (samples,
    inputs) and ``y`` (samples, outputs) in the network's output units: a normaliser the
    network carries is not applied, so pass targets already normalised, as the trainer
    hands them to the loss.

    The check runs on a float64 copy of the network (a float32 one is copied exactly,
    each weight being a float64 too): the caller's network, its weights, gradients and
    caches, is not touched. Central differences are exact only where L is smooth, so
    keep every pre-activation of a kinked activation (ReLU, LeakyReLU at 0) and every
    kink of the loss (MAE at pred = target, Huber at |pred - target| = δ) well over ε
    away: a difference that straddles a kink averages two slopes.

    Nor can a central difference resolve a gradient entry below its own rounding error,
    about 1e-16 |L| / ε (1e-10 for L of order 1 and ε = 1e-6, whatever the entry's size):
    an entry of 1e-6 (a LeakyReLU's slope of 0.01 makes such) then shows a relative error
    near 1e-4 however right backpropagation is. To hold every entry to ``tolerance``, the
    entries must be well above 1e-16 |L| / (ε · tolerance); an exact 0 on both sides (a dead
    ReLU unit) is fine, it gives an error of 0.

    Raises ConfigError for a network that is a stack (``minifw.stack``) or not a
    ``Network``, an unknown loss, or ``epsilon`` <= 0 or ``tolerance`` < 0; DataError
    for ``x`` or ``y`` of the wrong shape or with NaN or inf. Each is raised before
    anything is computed.
    """
    if not isinstance(network, Network):
        raise ConfigError(f"gradcheck checks a minifw Network; got {type(network).__name__}")
    if network.copies is not None:
        raise ConfigError(
            f"gradcheck checks one network, not a stack of {network.copies} "
            "(minifw.stack); check the networks minifw.unstack gives back, one at a time"
        )
    loss = Loss.resolve(loss)
    _check_number("epsilon", epsilon, strict=True)
    _check_number("tolerance", tolerance, strict=False)
    x = as_matrix("x", x, columns=network.n_inputs, what="inputs")
    y = as_matrix("y", y, columns=network.n_outputs, what="outputs")
    if y.shape[0] != x.shape[0]:
        raise DataError(
            f"y has {y.shape[0]} samples but x has {x.shape[0]}; "
            "each input row needs its target row"
        )

    checked = _float64_copy(network)

    def value(_: Array) -> float:
        """L at the checked network's current weights (which numerical_gradient nudges)."""
        return float(loss.value(checked.forward(x), y))

    # value_and_gradient, as the trainer calls it: a loss may compute it apart (MSE does).
    checked.backward(loss.value_and_gradient(checked.forward(x), y)[1])
    rows = []
    for index, layer in enumerate(checked.layers):
        name = _layer_name(layer)
        for parameter in layer.parameters():
            # forward alone never writes a grad: backward's stays as it was through the
            # numeric passes.
            analytic = parameter.grad
            numeric = numerical_gradient(value, parameter.value, epsilon)
            errors = relative_error(analytic, numeric)
            # argmax finds the first NaN if there is one: a NaN is the worst there is.
            at = np.unravel_index(int(np.argmax(errors)), errors.shape)
            rows.append(
                GradcheckRow(
                    layer=index,
                    layer_name=name,
                    parameter=parameter.name,
                    worst=float(errors[at]),
                    at=tuple(int(i) for i in at),
                    analytic=float(analytic[at]),
                    numeric=float(numeric[at]),
                )
            )
    return GradcheckReport(rows, tolerance=float(tolerance), epsilon=float(epsilon))


def _check_number(name: str, value: Any, *, strict: bool) -> None:
    """ConfigError unless ``value`` is a finite real number > 0 (``strict``) or >= 0."""
    if not is_finite(value) or value < 0 or (strict and value == 0):
        bound = "> 0" if strict else ">= 0"
        raise ConfigError(f"gradcheck {name} must be a finite number {bound}; got {shown(value)}")


def _float64_copy(network: Network) -> Network:
    """An independent float64 network with ``network``'s layers and exactly its weights.

    The layers are deep copies, so nothing of the original (its parameters, its caches)
    is shared; building the Network draws fresh weights and packs them as float64, and
    the original's are then copied over them (float32 -> float64 is exact).
    """
    layers = copy.deepcopy(network.layers)
    checked = Network(layers, seed=0, dtype=np.float64)
    for mine, theirs in zip(checked.parameters(), network.parameters(), strict=True):
        mine.value[...] = theirs.value
    return checked


def _layer_name(layer: Layer) -> str:
    """The layer's class, shape and activation (as its spec), if any: "Dense 1→5 sigmoid"."""
    name = f"{type(layer).__name__} {layer.n_in}→{layer.n_out}"
    activation = getattr(layer, "activation", None)
    if activation is None:
        return name
    try:
        spec = to_spec(activation)
    except ConfigError:  # not a registered class: its repr is the best name there is
        return f"{name} {activation!r}"
    arguments = ",".join(f"{key}={value}" for key, value in spec.items() if key != "name")
    return f"{name} {spec['name']}{':' if arguments else ''}{arguments}"
