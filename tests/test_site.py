"""The documentation site: ``mkdocs build --strict`` passes, with the generated references."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from minifw.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ | {"NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr  # strict: any warning (a broken link) fails
    return out


def test_the_command_line_reference_is_the_parsers_help(site):
    page = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    subcommands = next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices)
    for name in subcommands.choices:
        assert f"minifw {name}" in page
    for flag in ("--plot-domain", "--animate", "--grid", "--scheduler", "--dtype", "--resume"):
        assert flag in page, flag


def test_the_api_reference_holds_every_public_class(site):
    import minifw

    page = (site / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    classes = [name for name in minifw.__all__ if name[:1].isupper() and name != "EXPORTS"]
    missing = [name for name in classes if not re.search(rf'id="minifw\.[\w.]*\b{name}"', page)]
    assert not missing, missing
