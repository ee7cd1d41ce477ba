"""Components as plain data: ``to_spec(Adam(lr=0.01))`` -> ``{"name": "adam", "lr": 0.01, ...}``.

A spec is a dict holding the registered ``name`` of a component's class and
every argument it was built with (all of them, defaults included: a file
written today then means the same thing to a later minifw whose defaults have
changed). Values are JSON- and TOML-safe: finite floats, ints, bools, strings,
None, lists of those, and nested specs for components held by components (an
optimizer's schedule). ``from_spec(Optimizer, spec)`` rebuilds the component
through its family's registry, so nothing but a registered class is ever built.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any, TypeVar

import attrs
import numpy as np

from .errors import ConfigError
from .registry import (
    Registered,
    constructor_arguments,
    parameter_names,
    signature_of,
    unknown_parameters,
)

R = TypeVar("R", bound=Registered)
T = TypeVar("T")


def to_spec(component: Registered) -> dict[str, Any]:
    """``{"name": registered name, **every constructor argument}`` of a registered component.

    The arguments are exactly the constructor's parameters, each read from the attribute
    of its name (or the attrs field it is), for an attrs class and a plain class alike.
    Raises ConfigError for a class that is not registered, a parameter kept under no
    attribute, or a value that has no plain-data form (an array, say).
    """
    cls = type(component)
    registry = getattr(cls, "registry", None)
    if registry is None:
        raise ConfigError(f"{cls.__qualname__} is not a registered component; it has no spec")
    return {"name": registry.name_of(cls), **arguments(component)}


def arguments(obj: object) -> dict[str, Any]:
    """The constructor arguments that rebuild ``obj``, as plain data, by parameter name.

    Exactly the constructor's parameters (``registry.constructor_arguments``), whether
    ``obj``'s class is an attrs class or a plain one. Also for objects that are not
    registered (a ``Dense`` layer), whose class the caller records by other means.
    """
    where = type(obj).__qualname__
    return {
        key: plain(value, f"{where}.{key}") for key, value in constructor_arguments(obj).items()
    }


def rebuilt(component: T, **changes: Any) -> T:
    """A new ``component`` of the same class, built from its arguments with ``changes``:
    ``rebuilt(Adam(lr=0.01), lr=0.1)``. ``attrs.evolve`` for any component, attrs or not;
    ConfigError for a change its constructor does not take."""
    values = constructor_arguments(component)
    unknown = [key for key in changes if key not in values]
    if unknown:
        raise ConfigError(unknown_parameters(type(component).__qualname__, unknown, list(values)))
    return type(component)(**{**values, **changes})


def comparable(value: Any) -> Any:
    """``value`` as two components are compared: a registered component as its spec, when it
    has one (specs, not objects: a plain class's instances are never equal, and an
    optimizer's state is no part of what it is); anything else as it is."""
    if isinstance(value, Registered):
        try:
            return to_spec(value)
        except ConfigError:
            return value
    return value


def plain(value: Any, where: str) -> Any:
    """``value`` as data a spec can hold: finite numbers, text, booleans, None, lists of them,
    and registered components as their specs. Anything else is a ConfigError naming ``where``.
    """
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        if not math.isfinite(value):
            raise ConfigError(f"{where} is {value!r}; a spec holds finite numbers only")
        return float(value)
    if isinstance(value, Registered):
        return to_spec(value)
    if isinstance(value, list | tuple):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ConfigError(
        f"{where} is {value!r}, which a spec cannot hold: only numbers, text, booleans, "
        "None, lists of them and registered components"
    )


def from_spec(base: type[R], spec: Mapping[str, Any]) -> R:
    """The component of family ``base`` that ``spec`` describes: ``registry.get(name)(**rest)``.

    Nested specs (dicts with a ``name``) are built too, in the family their
    parameter's annotation names (``schedule: Schedule | None`` -> ``Schedule``);
    lists become tuples. Raises ConfigError naming the bad key: a missing or
    unknown name, an unknown or missing parameter, or a value a validator refuses.
    """
    kind = base.registry.kind
    if not isinstance(spec, Mapping):
        raise ConfigError(f"a {kind} spec must be a table with a 'name' key; got {spec!r}")
    name = spec.get("name")
    if not isinstance(name, str):
        raise ConfigError(f"a {kind} spec needs 'name', the {kind}'s registered name; got {spec!r}")
    cls = base.registry.get(name)
    params = {k: v for k, v in spec.items() if k != "name"}
    return build(cls, params, f"{kind} {name!r}")


def build(
    cls: type[Any],
    params: Mapping[str, Any],
    where: str,
    families: Mapping[str, type[Registered]] | None = None,
) -> Any:
    """``cls(**params)`` with nested specs built first, or ConfigError naming ``where`` and the key.

    ``families`` names the family of a parameter whose annotation does not
    (``{"f": Target}`` for a FunctionSource's function).
    """
    accepted = parameter_names(cls)
    unknown = [key for key in params if key not in accepted]
    if unknown:
        raise ConfigError(unknown_parameters(where, unknown, accepted))
    signature = signature_of(cls)
    missing = [
        key
        for key, p in signature.items()
        if p.default is p.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and key not in params
    ]
    if missing:
        raise ConfigError(f"{where}: missing parameter(s) {', '.join(map(repr, missing))}")
    values = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            family = (families or {}).get(key) or _family(
                _annotation(cls, key), f"{where}: {key!r}"
            )
            try:
                value = from_spec(family, value)
            except ConfigError as error:
                raise ConfigError(f"{where}: {key!r}: {error}") from None
        values[key] = _tuples(value)
    try:
        return cls(**values)
    except TypeError as error:  # what a class's own checks raise for a wrong kind of value
        raise ConfigError(f"{where}: {error}") from None


def _tuples(value: Any) -> Any:
    """Lists, at any depth, as tuples: value objects hold tuples (and stay hashable)."""
    return tuple(map(_tuples, value)) if isinstance(value, list) else value


def component_families() -> list[type[Registered]]:
    """Every component family: the classes that open a registry (Activation, Optimizer, ...)."""
    found, todo = [], [Registered]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls is not Registered and "registry" in cls.__dict__:
            found.append(cls)
    return found


def _annotation(cls: type, key: str) -> Any:
    """The annotation of ``cls``'s parameter ``key``: an attrs field's own type, if it is one,
    else the constructor's (a plain class's own parameter).

    (attrs gives a parameter with a converter the converter's annotation instead.)
    """
    if attrs.has(cls):
        for field in attrs.fields(cls):
            if field.init and field.alias == key:
                return field.type
    return inspect.signature(cls).parameters[key].annotation


def _family(annotation: Any, where: str) -> type[Registered]:
    """The one family whose base class ``annotation`` names, or ConfigError.

    Annotations are often strings (``from __future__ import annotations``); the
    family is found by the words in them, so no annotation is ever evaluated.
    """
    words = set(re.findall(r"\w+", str(annotation)))
    matches = [f for f in component_families() if f.__name__ in words]
    if len(matches) != 1:
        raise ConfigError(
            f"{where} is a table, but its parameter's annotation ({annotation}) names "
            f"{'no' if not matches else 'more than one'} component family to build it in"
        )
    return matches[0]


def spec_text(component: Registered) -> str | None:
    """The spec text that builds ``component`` again, naming only the arguments that differ
    from their defaults: ``LeakyReLU(alpha=0.2)`` -> ``"leaky_relu:alpha=0.2"``. None if it
    has none: an unregistered class, an argument with no plain form, a comma or a nested
    component in a value, or a class that is not built again as it was."""
    try:
        spec = to_spec(component)
    except ConfigError:
        return None
    name = spec.pop("name")
    defaults = {
        p.name: p.default
        for p in signature_of(type(component)).values()
        if p.default is not inspect.Parameter.empty
    }
    changed = {k: v for k, v in spec.items() if k not in defaults or plain(defaults[k], k) != v}
    if any(isinstance(v, dict | list) or "," in str(v) for v in changed.values()):
        return None
    text = name + (":" + ",".join(f"{k}={v}" for k, v in changed.items()) if changed else "")
    try:  # specs, not the objects, are compared: an optimizer with state never equals another
        return text if to_spec(type(component).resolve(text)) == {"name": name, **spec} else None
    except ConfigError:
        return None
