"""One command regenerates every figure the docs show, and nothing else."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import IMAGE

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def shown():
    """Every image name a docs page shows from docs/images."""
    targets = [t for page in DOCS.rglob("*.md") for t in IMAGE.findall(page.read_text())]
    return {Path(t).name for t in targets if "images/" in t and "://" not in t}


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
