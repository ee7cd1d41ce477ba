"""The lab's controls, derived from the run's declaration, and the values a page sends back.

``controls()`` describes every setting of ``RunConfig`` (``minifw.run.config.SETTINGS``)
as a control for the page: its kind, help, default, bounds, choices, and for a
component the names its family has registered, plugins' included. A new setting
appears in the lab with no lab code; only the settings in ``LAB_OWN`` (files,
the terminal, plugins) are left out, each with the reason.

``read_values(texts)`` reads what the page sends, ``{name: text}``, through the
same parser as the command line (``parse_text``) and the same checks, adds the
lab's ``LIMITS``, and gives the RunConfig or an error per control. Nothing
typed on the page is evaluated but through the expression whitelist.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import numpy as np

from ...core.errors import ConfigError
from ...core.registry import Registered
from ...core.targets import target_from
from ...run.config import SETTINGS, RunConfig, parse_text
from ...run.resolve import resolve

# Settings the page does not offer, and why: the lab draws, saves and records by itself.
LAB_OWN: dict[str, str] = {
    "plot": "the page downloads the figure",
    "no_plot": "the page always draws",
    "figure": "the page shows the overview",
    "animate": "the page downloads the film",
    "frames": "the page downloads the film",
    "frame_spacing": "the page downloads the film",
    "describe": "the terminal's",
    "progress": "the terminal's",
    "plugins": "plugins come only from the command line: minifw lab --plugin FILE",
    "save_model": "the page downloads the model",
    "checkpoint": "the page trains from scratch",
    "checkpoint_every": "the page trains from scratch",
    "resume": "the page trains from scratch",
    "runs_dir": "minifw lab --runs-dir chooses where pinned runs are recorded",
    "record": "pinned runs are recorded",
    "metrics": "the page draws the error",
}

# What one page may ask of the machine: a run of the lab trains in seconds, not hours.
LIMITS: dict[str, int] = {
    "epochs": 20_000,
    "samples": 2_000,
    "units": 256,  # per hidden layer
    "layers": 6,  # hidden layers
    "batch_size": 2_000,
    "seeds": 16,
}
RESOLUTION = 200  # points across the domain in each curve the page draws


def families() -> dict[str, type[Registered]]:
    """Each component family's base class by its registry's kind ("activation", ...)."""

    def below(cls: type) -> Iterator[type]:
        for sub in cls.__subclasses__():
            yield sub
            yield from below(sub)

    return {c.registry.kind: c for c in below(Registered) if "registry" in c.__dict__}  # type: ignore[attr-defined]


def value_text(value: Any) -> str:
    """A setting's value as the page shows it in a text box: what ``parse_text`` reads."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(map(value_text, value))
    if isinstance(value, float):
        return repr(value)
    return str(value)


def controls() -> list[dict[str, Any]]:
    """A control for each setting the page offers, in declaration order, as JSON-safe dicts."""
    default = RunConfig()
    kinds = families()
    described = []
    for name, declared in SETTINGS.items():
        if name in LAB_OWN:
            continue
        control = {
            "name": name,
            "group": declared.group,
            "kind": declared.kind,
            "help": declared.help,
            "default": value_text(getattr(default, name)),
            "optional": declared.optional,
            "choices": list(declared.choices),
            "low": declared.low,
            "strict": declared.strict,
            "high": declared.high,
            "limit": LIMITS.get(name),
        }
        if declared.family in kinds:
            control["choices"] = kinds[declared.family].registry.names()
        described.append(control)
    return described


