"""Name -> class look-up, filled in by subclassing.

Every concrete subclass of a component base (``Activation``, ``Initializer``,
``Loss``, ``Optimizer``) registers itself under its ``name`` class attribute, or
under its class name in snake case, so a user's own subclass is selectable by
name (from a config or the command line) the moment it is defined.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, ClassVar, Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def snake_case(name: str) -> str:
    """``HeUniform`` -> ``he_uniform``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


class Registry(Generic[T]):
    """The concrete classes of one kind of component, by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, type[T]] = {}

    def add(self, cls: type[T]) -> None:
        """Register ``cls`` under ``cls.name`` (its own, not inherited) or its snake-case name."""
        name = (cls.__dict__.get("name") or snake_case(cls.__name__)).lower()
        old = self._classes.get(name)
        # attrs rebuilds a class (slots) and notebooks re-run cells: the same class again is fine.
        if old is not None and (old.__module__, old.__qualname__) != (
            cls.__module__,
            cls.__qualname__,
        ):
            raise ConfigError(
                f"{self.kind} name {name!r} is taken by {old.__module__}.{old.__qualname__}; "
                f"give {cls.__qualname__} a different `name` class attribute"
            )
        self._classes[name] = cls

    def names(self) -> list[str]:
        """The names of the concrete (non-abstract) classes, sorted."""
        return sorted(n for n, c in self._classes.items() if not inspect.isabstract(c))

    def get(self, name: str) -> type[T]:
        """The class registered as ``name`` (case-insensitive)."""
        cls = self._classes.get(str(name).lower())
        if cls is None or inspect.isabstract(cls):
            raise ConfigError(
                f"unknown {self.kind} {name!r}; expected one of: {', '.join(self.names())}"
            )
        return cls


class Registered:
    """Mixin for a component family: concrete subclasses register themselves.

    A family's base sets ``registry = Registry("kind")`` in its own body; every
    subclass below it is added to that registry when the class is created.
    """

    registry: ClassVar[Registry[Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "registry" not in cls.__dict__:  # a family's base opens the registry, others join it
            cls.registry.add(cls)

    @classmethod
    def resolve(cls: type[T], spec: T | str, **params: Any) -> T:
        """An instance from a registered name (built with ``params``) or an instance as is."""
        if isinstance(spec, str):
            return cls.registry.get(spec)(**params)  # type: ignore[attr-defined]
        if not isinstance(spec, cls):
            raise ConfigError(
                f"expected a {cls.registry.kind} name or a {cls.__name__} instance; "  # type: ignore[attr-defined]
                f"got {spec!r}"
            )
        return spec
