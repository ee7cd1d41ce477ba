"""Round trips a component must survive: its spec, its repr, a model file and a checkpoint.

Each function returns None when the round trip gives back what went in, else a
message saying what changed; the checks turn messages into AssertionErrors.
Files go to a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..core.activations import Activation, Sigmoid
from ..core.data import ArraySource, DataSource, Normaliser
from ..core.errors import ConfigError
from ..core.layers import Dense
from ..core.losses import Loss
from ..core.network import Network
from ..core.optimizers import Optimizer
from ..core.registry import Registered
from ..core.serialize import component_families, from_spec, spec_text, to_spec
from ..core.trainer import Trainer
from ..files.saving import load, load_checkpoint, load_saved, load_weights, save, save_checkpoint

Array = np.ndarray


def family_of(component: Registered) -> type[Registered]:
    """The family ``component`` belongs to: Activation, Loss, ..."""
    return next(f for f in component_families() if isinstance(component, f))


def fresh(component: Registered) -> Any:
    """A new component built from ``component``'s spec, as a file would give it back."""
    return from_spec(family_of(component), to_spec(component))


def spec_problem(component: Registered) -> str | None:
    """Whether ``component``'s spec survives JSON and builds a component of the same class
    with the same spec; and its spec text, if it has one, too."""
    try:
        spec = to_spec(component)
        again = from_spec(family_of(component), json.loads(json.dumps(spec, allow_nan=False)))
    except (ConfigError, TypeError, ValueError) as error:
        return f"its spec does not make a round trip: {error}"
    if type(again).__qualname__ != type(component).__qualname__ or to_spec(again) != spec:
        return f"its spec {spec} builds {again!r}, whose spec is {to_spec(again)}"
    text = spec_text(component)
    if text is not None and to_spec(family_of(component).resolve(text)) != spec:
        return f"its spec text {text!r} builds another component"
    return None


def repr_problem(
    component: Any, classes: tuple[type, ...] = (), same: Callable[[Any], Any] = to_spec
) -> str | None:
    """Whether ``repr(component)`` reads back as the call that builds it again: evaluated among
    every registered class (by its class name), its own and ``classes``, it gives one with
    the same ``same(...)``: the same spec, unless another description is given."""
    namespace: dict[str, Any] = {"inf": math.inf, "nan": math.nan, "np": np}
    for family in component_families():
        for name in family.registry.names():
            cls = family.registry.get(name)
            namespace[cls.__name__] = cls
    namespace.update({cls.__name__: cls for cls in (type(component), *classes)})
    text = repr(component)
    try:
        again = eval(text, namespace)  # the text of a repr, among registered classes only
        alike = same(again) == same(component)
    except Exception as error:
        return f"repr {text!r} does not build it again ({type(error).__name__}: {error})"
    return None if alike else f"repr {text!r} builds {again!r}, which differs"


@contextmanager
def _directory() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="minifw-check-") as name:
        yield Path(name)


def network_problem(
    build: Callable[[], Network], x: Array, source: DataSource | None = None
) -> str | None:
    """Whether a network from ``build()`` saves and loads bit for bit (its predictions at ``x``
    and, with ``source``, its data), and whether its weights load into another network
    from ``build()``, whose components are equal but not the same objects."""
    network = build()
    with _directory() as folder:
        path = folder / "model.npz"
        save(network, path, source=source)
        loaded = load(path)
        if not np.array_equal(loaded.predict(x), network.predict(x)):
            return "a network saved and loaded with it predicts other values"
        other = build()
        try:
            load_weights(other, path)
        except Exception as error:
            return f"load_weights refuses an identical network: {error}"
        if source is not None:
            saved = load_saved(path).source
            if saved is None or not _same_arrays(saved.arrays(), source.arrays()):
                return f"a model saved with source {source!r} loads other data"
    return None


def _same_arrays(a: tuple[Array, ...] | None, b: tuple[Array, ...] | None) -> bool:
    if a is None or b is None:
        return a is b
    return all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))


def training_run(
    activation: Activation | str = "tanh",
    loss: Loss | str = "mse",
    optimizer: Optimizer | str = "adam:lr=0.01",
    source: DataSource | None = None,
    **settings: Any,
) -> Trainer:
    """A small run to put a component in: a 1-4-1 network on 8 points of y = x², or on
    ``source``, its trainer made with ``settings`` (batch_size=3, seed=0 unless given). A
    loss defined on a bounded interval (binary cross-entropy's (0, 1)) gets a sigmoid output
    and targets mapped into the middle of its interval. The source is ``trainer.source``."""
    loss_component = Loss.resolve(loss)
    if source is None:
        x = np.linspace(0.0, 1.0, 8).reshape(-1, 1)
        source = ArraySource(x, x * x)
    inputs = source.arrays()[0].shape[1]
    low, high = loss_component.domain
    output: Activation | str = "identity"
    normaliser = None
    if math.isfinite(low) and math.isfinite(high):
        y = source.arrays()[1]
        margin = 0.1 * (high - low)
        output, normaliser = Sigmoid(), Normaliser.fit(y, (low + margin, high - margin))
    layers = [Dense(inputs, 4, activation), Dense(4, source.arrays()[1].shape[1], output)]
    network = Network(layers, seed=0, normaliser=normaliser)
    trainer = Trainer(
        network, loss_component, optimizer, **{"batch_size": 3, "seed": 0, **settings}
    )
    trainer.source = source
    return trainer


def resume_problem(make: Callable[[], Trainer], epochs: int = 2) -> str | None:
    """Whether a run from ``make()``, checkpointed after ``epochs`` epochs and resumed for as
    many more, ends bit for bit where a run from ``make()`` that never stopped ends."""
    trainer = make()
    source = trainer.source
    assert source is not None
    trainer.fit(source, epochs)
    with _directory() as folder:
        save_checkpoint(trainer, folder / "run.npz")
        resumed = load_checkpoint(folder / "run.npz", source)
    resumed.fit(source, epochs)
    alone = make()
    alone.fit(source, 2 * epochs)
    if not np.array_equal(resumed.network.packed.value, alone.network.packed.value):
        worst = np.max(np.abs(resumed.network.packed.value - alone.network.packed.value))
        return (
            f"a run checkpointed after {epochs} epochs and resumed ends with other weights "
            f"than the run that never stopped (largest difference {worst:.3g}): something "
            "it learns while training is not kept in the checkpoint"
        )
    if resumed.run_history != alone.run_history:
        return "a resumed run has another loss history than the run that never stopped"
    for mine, theirs in [(resumed.loss, alone.loss), (resumed.optimizer, alone.optimizer)]:
        if to_spec(mine) != to_spec(theirs):
            return f"a checkpoint gives back {mine!r} for {theirs!r}"
    return None
