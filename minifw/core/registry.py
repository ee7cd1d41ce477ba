"""Name -> class look-up, filled in by subclassing.

Every concrete subclass of a component base (``Activation``, ``Initializer``,
``Loss``, ``Optimizer``, ``Schedule``, ``Target``) registers itself under its
``name`` class attribute, or under its class name in snake case, so a user's own
subclass is selectable by name (from a config or the command line) the moment it
is defined.

A registered component is plain data: its class's name and its constructor's
arguments, each kept under an attribute of the parameter's name (attrs does this
for an attrs class; a plain class does it by hand). ``constructor_arguments``
reads them back, for specs (``minifw.core.serialize``), reprs and copies.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import inspect
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import attrs

from .contract import Component, refusal
from .errors import ConfigError

T = TypeVar("T")


def snake_case(name: str) -> str:
    """``HeUniform`` -> ``he_uniform``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"name:a=1,b=x"`` -> ``("name", {"a": 1, "b": "x"})``; values are numbers or text.

    Values are read with ``int``/``float`` (and true/false/none), never evaluated.
    """
    name, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, equals, text = item.partition("=")
        if not equals or not key.strip().isidentifier():
            raise ConfigError(f"cannot read {item!r} in {spec!r}; expected name:key=value,...")
        params[key.strip()] = parse_value(text.strip())
    return name.strip(), params


def parse_value(text: str) -> Any:
    """A spec's value: true/false/none, an int, a float, else the text itself; never evaluated."""
    special = {"true": True, "false": False, "none": None}
    if text.lower() in special:
        return special[text.lower()]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


@functools.cache  # a class's signature does not change, and inspect takes ~40 µs to read it
def signature_of(cls: type) -> Mapping[str, inspect.Parameter]:
    """The parameters of ``cls(...)``, by name: ``inspect.signature(cls).parameters``."""
    return inspect.signature(cls).parameters


