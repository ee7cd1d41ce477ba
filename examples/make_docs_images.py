"""Regenerate the figure the tutorial shows: docs/images/blog.png.

What it teaches: the blog's three graphs come from one library call,
``minifw.plotting.blog_figure``, and ``save_figure`` writes them without a
display (no pyplot, no window), so the same code works on a server or in CI.

Run it from anywhere after changing the library or the tutorial's run::

    python examples/make_docs_images.py              # writes docs/images/blog.png
    python examples/make_docs_images.py --out /tmp   # writes /tmp/blog.png instead

The figure is the default sigmoid run of ``minifw.presets.blog``, seed 0, the
run docs/index.md trains in sections 1 and 2.
"""

import argparse
from pathlib import Path

from minifw import presets
from minifw.plotting import blog_figure, save_figure

DOCS_IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"


def main(argv=None):
    parser = argparse.ArgumentParser(description="Regenerate docs/images/blog.png.")
    parser.add_argument("--epochs", type=int, default=presets.EPOCHS, help="default: %(default)s")
    parser.add_argument(
        "--out",
        type=Path,
        default=DOCS_IMAGES,
        help="directory to write blog.png into (default: the repository's docs/images)",
    )
    args = parser.parse_args(argv)

    run = presets.blog("sigmoid", seed=0)
    result = run.fit(args.epochs)
    title = (
        f"minifw, the blog's sigmoid network (seed 0): {result.epochs} epochs, "
        f"final loss {result.final_loss:.4g}, evaluation MSE {run.evaluation_mse():.4g}"
    )
    figure = blog_figure(run.network, run.source, result.loss, title=title)
    args.out.mkdir(parents=True, exist_ok=True)
    path = save_figure(figure, args.out / "blog.png")
    print(f"{title}\nwrote {path}")


if __name__ == "__main__":
    main()
