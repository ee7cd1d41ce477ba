"""One command regenerates every figure the docs show, and nothing else."""

import contextlib
import io
import sys
from pathlib import Path

import matplotlib
import pytest
from helpers import IMAGE

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def shown():
    """Every image name a docs page shows from docs/images."""
    targets = [t for page in DOCS.rglob("*.md") for t in IMAGE.findall(page.read_text())]
    return {Path(t).name for t in targets if "images/" in t and "://" not in t}


def gallery_images():
    """The images docs/gallery.md shows: what examples/gallery.py writes (test_gallery.py
    runs it and checks that it writes exactly these)."""
    text = (DOCS / "gallery.md").read_text(encoding="utf-8")
    return [t.removeprefix("images/") for t in IMAGE.findall(text) if t.startswith("images/")]


def lab_images():
    """The screenshots docs/lab.md shows, which the lab's browser tests take."""
    text = (DOCS / "lab.md").read_text(encoding="utf-8")
    return [t.removeprefix("images/") for t in IMAGE.findall(text) if t.startswith("images/")]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """examples/docs_figures.py run as its command line asks, here in this process, every run
    cut to 20 epochs. Its first step, examples/gallery.py, is the script test_gallery.py runs
    and checks in full; here it only notes how it was called and writes the images that
    test holds it to, so that the gallery is not drawn twice."""
    matplotlib.use("Agg")
    out = tmp_path_factory.mktemp("figures")
    sys.path.insert(0, str(ROOT / "examples"))
    import docs_figures
    import gallery

    called = []

    def gallery_main(argv):
        called.append(argv)
        for name in gallery_images():
            (out / name).write_bytes(b"")

    # The lab's screenshots come from its browser tests, run whole in test_lab_browser.py
    # (which checks that they take exactly the ones docs/lab.md shows): here, noted only.
    def lab_screenshots(where):
        called.append(where)
        paths = [out / name for name in lab_images()]
        for path in paths:
            path.write_bytes(b"")
        return paths

    real, gallery.main = gallery.main, gallery_main
    real_lab, docs_figures.lab_screenshots = docs_figures.lab_screenshots, lab_screenshots
    try:
        with contextlib.chdir(out), contextlib.redirect_stdout(io.StringIO()):
            docs_figures.main(["--epochs", "20", "--out", str(out)])
    finally:
        gallery.main = real
        docs_figures.lab_screenshots = real_lab
    assert called == [["--epochs", "20", "--out", str(out)], out]
    return out


def test_every_image_the_docs_show_is_made_by_the_one_command(written):
    made = {path.name for path in written.iterdir()}
    assert shown() <= made, sorted(shown() - made)
    assert made <= shown(), sorted(made - shown())  # nothing drawn that no page shows


def test_every_image_the_docs_show_is_in_the_repository():
    assert all((DOCS / "images" / name).is_file() for name in shown())
