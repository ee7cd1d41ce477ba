"""One command regenerates every figure the docs show, and nothing else."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
IMAGE = re.compile(r"!\[[^\]]*\]\((?:\.\./)*images/([^)\s]+)\)")


def shown():
    """Every image name a docs page shows from docs/images."""
    return {name for page in DOCS.rglob("*.md") for name in IMAGE.findall(page.read_text())}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "docs_figures.py"), "--epochs", "20", "--out",
         str(out)],
        capture_output=True, text=True, timeout=300, cwd=out,
        env=os.environ | {"MPLBACKEND": "Agg"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def test_every_image_the_docs_show_is_made_by_the_one_command(written):
    made = {path.name for path in written.iterdir()}
    assert shown() <= made, sorted(shown() - made)
    assert made <= shown(), sorted(made - shown())  # nothing drawn that no page shows


def test_every_image_the_docs_show_is_in_the_repository():
    assert all((DOCS / "images" / name).is_file() for name in shown())
