"""Many networks trained as one: a stack with a leading axis over networks.

Networks that share an architecture and differ only in their numbers (initial
weights, learning rate) can train side by side in one computation: every array
gains a leading axis of length N, and each numpy call does the work of N
networks for little more than the cost of one. The layers are the same code;
``Dense(copies=N)`` only gives its arrays that axis.

``stack(networks)`` builds the stacked network from N single ones (their
weights as they are), ``unstack(network)`` gives them back. A ``Trainer`` fits
a stacked network as it fits one network, on data all of them share; its
losses are then arrays, one entry per network. Each network's weights after
training equal those of training it alone, bit for bit: each numpy call does
for each network what it does for one network alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from ..core.errors import ConfigError
from ..core.network import Network
from ..core.serialize import comparable

Array = np.ndarray


def _layer_spec(layer: object) -> object:
    """A layer as its arguments, without ``copies``: what must match to stack. Components
    are compared by spec: two instances of a plain activation class are never equal."""
    fields = attrs.fields(type(layer))  # type: ignore[arg-type]
    return tuple(
        (f.name, comparable(getattr(layer, f.name)))
        for f in fields
        if f.init and f.name != "copies"
    )


def stack(networks: Sequence[Network]) -> Network:
    """One network of ``len(networks)`` copies, copy i holding ``networks[i]``'s weights.

    The networks must have the same layers (classes and arguments) and the same
    normaliser; otherwise ConfigError says where they differ.
    """
    if not networks:
        raise ConfigError("stack needs at least one network")
    first = networks[0]
    for i, other in enumerate(networks[1:], start=1):
        if [_layer_spec(a) for a in other.layers] != [_layer_spec(a) for a in first.layers]:
            raise ConfigError(f"network {i} has other layers than network 0; only alike ones stack")
        if not _same_normaliser(other, first):
            raise ConfigError(f"network {i} has another normaliser than network 0")
        if other.dtype != first.dtype:
            raise ConfigError(f"network {i} is {other.dtype}, network 0 {first.dtype}")
        if other.copies is not None:
            raise ConfigError(f"network {i} is a stack already")
    layers = [attrs.evolve(layer, copies=len(networks)) for layer in first.layers]  # type: ignore[misc]
    stacked = Network(layers, seed=0, normaliser=first.normaliser, dtype=first.dtype)
    for i, network in enumerate(networks):
        for mine, theirs in zip(stacked.parameters(), network.parameters(), strict=True):
            mine.value[i] = theirs.value.reshape(mine.value.shape[1:])
    return stacked


def unstack(network: Network) -> list[Network]:
    """The single networks a stacked ``network`` holds, each with its current weights."""
    if network.copies is None:
        raise ConfigError("unstack needs a stacked network (made by minifw.stack)")
    singles = []
    for i in range(network.copies):
        layers = [attrs.evolve(layer, copies=None) for layer in network.layers]  # type: ignore[misc]
        single = Network(layers, seed=0, normaliser=network.normaliser, dtype=network.dtype)
        for mine, theirs in zip(single.parameters(), network.parameters(), strict=True):
            mine.value[...] = theirs.value[i].reshape(mine.value.shape)
        singles.append(single)
    return singles


def _same_normaliser(a: Network, b: Network) -> bool:
    if a.normaliser is None or b.normaliser is None:
        return a.normaliser is b.normaliser
    sides = [(a.normaliser.source, b.normaliser.source), (a.normaliser.target, b.normaliser.target)]
    return all(np.array_equal(x, y) for pair in sides for x, y in zip(*pair, strict=True))
