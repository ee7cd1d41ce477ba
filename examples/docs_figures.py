"""Regenerate every figure the documentation shows: the gallery, each chapter's, the lab's.

What it teaches: nothing new; it is the one command that keeps the pictures in
docs/ true to the code. It runs ``examples/gallery.py`` and then every module in
``examples/chapters/``, each of which draws the figures of one docs page with
``make(out, epochs)`` and returns the paths it wrote. Last, the lab's screenshots
(docs/lab.md): the lab's browser tests take them as they go (tests/test_lab_browser.py,
which needs playwright and /usr/bin/chromium), run here with MINIFW_LAB_SCREENSHOTS.

    python examples/docs_figures.py                      # into docs/images
    python examples/docs_figures.py --epochs 30 --out /tmp/figures   # quick, elsewhere
"""

import argparse
import importlib
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS_IMAGES = HERE.parent / "docs" / "images"


def chapters():
    """The chapter modules in examples/chapters, by name."""
    sys.path.insert(0, str(HERE))
    names = sorted(p.stem for p in (HERE / "chapters").glob("*.py") if p.stem != "__init__")
    return [importlib.import_module(f"chapters.{name}") for name in names]


def lab_screenshots(out):
    """The lab's screenshots, lab-*.png in ``out``, taken by its browser tests."""
    tests = HERE.parent / "tests" / "test_lab_browser.py"
    env = {**os.environ, "MINIFW_LAB_SCREENSHOTS": str(out), "MINIFW_REQUIRE_BROWSER": "1"}
    subprocess.run([sys.executable, "-m", "pytest", "-q", str(tests)], env=env, check=True)
    return sorted(Path(out).glob("lab-*.png"))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Regenerate every figure in docs/.")
    parser.add_argument("--epochs", type=int, default=None, help="cut every run to N epochs")
    parser.add_argument("--out", type=Path, default=DOCS_IMAGES, help="default: docs/images")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    import gallery

    gallery.main([*(["--epochs", str(args.epochs)] if args.epochs else []), "--out", str(args.out)])
    for chapter in chapters():
        for path in chapter.make(args.out, args.epochs):
            print(f"wrote {path}")
    for path in lab_screenshots(args.out):
        print(f"wrote {path}")
    print(f"all figures done in {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
