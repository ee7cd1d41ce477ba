"""Reproduce the blog "A Neural Network in Python, Part 2" in a few lines.

What it teaches: ``minifw.presets.blog`` is the blog's whole experiment (data,
2-5-1 network, trainer); ``fit`` trains it, ``stats_line`` prints the blog's
closing line, and ``evaluation_mse`` checks the network on points it never saw,
in sin's own units. The three graphs go to DIR/blog.png.

Run it::

    python examples/blog.py                      # the blog: sigmoid, 3000 epochs
    python examples/blog.py --activation tanh    # the blog's commented-out choice
    python examples/blog.py --epochs 300 --out /tmp

Then try the knobs in ``minifw train --help``, or open this file and change one
argument of ``presets.blog`` (hidden=10, batch_size=8, bias=False, seed=1 ...).
"""

import argparse
from pathlib import Path

from minifw import presets
from minifw.lab.plotting import blog_figure, save_figure


def main(argv=None):
    parser = argparse.ArgumentParser(description="Reproduce the blog's sin(x) network.")
    parser.add_argument("--activation", choices=sorted(presets.SETTINGS), default="sigmoid")
    parser.add_argument("--epochs", type=int, default=presets.EPOCHS, help="default: %(default)s")
    parser.add_argument("--out", type=Path, default=Path("."), help="where blog.png goes")
    args = parser.parse_args(argv)

    run = presets.blog(args.activation)
    result = run.fit(args.epochs)
    stats = run.stats_line(result)
    print(stats)
    # The final loss above is on the normalised targets; this error is in sin's units.
    print(f"Evaluation MSE: {run.evaluation_mse():.6g}")

    args.out.mkdir(parents=True, exist_ok=True)
    figure = blog_figure(run.network, run.source, result.loss, title=stats)
    print(f"Graphs written to {save_figure(figure, args.out / 'blog.png')}")


if __name__ == "__main__":
    main()
