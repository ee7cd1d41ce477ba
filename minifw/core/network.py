"""Network: an ordered stack of layers.

``forward`` runs the layers in order, ``backward`` runs them in reverse and
leaves every parameter's gradient in place for the optimizer. ``predict``
is the checked, user-facing forward pass: it refuses bad input and returns
values in the target's own units when the network carries a normaliser.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from .data import Normaliser
from .errors import ConfigError
from .layers import Dense, Layer, Parameter
from .numerics import ignore_underflow
from .text import aligned
from .validation import (
    as_matrix,
    check_memory,
    count_text,
    float_dtype,
    instance_of,
    memory_needed,
    plural,
    random_seed,
)

if TYPE_CHECKING:
    pass

Array = np.ndarray

# Network.describe estimates E[f(z)²] for z ~ N(0, v) from this many normal draws of
# its own fixed generator: the error is about 0.3 %, and the table the same every time.
DESCRIBE_SAMPLES = 100_000
DESCRIBE_SEED = 0


def _check_layers(
    instance: Network, attribute: attrs.Attribute[list[Layer]], layers: list[Layer]
) -> None:
    if not layers:
        raise ConfigError("Network needs at least one layer")
    for i, (a, b) in enumerate(itertools.pairwise(layers)):
        if a.n_out != b.n_in:
            raise ConfigError(
                f"layer {i} gives {plural(a.n_out, 'output')} but layer {i + 1} expects "
                f"{plural(b.n_in, 'input')}"
            )


def _check_normaliser(
    instance: Network, attribute: attrs.Attribute[Normaliser | None], value: Normaliser | None
) -> None:
    """None, or a Normaliser whose per-column ranges (if any) have one entry per output.

    A mismatch would not fail: predict would broadcast (n, 1) outputs to (n, k), silently.
    """
    instance_of(Normaliser, optional=True)(instance, attribute, value)
    if value is None:
        return
    outputs = instance.layers[-1].n_out
    # A range of one value applies to every column; any other size must be the output count.
    sizes = {bound.size for bound in (*value.source, *value.target)} - {1}
    if sizes - {outputs}:
        raise ConfigError(
            f"Network.normaliser has ranges for {max(sizes)} columns but the network has "
            f"{outputs} output(s); expected one range per output (or one for all)"
        )


@attrs.define(eq=False)
class Network:
    """y = layer_k(... layer_2(layer_1(x))), with weights drawn from ``seed``.

    On construction every layer is initialized, in order, from one generator
    ``numpy.random.default_rng(seed)``: the same seed gives the same weights.
    ``normaliser``, if given, maps targets into the output layer's range for
    training and is inverted by ``predict``.

    ``dtype`` is float64 (the default, as the blog) or float32: the weights,
    gradients, optimizer state and the data the Trainer feeds it all take it,
    so that nothing in the training loop is computed in another precision.

    The network also packs every parameter into one vector, ``packed``: each
    layer's ``Parameter.value`` and ``.grad`` become views into two flat
    arrays, so an elementwise optimizer updates the whole network with one
    numpy call instead of one per array (for a network as small as the blog's,
    that call overhead is most of the time). Layers must therefore reach their
    arrays through their ``Parameter`` objects, never through a saved copy.
    """

    layers: list[Layer] = attrs.field(converter=list, validator=_check_layers)
    seed: int | np.random.SeedSequence | None = attrs.field(
        default=0, kw_only=True, validator=random_seed
    )
    normaliser: Normaliser | None = attrs.field(
        default=None, kw_only=True, validator=_check_normaliser
    )
    dtype: np.dtype = attrs.field(default=np.float64, kw_only=True, converter=float_dtype)
    packed: Parameter = attrs.field(init=False, repr=False)
    # A fingerprint of the weights as drawn, so describe() can tell drawn weights from
    # trained (or assigned) ones without keeping a second copy of every weight.
    _drawn: bytes = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        # Each Dense layer checked its own size; together they may still be too many.
        sizes = [self.layers[0].n_in, *(layer.n_out for layer in self.layers)]
        check_memory(
            memory_needed(sizes, copies=self.copies or 1),
            f"training a network of layer sizes {', '.join(map(count_text, sizes))}",
            "use fewer or smaller layers",
        )
        rng = np.random.default_rng(self.seed)
        for layer in self.layers:
            layer.initialize(rng)  # drawn in float64, the same numbers whatever the dtype
        self.packed = _pack(self.parameters(), self.copies, self.dtype)
        self._drawn = self._fingerprint()

    def _fingerprint(self) -> bytes:
        return hashlib.blake2b(self.packed.value.tobytes(), digest_size=16).digest()

    @property
    def as_drawn(self) -> bool:
        """Whether the weights are still those drawn at construction: not trained, set or loaded."""
        return self._fingerprint() == self._drawn

    @property
    def copies(self) -> int | None:
        """How many networks this one stacks (see ``minifw.stack``); None for a single one."""
        return getattr(self.layers[0], "copies", None)

    @property
    def n_inputs(self) -> int:
        """Features per input sample."""
        return self.layers[0].n_in

    @property
    def n_outputs(self) -> int:
        """Values per output sample."""
        return self.layers[-1].n_out

    @property
    def n_parameters(self) -> int:
        """How many numbers training adjusts: every weight and bias (of every stacked copy)."""
        return int(self.packed.value.size)

    def forward(self, x: Array) -> Array:
        """The raw output for a batch ``x``, unchecked; layers cache what backward needs."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad: Array) -> None:
        """Backpropagate dL/d(output) of the last forward; leaves each parameter's grad set."""
        layers = self.layers
        for layer in layers[:0:-1]:
            grad = layer.backward(grad)
        layers[0].backward(grad, input_grad=False)

    @ignore_underflow  # as in training: a tiny product rounding to 0 is no error
    def layer_outputs(self, x: Array) -> list[Array]:
        """Each layer's output for ``x`` (checked), first layer first: what the hidden units do."""
        x = as_matrix("x", x, columns=self.n_inputs, what="inputs", dtype=self.dtype)
        outputs = []
        for layer in self.layers:
            x = layer.forward(x)
            outputs.append(x)
        return outputs

    @ignore_underflow  # as in training: a tiny product rounding to 0 is no error
    def predict(self, x: Array) -> Array:
        """The network's answer for ``x`` (samples, inputs), in the target's own units."""
        y = self.forward(as_matrix("x", x, columns=self.n_inputs, what="inputs", dtype=self.dtype))
        return y if self.normaliser is None else self.normaliser.inverse(y)

    def parameters(self) -> list[Parameter]:
        """Every trainable parameter, layer by layer, by reference."""
        return [p for layer in self.layers for p in layer.parameters()]

    def describe(self, x: Array | None = None) -> str:
        """A table, one row per layer: its initializer and the variances it implies.

        Each row gives the layer's shape and activation, its initializer's formula
        for the layer's own fan-in (counting a bias unit), the variance of the
        weights as drawn beside the one the initializer promises, the inputs'
        E[x²], and Var(z) = fan-in · Var(W) · E[x²] (+ Var(b)), the variance that
        promise implies for the pre-activations z = x W (+ b). The inputs are taken
        to have E[x²] = 1, as standardised inputs have, unless a batch of them, ``x``
        (samples, inputs), is given to measure it on (the blog's x in [0, 6.28] have
        13.4); a later layer's E[x²] is E[f(z)²] of the layer before,
        for z ~ N(0, Var(z)), by Monte Carlo with a fixed generator. Layers that
        are not ``Dense`` get what is known: their shape (and activation, if any).
        Nothing about the network changes, nor numpy's global random state.
        """
        normals = np.random.default_rng(DESCRIBE_SEED).standard_normal(DESCRIBE_SAMPLES)
        drawn = self.as_drawn
        rows = [list(_COLUMNS) if drawn else [_NOW if c == _DRAWN else c for c in _COLUMNS]]
        # E[x²] of the next layer's inputs; None: unknown.
        mean_square: float | None = 1.0
        inputs = "E[x²] = 1 for the network's inputs"
        if x is not None:
            x = as_matrix("x", x, columns=self.n_inputs, what="inputs")
            mean_square = float(np.mean(x * x))
            inputs = (
                f"E[x²] = {mean_square:.4g} for the network's inputs, measured on the "
                f"{x.shape[0]:,} samples given,"
            )
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dense):
                cells, var_z = _describe_dense(layer, mean_square)
                mean_square = None
                if var_z is not None:
                    y = layer.activation.forward(math.sqrt(var_z) * normals)
                    mean_square = float(np.mean(y * y))
            else:  # what any layer can tell: its shape, and its activation if it has one
                activation = getattr(layer, "activation", None)
                cells = [f"{type(layer).__name__} {layer.n_in}→{layer.n_out}"]
                cells += ["—" if activation is None else repr(activation)]
                cells += ["—"] * (len(_COLUMNS) - 3)
                mean_square = None
            rows.append([str(i), *cells])
        changed = (
            ""
            if drawn
            else " The weights are no longer those drawn (trained, set or loaded since): "
            f"{_NOW} is their variance as they are now, and Var(z) is still what the "
            "initializer promised at the start."
        )
        header = textwrap.fill(
            f"Network of {len(self.layers)} layers. Var(z) is the variance of the "
            "pre-activations z = x·W (+ b) that the initializer's promised Var(W) implies "
            f"(the {'drawn' if drawn else 'current'} one where it promises none): "
            f"fan-in · Var(W) · E[x²] (+ Var(b)), with {inputs} (and x = 1 for a bias unit) "
            "and, for later layers, E[f(z)²] of the layer before for z ~ N(0, its Var(z)), by "
            f"Monte Carlo ({DESCRIBE_SAMPLES:,} draws from "
            f"numpy.random.default_rng({DESCRIBE_SEED})).{changed}",
            width=100,
        )
        return "\n".join([header, *aligned(rows)])

    def summary(self, print_fn: Callable[[str], Any] = print) -> None:
        """Print a table of the layers: shapes, activation and parameters, and their total.

        One row per layer: its input and output shapes (n samples), its activation
        and how many parameters it has (weights W and biases b). A bias unit, as
        in the blog, is an input fixed at 1 whose weights are the bias: the blog's
        2-5-1 network has 1·5 weights and 5 biases in its hidden layer, 5 weights
        in its output layer, 15 in all. ``print_fn`` receives the whole table.
        """
        stack = "" if self.copies is None else "N, "
        rows = [["#", "layer", "input", "output", "activation", "parameters"]]
        for i, layer in enumerate(self.layers):
            activation = getattr(layer, "activation", None)
            sizes = [p.value.size for p in layer.parameters()]
            if isinstance(layer, Dense):
                kind = f"Dense {layer.n_in}→{layer.n_out}" + (
                    ", bias unit" if layer.bias_unit else ""
                )
                parts = f"W {layer.n_in}×{layer.n_out}" + (
                    f", b {layer.n_out}" if layer.use_bias else ""
                )
            else:
                kind = f"{type(layer).__name__} {layer.n_in}→{layer.n_out}"
                parts = " + ".join(map(str, sizes))
            if self.copies is not None:
                parts = f"N × ({parts})"
            rows.append(
                [
                    str(i),
                    kind,
                    f"({stack}n, {layer.n_in})",
                    f"({stack}n, {layer.n_out})",
                    "—" if activation is None else repr(activation),
                    f"{sum(sizes):,} ({parts})" if len(sizes) > 1 or stack else f"{sum(sizes):,}",
                ]
            )
        copies = "" if self.copies is None else f", over the N = {self.copies} networks stacked"
        lines = [
            f"Network of {len(self.layers)} layers, {self.dtype}; n is the number of samples.",
            *aligned(rows),
            f"Total: {self.n_parameters:,} parameters{copies}.",
        ]
        if getattr(self.layers[0], "bias_unit", False):
            sizes = [self.n_inputs + 1, *(layer.n_out for layer in self.layers)]
            lines.append(
                "A bias unit is one more input, fixed at 1, whose weights are the bias b; "
                f"counted as an input, as the blog counts it, this network is "
                f"{'-'.join(map(str, sizes))}."
            )
        print_fn("\n".join(lines))


