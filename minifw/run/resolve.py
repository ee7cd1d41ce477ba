"""A run resolved once, before training: every default that depends on other settings filled in.

``resolve(config)`` gives the ``Resolved`` run: the configuration with its
domain, output activation, initializer, learning rate, figure and plot file
decided, and one note for each default that moved because of another setting
("lr 0.01: sgd's default, since gelu has no blog step; pass --lr to choose").
The resolved configuration is what trains, what the stats line prints, what
model files and checkpoints hold and what the ledger records, so that these
never disagree. Settings that contradict each other are refused here, before
anything is built.
"""

from __future__ import annotations

import functools
from typing import Any

import attrs
import numpy as np

from ..core.activations import Activation
from ..core.errors import ConfigError
from ..core.initializers import Initializer
from ..core.losses import MSE, Loss
from ..core.metrics import Metric
from ..core.optimizers import SGD, Optimizer
from ..core.registry import Registered, load_plugins, parse_spec
from ..core.schedules import Schedule
from ..core.serialize import rebuilt, spec_text
from ..core.targets import ExpressionTarget, Target, target_from
from . import blog
from .config import SETTINGS, RunConfig

DEFAULT_INIT = "blog_uniform"


@attrs.frozen
class Resolved:
    """A run with every default decided: ``config`` is what trains; ``notes`` say, a line
    each, where a default moved because of another setting, and why."""

    config: RunConfig
    notes: tuple[str, ...]
    target: Target


def name_of(value: Any) -> str:
    """A component setting as text: its spec, or for an object without one its class's name."""
    if isinstance(value, str):
        return value
    if isinstance(value, Registered):
        return type(value).registry.name_of(type(value))  # type: ignore[attr-defined]
    return type(value).__name__


def resolve(config: RunConfig) -> Resolved:
    """``config`` with its dependent defaults filled in and its conflicts refused (ConfigError).

    - ``domain``: the target's own.
    - ``output_activation``: the hidden activation; ``init``: the blog's ``blog_uniform``.
    - ``lr``: given once, with --lr or in the optimizer's spec (both is refused); else with
      SGD on the MSE and one of the blog's activations the blog's step L as an MSE rate,
      L · batch_size · outputs / 2; else the optimizer's own default. The optimizer's spec
      is kept without its lr, so that the rate is written in one place.
    - ``figure``: the blog's figure needs one input; for two it becomes the overview.
    - ``plot``: ``minifw-FIGURE.png``.
    - ``metrics``: each by its registered name (``mean_absolute_error`` -> ``mae``).
    """
    load_plugins(config.plugins)
    notes: list[str] = []
    target = target_from(config.target)
    domain = config.domain
    if domain is None:
        domain = tuple(float(v) for v in target.domain)
        if domain != blog.DOMAIN:
            notes.append(
                f"domain [{domain[0]:g}, {domain[1]:g}]: the target's own (the blog's sin has "
                f"[0, 6.28]); pass --domain LOW HIGH to choose"
            )
    activation = _canonical(Activation, config.activation)  # refused here, by name, if unknown
    hidden = config.activation if config.output_activation is None else config.output_activation
    output = _canonical(Activation, hidden)
    init = _canonical(Initializer, DEFAULT_INIT if config.init is None else config.init)
    loss = Loss.resolve(config.loss)
    schedule = None if config.schedule is None else _canonical(Schedule, config.schedule)
    optimizer, lr, note = _learning_rate(config, target, loss, domain)
    if note:
        notes.append(note)
    figure = config.figure
    if figure == "blog" and target.inputs == 2 and not config.no_plot:
        figure = "overview"
        notes.append("figure overview: the blog's three graphs are drawn for one input")
    plot = config.plot if config.plot is not None else f"minifw-{figure}.png"
    resolved = attrs.evolve(
        config,
        target=_target_text(config.target, target),
        domain=domain,
        activation=activation,
        loss=_canonical(Loss, config.loss),
        schedule=schedule,
        output_activation=output,
        init=init,
        optimizer=optimizer,
        lr=lr,
        figure=figure,
        plot=plot,
        metrics=tuple(_canonical(Metric, metric) for metric in config.metrics),
    )
    return Resolved(resolved, tuple(notes), target)


def _target_text(given: Any, target: Target) -> Any:
    """The target as text: a formula as written, a named target as its registered spec."""
    if isinstance(target, ExpressionTarget):
        default = attrs.fields(ExpressionTarget).domain.default
        return given if isinstance(given, str) or target.domain != default else target.text
    return spec_text(target) or given


