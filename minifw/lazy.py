"""Lazy re-exports: a package's public names, each imported the first time it is used.

``minifw`` and ``minifw.lab.plotting`` both list their public names in a table and
load a name's module only when the name is first asked for (PEP 562), so
``import minifw`` loads neither numpy nor matplotlib, and ``minifw --help`` pays
only for what it touches.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, tuple[str, ...]], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for ``package``, whose ``exports`` map a
    submodule (relative, dotted) to the names it defines. A name found once is stored in the
    package's ``namespace``, so later lookups are plain attribute reads."""
    home = {name: module for module, names in exports.items() for name in names}
    public = sorted(home)

    def get(name: str) -> Any:
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{home[name]}", package), name)
        namespace[name] = value
        return value

    def names() -> list[str]:
        return public

    return get, names, public
