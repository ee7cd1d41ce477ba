"""Network: an ordered stack of layers.

``forward`` runs the layers in order, ``backward`` runs them in reverse and
leaves every parameter's gradient in place for the optimizer. ``predict``
is the checked, user-facing forward pass: it refuses bad input and returns
values in the target's own units when the network carries a normaliser.
"""

from __future__ import annotations

import itertools

import attrs
import numpy as np

from .data import Normaliser
from .errors import ConfigError
from .layers import Layer, Parameter
from .validation import as_matrix

Array = np.ndarray


def _check_layers(
    instance: Network, attribute: attrs.Attribute[list[Layer]], layers: list[Layer]
) -> None:
    if not layers:
        raise ConfigError("Network needs at least one layer")
    for i, (a, b) in enumerate(itertools.pairwise(layers)):
        if a.n_out != b.n_in:
            raise ConfigError(
                f"layer {i} gives {a.n_out} outputs but layer {i + 1} expects {b.n_in} inputs"
            )


@attrs.define(eq=False)
class Network:
    """y = layer_k(... layer_2(layer_1(x))), with weights drawn from ``seed``.

    On construction every layer is initialized, in order, from one generator
    ``numpy.random.default_rng(seed)``: the same seed gives the same weights.
    ``normaliser``, if given, maps targets into the output layer's range for
    training and is inverted by ``predict``.

    The network also packs every parameter into one vector, ``packed``: each
    layer's ``Parameter.value`` and ``.grad`` become views into two flat
    arrays, so an elementwise optimizer updates the whole network with one
    numpy call instead of one per array (for a network as small as the blog's,
    that call overhead is most of the time). Layers must therefore reach their
    arrays through their ``Parameter`` objects, never through a saved copy.
    """

    layers: list[Layer] = attrs.field(converter=list, validator=_check_layers)
    seed: int | np.random.SeedSequence | None = attrs.field(default=0, kw_only=True)
    normaliser: Normaliser | None = attrs.field(default=None, kw_only=True)
    packed: Parameter = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        for layer in self.layers:
            layer.initialize(rng)
        self.packed = _pack(self.parameters())

    @property
    def n_inputs(self) -> int:
        """Features per input sample."""
        return self.layers[0].n_in

    @property
    def n_outputs(self) -> int:
        """Values per output sample."""
        return self.layers[-1].n_out

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

    def layer_outputs(self, x: Array) -> list[Array]:
        """Each layer's output for ``x`` (checked), first layer first: what the hidden units do."""
        x = as_matrix("x", x, columns=self.n_inputs, what="inputs")
        outputs = []
        for layer in self.layers:
            x = layer.forward(x)
            outputs.append(x)
        return outputs

    def predict(self, x: Array) -> Array:
        """The network's answer for ``x`` (samples, inputs), in the target's own units."""
        y = self.forward(as_matrix("x", x, columns=self.n_inputs, what="inputs"))
        return y if self.normaliser is None else self.normaliser.inverse(y)

    def parameters(self) -> list[Parameter]:
        """Every trainable parameter, layer by layer, by reference."""
        return [p for layer in self.layers for p in layer.parameters()]


def _pack(parameters: list[Parameter]) -> Parameter:
    """One Parameter holding all of ``parameters`` end to end; theirs become views into it."""
    size = sum(p.value.size for p in parameters)
    packed = Parameter("packed", np.empty(size), np.zeros(size))
    start = 0
    for p in parameters:
        stop = start + p.value.size
        value = packed.value[start:stop].reshape(p.value.shape)
        value[...] = p.value
        p.value, p.grad = value, packed.grad[start:stop].reshape(p.value.shape)
        start = stop
    return packed