_DRAWN, _NOW = "Var(W) drawn", "Var(W) now"
_COLUMNS = (
    "#",
    "layer",
    "activation",
    "initializer",
    "fan-in",
    _DRAWN,
    "Var(W) promised",
    "E[x²]",
    "Var(z)",
)


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _describe_dense(layer: Dense, mean_square: float | None) -> tuple[list[str], float | None]:
    """A Dense layer's cells of the ``describe`` table (from "layer" on), and its Var(z).

    ``mean_square`` is E[x²] of the layer's inputs, None if unknown (then so is Var(z)).
    """
    fan_in = layer.n_in + layer.bias_unit
    shape = (fan_in, layer.n_out)  # what the initializer draws, bias unit's row first
    formula = layer.initializer.formula(shape)
    drawn = layer.weights
    var_b: float | None = 0.0
    if layer.bias_unit:
        drawn = np.vstack([layer.bias, layer.weights])  # type: ignore[list-item]
    elif layer.use_bias:
        formula += f"; b: {layer.bias_initializer.formula((layer.n_out,))}"
        var_b = layer.bias_initializer.variance((layer.n_out,))
        if var_b is None:
            var_b = float(np.var(layer.bias))
    var_drawn = float(np.var(drawn))
    var_promised = layer.initializer.variance(shape)
    var_w = var_drawn if var_promised is None else var_promised
    if mean_square is not None and layer.bias_unit:
        # The bias unit is an input that is always 1: it adds 1 to the sum of x².
        mean_square = (layer.n_in * mean_square + 1.0) / fan_in
    var_z = None if mean_square is None else fan_in * var_w * mean_square + var_b
    cells = [
        f"Dense {layer.n_in}→{layer.n_out}",
        repr(layer.activation),
        formula,
        f"{fan_in} (incl. bias unit)" if layer.bias_unit else str(fan_in),
        _number(var_drawn),
        _number(var_promised),
        _number(mean_square),
        _number(var_z),
    ]
    return cells, var_z


def _pack(
    parameters: list[Parameter], copies: int | None = None, dtype: np.dtype | None = None
) -> Parameter:
    """One Parameter holding all of ``parameters`` end to end; theirs become views into it.

    For a stack of ``copies`` networks it is (copies, size): row i holds network
    i's parameters, so that a per-network number (a learning rate of shape
    (copies, 1)) broadcasts over its row.
    """
    rows = 1 if copies is None else copies
    size = sum(p.value.size for p in parameters) // rows
    shape = (size,) if copies is None else (copies, size)
    packed = Parameter("packed", np.empty(shape, dtype), np.zeros(shape, dtype))
    start = 0
    for p in parameters:
        stop = start + p.value.size // rows
        value = packed.value[..., start:stop].reshape(p.value.shape)
        grad = packed.grad[..., start:stop].reshape(p.value.shape)
        # reshape copies when it cannot view; a copy here would silently detach the layer.
        assert np.shares_memory(value, packed.value) and np.shares_memory(grad, packed.grad)
        value[...] = p.value
        p.value, p.grad = value, grad
        start = stop
    return packed