def _canonical(family: type[Registered], value: Any) -> Any:
    """A component setting as its registered spec (``TANH`` -> ``tanh``, ``swish`` -> ``silu``),
    or the object itself when it has none."""
    return spec_text(family.resolve(value)) or value


def _learning_rate(
    config: RunConfig, target: Target, loss: Loss, domain: tuple[float, float]
) -> tuple[Any, float | None, str]:
    """(the optimizer without its rate, the rate (None for one that takes none), a note if
    the default moved)."""
    chosen = Optimizer.resolve(config.optimizer)
    in_spec = not isinstance(config.optimizer, str) or "lr" in parse_spec(config.optimizer)[1]
    if config.lr is not None and in_spec:
        raise ConfigError(
            f"the learning rate is given twice: lr {config.lr:g} and optimizer "
            f"{name_of(config.optimizer)} with lr {chosen.lr:g}; give it once, "  # type: ignore[attr-defined]
            "with --lr or in the optimizer's spec"
        )
    if getattr(chosen, "whole_data", False):  # L-BFGS: its line search sets every step
        if config.lr is not None or (in_spec and isinstance(config.optimizer, str)):
            raise ConfigError(
                f"{name_of(config.optimizer).partition(':')[0]} sets each step's length by a "
                "line search; it takes no learning rate (leave --lr out)"
            )
        return spec_text(chosen) or config.optimizer, None, ""
    default_lr = type(chosen)().lr  # type: ignore[attr-defined]
    bare = spec_text(rebuilt(chosen, lr=default_lr))
    optimizer = bare if bare is not None else config.optimizer
    if config.lr is not None:
        return optimizer, float(config.lr), ""
    if in_spec:
        return optimizer, float(chosen.lr), ""  # type: ignore[attr-defined]
    activation = name_of(_canonical(Activation, config.activation))
    step = blog.SETTINGS.get(activation)
    if type(chosen) is SGD and isinstance(loss, MSE) and step is not None:
        lr = blog.mse_lr(step.blog_lr, config.batch_size, _outputs(target, domain))
        if lr == _blog_lr():
            return optimizer, lr, ""
        return (
            optimizer,
            lr,
            (
                f"lr {lr:g}: the blog's step for {activation}, L = {step.blog_lr:g}, as an MSE "
                f"rate (L x batch size {config.batch_size} / 2); pass --lr to choose"
            ),
        )
    name = name_of(optimizer)
    if type(chosen) is not SGD:
        why = "the blog's step is for sgd"
    elif not isinstance(loss, MSE):
        why = "the blog's step is for the mse loss"
    else:
        why = f"{activation.partition(':')[0]} has no blog step"
    return (
        optimizer,
        float(default_lr),
        (
            f"lr {default_lr:g}: {name.partition(':')[0]}'s default, since {why}; "
            "pass --lr to choose"
        ),
    )


def _outputs(target: Target, domain: tuple[float, float]) -> int:
    """How many outputs ``target`` gives, from one point in the middle of ``domain``."""
    middle = np.full((1, target.inputs), (domain[0] + domain[1]) / 2)
    with np.errstate(all="ignore"):
        return int(np.asarray(target(middle)).reshape(1, -1).shape[1])


@functools.cache
def _blog_lr() -> float:
    return blog.mse_lr(blog.SETTINGS["sigmoid"].blog_lr, blog.BATCH_SIZE)


@functools.cache
def blog_run() -> RunConfig:
    """The blog's own run, resolved: what every other run is described against."""
    return resolve(RunConfig()).config


def changes(config: RunConfig) -> dict[str, str]:
    """The settings of the resolved run ``config`` that differ from the blog's, as text, in
    declaration order: what a run is, beside the blog. Where files go is left out."""
    base = blog_run()
    shown: dict[str, str] = {}
    for name, declared in SETTINGS.items():
        if declared.group == "output" and name != "plugins":
            continue
        value = getattr(config, name)
        if value is None:
            continue  # a setting the run does not use (an optimizer that takes no rate)
        if name == "output_activation" and value == config.activation:
            continue  # the hidden one's, as the blog's is: said once, under activation
        if value != getattr(base, name):
            shown[name] = _show(value)
    return shown


def summary(config: RunConfig) -> str:
    """``changes`` as one line, ``key=value`` pairs as a sweep's grid writes them."""
    return " ".join(f"{name}={text}" for name, text in changes(config).items())


def _show(value: Any) -> str:
    """A setting's value as --grid and the flags write it: 8,8 for sizes, 0,6.28 for a domain."""
    if isinstance(value, tuple):
        return ",".join(_show(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return name_of(value) if not isinstance(value, int | str) else str(value)
