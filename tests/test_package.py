"""The package: every public name reachable from ``minifw``, and ``import minifw`` cheap."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import minifw


def test_import_minifw_loads_nothing_until_a_name_is_used():
    code = (
        "import sys, minifw\n"
        "heavy = ['numpy', 'attrs', 'matplotlib', 'tqdm', 'minifw.core.network']\n"
        "print([m for m in heavy if m in sys.modules])\n"
        "minifw.Network\n"
        "print(sorted(m for m in ('numpy', 'minifw.core.network', 'matplotlib', 'tqdm') "
        "if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = out.stdout.splitlines()
    assert before == "[]"
    assert (
        after == "['minifw.core.network', 'numpy']"
    )  # using Network loads its module, not matplotlib


@pytest.mark.parametrize("name", minifw.__all__)
def test_every_public_name_resolves_to_what_its_module_defines(name):
    value = getattr(minifw, name)
    module = next((m for m, names in minifw.EXPORTS.items() if name in names), None)
    if module is not None:
        assert value is getattr(importlib.import_module(f"minifw.{module}"), name)
        assert getattr(value, "__module__", f"minifw.{module}") == f"minifw.{module}"


def test_a_function_is_not_shadowed_by_a_module_of_its_name():
    importlib.import_module("minifw.lab.stacking")
    importlib.import_module("minifw.lab.sweeps")
    assert callable(minifw.stack) and callable(minifw.sweep) and callable(minifw.unstack)
    # No public name may be a module's name as well: importing that module would rebind it.
    module_names = {path.stem for path in Path(minifw.__file__).parent.glob("*.py")}
    public = {n for names in minifw.EXPORTS.values() for n in names}
    assert not module_names & public


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'minifw' has no attribute 'Dens'"):
        minifw.Dens  # noqa: B018
    assert "Dense" in dir(minifw) and sorted(dir(minifw)) == sorted(minifw.__all__)
