"""An experiment: one run built from its configuration, ready to train and to report.

``build(config)`` resolves the configuration once (``minifw.run.resolve``) and
makes what it describes: the data source, the network (hidden layers with a
bias unit, as the blog's, and an output layer without), the normaliser that
maps the targets into the output activation's range, and the trainer.
``experiment(**settings)`` is the same from keyword arguments named as
``RunConfig``'s fields. The ``Experiment`` keeps its resolved configuration,
so what it prints is what it trained.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from ..core.activations import Activation
from ..core.callbacks import Callback, EvaluationTarget
from ..core.data import DataSource, Normaliser
from ..core.errors import ConfigError
from ..core.initializers import Initializer
from ..core.layers import Dense
from ..core.losses import Loss
from ..core.network import Network
from ..core.optimizers import Optimizer
from ..core.schedules import Schedule
from ..core.serialize import rebuilt
from ..core.trainer import FitResult, Trainer
from ..core.validation import plural
from . import blog
from .config import RunConfig
from .resolve import name_of, resolve, summary

Array = np.ndarray


@attrs.define(eq=False)
class Experiment:
    """One training run: its network, trainer and data, its resolved ``config``, the ``notes``
    on defaults that moved, and ``seconds``, its training time so far (a resumed run's
    counts the checkpoint's, and ``resumed_from`` names the run that wrote it)."""

    network: Network
    trainer: Trainer
    source: DataSource
    config: RunConfig
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    resumed_from: str | None = None  # the id of the run whose checkpoint this one continues
    # With the configuration's target_eval: when the evaluation MSE first reached it.
    eval_target: EvaluationTarget | None = None

    def fit(self, epochs: int | None = None) -> FitResult:
        """Train for ``epochs`` more (by default the configuration's, the blog's 3000)."""
        result = self.trainer.fit(self.source, self.config.epochs if epochs is None else epochs)
        self.seconds += result.seconds
        return result

    def evaluation_mse(self) -> float:
        """Mean squared error on the evaluation points, in the target's own units."""
        x, y = self.source.evaluation_arrays()  # type: ignore[attr-defined]
        with np.errstate(over="ignore"):  # an error too large for a float is inf, said so
            return float(np.mean((self.network.predict(x) - y) ** 2))

    def evaluation_metrics(self) -> dict[str, float]:
        """The trainer's metrics (the configuration's ``metrics``) at the evaluation points, in
        the target's own units, by name; empty without metrics."""
        scores = self.trainer.evaluate(*self.source.evaluation_arrays())
        scores.pop("loss")
        return scores

    def stats_line(self, result: FitResult) -> str:
        """The blog's closing line for the run so far; a second line names every setting
        that differs from the blog's. The input size counts the bias unit, as the blog's."""
        layers = self.network.layers
        sizes = [layers[0].n_in + layers[0].use_bias] + [layer.n_out for layer in layers]  # type: ignore[attr-defined]
        names = dict.fromkeys(map(name_of, (self.config.activation, self.config.output_activation)))
        rate = "line search" if self.config.lr is None else f"{self.config.lr:g}"
        line = (
            f"[ {' '.join(map(str, sizes))} ] Activation: {'/'.join(names)} "
            f"Iterations: {self.trainer.epochs_done} Learning rate: {rate} "
            f"Final loss: {result.final_loss} Time: {self.seconds}"
        )
        changed = summary(self.config)
        return f"{line}\nChanged from the blog: {changed}" if changed else line


def _normaliser(activation: Activation, target: object, y: Array) -> Normaliser | None:
    """Targets -> a range the output activation reaches: the blog's for its three activations,
    else the activation's own (a bounded side plus one where the other side is unbounded), and
    none for an activation unbounded on both sides. Targets are mapped from their known range,
    else from the sampled extremes.

    There is no margin, as in the blog: the extreme targets land exactly on bounds that
    sigmoid (0 and 1), tanh (±1), softplus (0) and ELU (-1) only reach at infinity, so the
    network can only approach them and its error at the peaks of sin never quite vanishes.
    An identity output layer (``output_activation="identity"``) has no such bound."""
    name = name_of(activation)
    low, high = (
        blog.SETTINGS[name].output_range if name in blog.SETTINGS else activation.output_range
    )
    if math.isinf(low) and math.isinf(high):
        return None
    if math.isinf(low) or math.isinf(high):
        low, high = (low, low + 1.0) if math.isfinite(low) else (high - 1.0, high)
    known = getattr(target, "value_range", None)
    if known is not None:
        return Normaliser(known, (low, high))
    return Normaliser.fit(y, (low, high))


def build(config: RunConfig, callbacks: Sequence[Callback] = ()) -> Experiment:
    """The run ``config`` describes, resolved once (see ``minifw.run.resolve``), every random
    choice drawn from its ``seed``: the weights, the shuffling, any sampling, noise or split."""
    resolved = resolve(config)
    c = resolved.config
    source = resolved.target.source(
        c.samples,
        c.domain,
        sampling=c.sampling,
        noise=c.noise,
        validation=c.validation,
        seed=c.seed,
    )
    x, y = source.arrays()
    if c.batch_size > len(x):
        # The trainer would clip the batch, and the blog's rate, derived from the batch size,
        # would no longer be the rate of the batches that train: refused, not guessed.
        raise ConfigError(
            f"batch_size {c.batch_size} is larger than the {plural(len(x), 'training point')}; "
            f"give a batch size of at most {len(x)}, or more samples"
        )
    hidden = Activation.resolve(c.activation)
    output = Activation.resolve(c.output_activation)
    init = Initializer.resolve(c.init)
    dense = [
        Dense(n_in, n_out, hidden, bias=c.bias, bias_unit=c.bias, initializer=init)
        for n_in, n_out in itertools.pairwise([resolved.target.inputs, *c.layers])
    ]
    dense.append(Dense(c.layers[-1], y.shape[1], output, bias=False, initializer=init))
    normaliser = _normaliser(output, resolved.target, y)
    network = Network(dense, seed=c.seed, normaliser=normaliser, dtype=c.dtype)
    changes: dict[str, Any] = {} if c.lr is None else {"lr": c.lr}
    if c.schedule is not None:
        changes["schedule"] = Schedule.resolve(c.schedule)
    optimizer = rebuilt(Optimizer.resolve(c.optimizer), **changes)
    watch = [] if c.target_eval is None else [evaluation_target(source, c.target_eval)]
    trainer = Trainer(
        network,
        Loss.resolve(c.loss),
        optimizer,
        batch_size=c.batch_size,
        shuffle=c.shuffle,
        seed=c.seed,
        callbacks=[*callbacks, *watch],
        metrics=list(c.metrics),
        engine=c.engine,
    )
    watching = watch[0] if watch else None
    return Experiment(network, trainer, source, c, resolved.notes, eval_target=watching)


def evaluation_target(source: DataSource, target: float) -> EvaluationTarget:
    """The callback that records when a run's evaluation MSE at ``source``'s evaluation
    points first reaches ``target`` (see ``EvaluationTarget`` for what it costs)."""
    return EvaluationTarget(*source.evaluation_arrays(), target)  # type: ignore[attr-defined]


def experiment(*, callbacks: Sequence[Callback] = (), **settings: Any) -> Experiment:
    """A run from settings named as ``RunConfig``'s fields, each the blog's unless given:
    ``experiment(activation="tanh", layers=(8,), lr=0.3)``."""
    return build(RunConfig(**settings), callbacks)