def _limit_problems(values: Mapping[str, Any], seeds: Any) -> dict[str, str]:
    problems = {}
    for name in ("epochs", "samples", "batch_size"):
        if isinstance(values.get(name), int) and values[name] > LIMITS[name]:
            problems[name] = f"at most {LIMITS[name]} in the lab; got {values[name]}"
    layers = values.get("layers")
    if isinstance(layers, tuple) and len(layers) > LIMITS["layers"]:
        problems["layers"] = (
            f"at most {LIMITS['layers']} hidden layers in the lab; got {len(layers)}"
        )
    elif isinstance(layers, tuple) and max(layers) > LIMITS["units"]:
        problems["layers"] = (
            f"at most {LIMITS['units']} units a layer in the lab; got {max(layers)}"
        )
    if not isinstance(seeds, int) or isinstance(seeds, bool) or not 1 <= seeds <= LIMITS["seeds"]:
        problems["seeds"] = f"a whole number from 1 to {LIMITS['seeds']}; got {seeds!r}"
    return problems


def _component_problem(name: str, value: Any) -> str | None:
    """Why a component spec from the page builds nothing, or None."""
    family = SETTINGS[name].family
    try:
        if family == "target":
            target = target_from(value)
            if target.inputs != 1:
                return (
                    f"the lab draws targets of one input; this one has {target.inputs} "
                    "(train it with minifw train, whose figure is a heat map)"
                )
        elif family in families():
            families()[family].resolve(value)
    except ConfigError as error:
        return str(error)
    return None


def blame(message: str, names: Any) -> str:
    """The setting a message is about: the first of ``names`` it mentions, else "run"."""
    for name in names:
        if re.search(rf"(?<![\w-])(--)?{name.replace('_', '[-_]')}(?![\w-])", message):
            return name
    return "run"


def read_values(
    texts: Mapping[str, Any], seeds: Any = 1, *, base: RunConfig | None = None
) -> tuple[RunConfig | None, dict[str, str]]:
    """The run the page asks for: ``base`` (the lab's own settings) with each setting in
    ``texts`` ({name: text}) read as the command line reads it; or None and the problems,
    {control name: message}. An empty text leaves an optional setting unset."""
    problems: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, text in texts.items():
        if name not in SETTINGS or name in LAB_OWN:
            why = LAB_OWN.get(name, "no setting of a run has this name")
            problems[str(name)] = f"not a control of the lab: {why}"
            continue
        if not isinstance(text, str):
            problems[name] = f"expected text; got {type(text).__name__}"
            continue
        try:
            values[name] = (
                None if not text.strip() and SETTINGS[name].optional else parse_text(name, text)
            )
        except ConfigError as error:
            problems[name] = str(error).removeprefix(f"{name}: ").removeprefix(f"{name} ")
            continue
        if SETTINGS[name].kind == "component" and values[name] is not None:
            problem = _component_problem(name, text)
        else:
            problem = None
        if problem:
            problems[name] = problem
    problems.update(_limit_problems(values, seeds))
    if problems:
        return None, problems
    try:
        config = attrs.evolve(base or RunConfig(), **values)
        resolve(config)
    except ConfigError as error:
        return None, {blame(str(error), SETTINGS): str(error)}
    return config, {}


def target_curve(text: Any, domain_text: Any = "") -> dict[str, Any]:
    """The target a formula (or name) gives across its domain, for the page to draw as it is
    typed: {"x": [...], "y": [...]}, or {"error": message} for text that is not a target."""
    if not isinstance(text, str) or not isinstance(domain_text, str):
        return {"error": "expected the formula and the domain as text"}
    if problem := _component_problem("target", text):
        return {"error": problem}
    target = target_from(text)
    try:
        domain = parse_text("domain", domain_text) if domain_text.strip() else target.domain
    except ConfigError as error:
        return {"error": str(error)}
    x = np.linspace(domain[0], domain[1], RESOLUTION)[:, None]
    try:
        with np.errstate(all="ignore"):
            y = target(x)[:, 0]
    except ConfigError as error:
        return {"error": str(error)}
    return {"x": finite_list(x[:, 0]), "y": finite_list(y)}


def finite_list(values: Any) -> list[float | None]:
    """Numbers as JSON takes them: a non-finite one as null, which the charts leave as a gap."""
    return [v if math.isfinite(v) else None for v in np.asarray(values, dtype=float).tolist()]
