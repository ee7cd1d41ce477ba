"""What a figure shows: the fixed scene (target, data, domain) and the network's snapshot on it.

A ``Scene`` is computed once from a data source: the points across the plotted
domain, the target there, the training and evaluation points, and where the
training domain ends. A ``Snapshot`` is what the network does on that scene at
one moment: its prediction, each hidden layer's units, and which units are dead.
Figures draw one snapshot; a training film draws many on the same scene, so a
snapshot holds only what a frame needs, and its size does not grow with training.
"""

from __future__ import annotations

import attrs
import numpy as np

from ...core.data import DataSource, FunctionSource
from ...core.errors import ConfigError
from ...core.network import Network

Array = np.ndarray


def _bounds(value: object, inputs: int) -> tuple[Array, Array]:
    """(low, high) per input axis, from one (low, high) pair or per-axis ones; else ConfigError."""
    try:
        low, high = (np.broadcast_to(np.asarray(v, float), (inputs,)) for v in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise ConfigError(f"a domain must be (low, high); got {value!r}") from None
    if not (np.isfinite(low).all() and np.isfinite(high).all() and (low < high).all()):
        raise ConfigError(f"a domain must be finite with low < high on every axis; got {value!r}")
    return low.copy(), high.copy()


@attrs.frozen(eq=False)
class Scene:
    """The fixed part of a figure: ``x`` across the plotted domain and what is known there.

    ``x`` holds ``resolution`` evenly spaced points for one input, or a
    ``resolution`` × ``resolution`` grid (row-major, ``grid_shape``) for two.
    ``target`` is f(x) there when the source is a ``FunctionSource``, else None.
    ``inside`` marks the points of ``x`` within the training domain, [low, high]
    on every axis; where the plotted domain reaches past it, the rest is
    extrapolation. ``Scene.of(source, domain)`` builds one.
    """

    x: Array
    target: Array | None
    inside: Array
    train: tuple[Array, Array]
    evaluation: tuple[Array, Array]
    train_domain: tuple[Array, Array]
    domain: tuple[Array, Array]
    grid_shape: tuple[int, ...]

    @classmethod
    def of(
        cls, source: DataSource, domain: object = None, *, resolution: int | None = None
    ) -> Scene:
        """The scene of ``source`` on ``domain`` (low, high), by default the span of its points.

        The training domain is a FunctionSource's own domain, else the span of
        the training inputs. Figures over a domain need one or two inputs.
        """
        x_train, y_train = source.arrays()
        x_eval, y_eval = source.evaluation_arrays()
        inputs = x_train.shape[1]
        if inputs not in (1, 2):
            raise ConfigError(
                f"figures over the input domain need 1 or 2 inputs; this source has {inputs}"
            )
        if isinstance(source, FunctionSource):
            train_domain = _bounds(source.domain, inputs)
        else:
            train_domain = (x_train.min(axis=0), x_train.max(axis=0))
        if domain is None:  # every training and evaluation point in view
            points = np.vstack([x_train, x_eval])
            domain = (
                np.minimum(points.min(axis=0), train_domain[0]),
                np.maximum(points.max(axis=0), train_domain[1]),
            )
        low, high = _bounds(domain, inputs)
        n = resolution or (400 if inputs == 1 else 80)
        axes = [np.linspace(low[i], high[i], n) for i in range(inputs)]
        grid = np.meshgrid(*axes, indexing="ij")
        x = np.stack([g.reshape(-1) for g in grid], axis=1)
        target = None
        if isinstance(source, FunctionSource):
            target = np.asarray(source.f(x), dtype=np.float64).reshape(len(x), -1)
        inside = np.all((x >= train_domain[0]) & (x <= train_domain[1]), axis=1)
        return cls(
            x=x,
            target=target,
            inside=inside,
            train=(x_train, y_train),
            evaluation=(x_eval, y_eval),
            train_domain=train_domain,
            domain=(low, high),
            grid_shape=(n,) * inputs,
        )

    @property
    def inputs(self) -> int:
        """Input axes: 1 (curves) or 2 (heat maps)."""
        return self.x.shape[1]

    @property
    def extrapolates(self) -> bool:
        """Whether the plotted domain reaches past the training domain."""
        return not bool(self.inside.all())


@attrs.frozen(eq=False)
class Snapshot:
    """The network on a scene at one moment: after ``epoch`` epochs, with training loss ``loss``.

    ``prediction`` is network(x) on the scene's points and ``at_evaluation`` on
    its evaluation points, both in the target's units. ``hidden[i]`` holds
    hidden layer i's unit outputs on the scene's points (empty when not
    asked for), and ``dead[i]`` marks its dead units: those whose activation's
    derivative is 0 at every training input, so that no gradient reaches them.
    """

    prediction: Array
    at_evaluation: Array
    hidden: list[Array]
    dead: list[Array]
    epoch: int | None = None
    loss: float | None = None

    @classmethod
    def take(
        cls,
        network: Network,
        scene: Scene,
        *,
        epoch: int | None = None,
        loss: float | None = None,
        units: bool = True,
    ) -> Snapshot:
        """What ``network`` does on ``scene`` now; ``units=False`` skips the hidden layers."""
        hidden = [h.copy() for h in network.layer_outputs(scene.x)[:-1]] if units else []
        return cls(
            prediction=network.predict(scene.x),
            at_evaluation=network.predict(scene.evaluation[0]),
            hidden=hidden,
            dead=dead_units(network, scene.train[0]) if units else [],
            epoch=epoch,
            loss=loss,
        )


def dead_units(network: Network, x: Array) -> list[Array]:
    """For each hidden layer, which units pass no gradient back at any row of ``x``.

    A unit is dead when its activation's derivative is 0 at every input: a ReLU
    unit whose weighted sum is negative for all of them, say. Layers without an
    activation (not Dense) have none marked.
    """
    dead = []
    for layer, y in zip(network.layers[:-1], network.layer_outputs(x)[:-1], strict=True):
        activation, z = getattr(layer, "activation", None), getattr(layer, "pre_activation", None)
        if activation is None or z is None:
            dead.append(np.zeros(y.shape[1], dtype=bool))
        else:
            dead.append(np.all(activation.derivative(z, y) == 0, axis=0))
    return dead
