"""The extension contract: what a subclass of a component family must provide, checked early.

Each family's base (``Activation``, ``Initializer``, ``Loss``, ``Optimizer``,
``Schedule``, ``Target``, ``Callback``, ``DataSource``, ``Layer``) says in its
docstring what a subclass must define and what it may leave to defaults, and
checks it at two moments, so that a mistake is reported where it is made, naming
the class and the missing or wrong piece, rather than as an AttributeError deep
inside training:

- when the class is defined (``__init_subclass__``): the family's ``_check_class``
  (an activation's ``output_range``, an optimizer's ``update``, a callback's hooks);
- when an instance of a plain (not attrs) class is first built: its ``__init__`` is
  wrapped so that, once the outermost ``__init__`` has returned, the family's
  ``_check_built`` runs (an optimizer that never called ``super().__init__``, a
  parameter kept under no attribute of its name). An attrs class needs no such check:
  attrs stores every argument and runs the base's ``__init__`` itself.

A class that leaves an abstract method undefined is an intermediate base: it is not
checked (its concrete subclasses are), and Python refuses to build it, naming the
method; a registry refuses its name with a ConfigError that names the method too.
``minifw.testing`` checks what cannot be seen without running a component.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from numbers import Real
from typing import Any, ClassVar

import attrs

from .errors import ConfigError
from .validation import is_a


def abstract_methods(cls: type) -> list[str]:
    """The abstract methods ``cls`` leaves undefined, worked out as ``abc`` does.

    ``__init_subclass__`` runs before ``abc`` sets ``__abstractmethods__`` on the new
    class, so the set is computed here from the bases' and the class's own methods.
    """
    names = {name for base in cls.__bases__ for name in getattr(base, "__abstractmethods__", ())}
    names.update(n for n, v in cls.__dict__.items() if getattr(v, "__isabstractmethod__", False))
    return sorted(n for n in names if getattr(getattr(cls, n, None), "__isabstractmethod__", False))


class Component:
    """Mixin of every family's base: the family's contract, checked on each subclass.

    A family's base sets ``_family`` (``"activation"``) in its own body, and overrides
    ``_check_class`` and ``_check_built`` to refuse what breaks its contract with a
    ConfigError naming the class; its subclasses are then checked as described in
    ``minifw.core.contract``.
    """

    _family: ClassVar[str] = "component"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_family" in cls.__dict__:  # the family's base itself: it sets the contract
            return
        _check_when_built(cls)
        if not abstract_methods(cls):
            cls._check_class()

    @classmethod
    def _check_class(cls) -> None:
        """Refuse (ConfigError) a concrete subclass whose definition breaks the contract."""

    def _check_built(self) -> None:
        """Refuse (ConfigError) a newly built instance of a plain class that breaks it."""


def _check_when_built(cls: type[Component]) -> None:
    """Wrap a plain class's own ``__init__`` so that ``_check_built`` follows the outermost one.

    Not an attrs class's: its generated ``__init__`` keeps every argument, and the
    class is a new one (``__attrs_attrs__`` in its body) when attrs makes it slotted.
    ``functools.wraps`` keeps the signature, which names the parameters a spec holds.
    """
    init = cls.__dict__.get("__init__")
    if init is None or "__attrs_attrs__" in cls.__dict__ or hasattr(init, "__wrapped__"):
        return

    @functools.wraps(init)
    def checked_init(self: Component, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if type(self).__init__ is checked_init:  # not when a subclass's __init__ called it
            self._check_built()

    cls.__init__ = checked_init  # type: ignore[method-assign]


def refusal(cls: type, problem: str) -> str:
    """The message for a class that breaks its family's contract: ``"<family> <Class>
    <problem>"``, for a ConfigError."""
    family = getattr(cls, "_family", "component")
    return f"{family} {cls.__name__} {problem}"


def overrides(cls: type, base: type, name: str) -> bool:
    """Whether ``cls`` has a ``name`` of its own, or from a class between it and ``base``."""
    return getattr(cls, name, None) is not getattr(base, name, None)


def checked_range(value: Any, what: str, *, finite: bool = False) -> tuple[float, float]:
    """``value`` as (low, high), two numbers with low < high, none NaN (and both finite if
    ``finite``); else ConfigError whose message starts with ``what``."""
    ok = isinstance(value, tuple | list) and len(value) == 2
    if ok:
        low, high = value
        ok = all(is_a(v, Real) for v in (low, high))
        ok = ok and not (math.isnan(low) or math.isnan(high)) and low < high
        ok = ok and (not finite or (math.isfinite(low) and math.isfinite(high)))
    if not ok:
        sides = "two finite numbers" if finite else "two numbers (math.inf for an open side)"
        raise ConfigError(f"{what} must be {sides} (low, high) with low < high; got {value!r}")
    return float(value[0]), float(value[1])


def check_class_value(
    cls: type, name: str, check: Callable[[Any, str], Any], *, missing: str | None = None
) -> None:
    """Check the class attribute ``name`` of ``cls`` with ``check(value, what)`` if it is a
    plain value; a property or an attrs field is read from instances instead.

    If ``cls`` has no ``name`` at all and no class below the family's base annotates it
    (to set it on each instance), ``missing``, if given, is the ConfigError's problem.
    """
    value = inspect.getattr_static(cls, name, _MISSING)
    if value is _MISSING:
        if missing is not None and not _declared_below_base(cls, name):
            raise ConfigError(refusal(cls, missing))
        return
    # A property, a slot or an attrs field (before attrs has made the class) is per instance.
    if not (inspect.isdatadescriptor(value) or isinstance(value, _ATTRS_FIELD)):
        check(value, f"{cls.__name__}.{name}")


_MISSING = object()
_ATTRS_FIELD = type(attrs.field())  # what attrs.field() leaves in a class body


def _declared_below_base(cls: type, name: str) -> bool:
    """Whether a class below the family's base annotates ``name`` (set on each instance)."""
    for klass in cls.__mro__:
        if "_family" in vars(klass):
            return False
        if name in vars(klass).get("__annotations__", {}):
            return True
    return False