def parameter_names(cls: type) -> list[str]:
    """The keyword parameters ``cls(...)`` takes."""
    return [
        p.name
        for p in signature_of(cls).values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def constructor_arguments(obj: object) -> dict[str, Any]:
    """The arguments that build ``obj`` again, by parameter name: ``type(obj)(**them)``.

    Each parameter of the constructor is read from the attribute of its name; for a
    parameter that is an attrs field, from the field (``Dense`` takes ``bias=`` and keeps
    it as ``use_bias``; attrs strips the underscore of a private field). The same rule
    serves an attrs class, a plain class, and a plain subclass of an attrs class (a plain
    ``Optimizer`` with a parameter ``k`` of its own: lr and k, not the base's fields).
    Raises ConfigError for a parameter kept under no attribute of its name.
    """
    cls = type(obj)
    fields = {a.alias: a.name for a in attrs.fields(cls) if a.init} if attrs.has(cls) else {}
    values = {}
    for key in parameter_names(cls):
        attribute = fields.get(key, key)
        if not hasattr(obj, attribute):
            raise ConfigError(
                f"{cls.__name__} takes {key!r} but keeps no attribute of that name, so it "
                f"cannot be saved or rebuilt; store each argument under its own name "
                f"(self.{key} = {key}), or make it an attrs class"
            )
        values[key] = getattr(obj, attribute)
    return values


def _defined_at(cls: type) -> tuple[str, str]:
    """Where ``cls`` is defined. attrs rebuilds a class (for slots) and notebooks re-run
    cells: a class defined again at the same place is the same component, so an instance
    made before a cell was re-run keeps its name (and saves, and loads as the new class)."""
    return cls.__module__, cls.__qualname__


class Registry(Generic[T]):
    """The concrete classes of one kind of component, by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, type[T]] = {}
        self._aliases: dict[str, str] = {}  # another name -> the name it stands for

    def add(self, cls: type[T]) -> None:
        """Register ``cls`` under ``cls.name`` (its own, not inherited) or its snake-case name,
        and under each of its own ``aliases``, the names other libraries give it."""
        name = (cls.__dict__.get("name") or snake_case(cls.__name__)).lower()
        aliases = [alias.lower() for alias in cls.__dict__.get("aliases", ())]
        for taken in [name, *aliases]:
            old = self._classes.get(self._aliases.get(taken, taken))
            if old is not None and _defined_at(old) != _defined_at(cls):
                raise ConfigError(
                    f"{self.kind} name {taken!r} is taken by {old.__module__}.{old.__qualname__}; "
                    f"give {cls.__qualname__} a different `name` class attribute"
                )
        self._classes[name] = cls
        self._aliases.update(dict.fromkeys(aliases, name))

    def names(self) -> list[str]:
        """The names of the concrete (non-abstract) classes, sorted."""
        return sorted(n for n, c in self._classes.items() if not inspect.isabstract(c))

    def aliases_of(self, name: str) -> list[str]:
        """The other names that stand for ``name``, sorted: ``["linear"]`` for ``"identity"``."""
        return sorted(alias for alias, target in self._aliases.items() if target == name)

    def name_of(self, cls: type) -> str:
        """The name ``cls`` is registered under."""
        for name, registered in self._classes.items():
            if registered is cls or _defined_at(registered) == _defined_at(cls):
                return name
        raise ConfigError(f"{cls.__qualname__} is not a registered {self.kind}")

    def get(self, name: str) -> type[T]:
        """The class registered as ``name`` or an alias of it (case-insensitive)."""
        key = str(name).lower()
        cls = self._classes.get(self._aliases.get(key, key))
        if cls is not None and inspect.isabstract(cls):
            missing = ", ".join(sorted(cls.__abstractmethods__))
            raise ConfigError(
                f"{self.kind} {name!r} ({cls.__name__}) cannot be built: it does not "
                f"define {missing}"
            )
        if cls is None:
            names = self.names()
            # It may be one of the user's own, not loaded yet, even when a built-in name is
            # close ('gelu' is not a misspelt 'elu'): the hint is always given.
            guess = did_you_mean(key, [*names, *self._aliases])
            raise ConfigError(
                f"unknown {self.kind} {name!r}{PLUGIN_HINT}; "
                f"expected one of: {', '.join(names)}{guess}"
            )
        return cls


# Said whenever a name is unknown: the component may be one of the user's own, not yet loaded.
PLUGIN_HINT = " (a component of your own is named once its file is loaded: --plugin FILE)"


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """A hint naming the choices closest to a misspelt ``word``, or "" if none is close.

    The hint reads "; did you mean 'x'?". Every choice as close as the closest one
    is named: "beta" is as near to "beta1" as to "beta2".
    """
    close = difflib.get_close_matches(word, choices, n=max(len(choices), 1))
    if not close:
        return ""

    def score(choice: str) -> float:
        return difflib.SequenceMatcher(None, word, choice).ratio()

    best = sorted(choice for choice in close if score(choice) == score(close[0]))
    return f"; did you mean {' or '.join(map(repr, best))}?"


def unknown_parameters(what: str, unknown: Sequence[str], takes: Sequence[str]) -> str:
    """The one message for parameters a component does not take, wherever they were given
    (a spec string, a file's spec, a changed copy): "{what}: unknown parameter 'x'; it takes:
    a, b", with a guess at the first unknown one when one is close."""
    noun = "parameter" if len(unknown) == 1 else "parameters"
    return (
        f"{what}: unknown {noun} {', '.join(map(repr, unknown))}; "
        f"it takes: {', '.join(takes) or 'no parameters'}{did_you_mean(unknown[0], takes)}"
    )


class Registered(Component):
    """Mixin for a component family: concrete subclasses register themselves.

    A family's base sets ``registry = Registry("kind")`` and ``_family = "kind"`` in its
    own body; every subclass below it is added to that registry when the class is
    created, under its name and under the ``aliases`` it declares itself (Keras's and
    PyTorch's names for it, say: ``aliases = ("linear",)``), which are not inherited.

    The contract every registered family shares: the constructor names each of its
    parameters (no ``*args`` or ``**kwargs``, which a spec could not hold), and keeps
    each argument under an attribute of the parameter's name, so that the component
    saves, loads and prints as the call that made it. A plain class gets that repr
    from here; an attrs class writes its own.
    """

    registry: ClassVar[Registry[Any]]
    aliases: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "registry" not in cls.__dict__:  # a family's base opens the registry, others join it
            cls.registry.add(cls)

    @classmethod
    def _check_class(cls) -> None:
        unnamed = [
            str(p)
            for p in inspect.signature(cls).parameters.values()
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY)
        ]
        if unnamed:
            raise ConfigError(
                refusal(
                    cls,
                    f"takes {', '.join(unnamed)}; a component's constructor must name each "
                    "parameter, so that a spec (a saved file, a command line) can give it",
                )
            )

    def _check_built(self) -> None:
        constructor_arguments(self)  # every argument kept under its name, or ConfigError

    def __repr__(self) -> str:
        """``Name(param=value, ...)``: the call that builds this component again."""
        try:
            arguments = constructor_arguments(self)
        except ConfigError:
            return object.__repr__(self)
        listed = ", ".join(f"{key}={value!r}" for key, value in arguments.items())
        return f"{type(self).__name__}({listed})"

    @classmethod
    def resolve(cls: type[T], spec: T | str, **params: Any) -> T:
        """An instance from a spec string, built with ``params`` too, or an instance as is.

        A spec is a registered name, optionally with parameters after a colon:
        ``"leaky_relu"``, ``"leaky_relu:alpha=0.1"``, ``"adam:lr=0.01,beta1=0.8"``.
        """
        if isinstance(spec, str):
            name, spec_params = parse_spec(spec)
            component = cls.registry.get(name)  # type: ignore[attr-defined]
            try:
                return component(**spec_params, **params)
            except TypeError as error:
                what = f"{cls.registry.kind} {name!r}"  # type: ignore[attr-defined]
                takes = parameter_names(component)
                unknown = [key for key in [*spec_params, *params] if key not in takes]
                if unknown:
                    raise ConfigError(unknown_parameters(what, unknown, takes)) from None
                raise ConfigError(  # a parameter left out, or the class's own TypeError
                    f"bad parameters for {what}: {error}; it takes: "
                    f"{', '.join(takes) or 'no parameters'}"
                ) from None
        if not isinstance(spec, cls):
            raise ConfigError(
                f"expected a {cls.registry.kind} name or a {cls.__name__} instance; "  # type: ignore[attr-defined]
                f"got {spec!r}"
            )
        return spec


# Plugins ------------------------------------------------------------------------------


def load_plugin(path: Path) -> None:
    """Import the Python file at ``path``; its component classes register themselves."""
    spec = importlib.util.spec_from_file_location(f"minifw_plugin_{path.stem}", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise ConfigError(f"cannot load plugin {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise ConfigError(f"cannot load plugin {path}: {type(error).__name__}: {error}") from None


_LOADED: set[Path] = set()  # the plugin files this process has run


def load_plugins(paths: Iterable[str | Path]) -> None:
    """Run each plugin file once in this process, so the components it names are registered
    here: in the planning process and in every worker a group of runs goes to."""
    for path in map(Path, paths):
        if path.resolve() not in _LOADED:
            load_plugin(path)
            _LOADED.add(path.resolve())
