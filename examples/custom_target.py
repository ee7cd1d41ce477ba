"""Your own target function, of two inputs, used by name from the command line.

What it teaches: a target is a function of x, shape (samples, inputs), with a
natural domain. Subclassing ``Target`` registers it by its snake-case name, so
``--target peaks`` works once ``minifw train --plugin`` has imported this file;
``inputs = 2`` makes the data a grid of points in the plane.

Run it::

    python examples/custom_target.py                  # runs the command below
    minifw train --plugin examples/custom_target.py --target peaks --samples 15 \\
        --layers 16,16 --activation tanh --output-activation identity \\
        --optimizer adam --lr 0.01 --batch-size 15 --shuffle --epochs 1000
"""

import argparse
import subprocess
import sys
from typing import ClassVar

import attrs
import numpy as np

from minifw.core.targets import Target


@attrs.frozen
class Peaks(Target):
    """z = 3(1-x)²e^(-x²-(y+1)²) - 10(x/5 - x³ - y⁵)e^(-x²-y²) - e^(-(x+1)²-y²)/3 on [-3, 3]²."""

    domain: ClassVar[tuple[float, float]] = (-3.0, 3.0)
    inputs: ClassVar[int] = 2

    def __call__(self, xy):
        x, y = xy[:, :1], xy[:, 1:2]
        return (
            3 * (1 - x) ** 2 * np.exp(-(x**2) - (y + 1) ** 2)
            - 10 * (x / 5 - x**3 - y**5) * np.exp(-(x**2) - y**2)
            - np.exp(-((x + 1) ** 2) - y**2) / 3
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train on a home-made 2-D target.")
    parser.add_argument("--epochs", type=int, default=1000, help="default: %(default)s")
    parser.add_argument("--out", help="unused: 2-D targets are not drawn yet")
    args = parser.parse_args(argv)
    command = [sys.executable, "-m", "minifw", "train", "--plugin", __file__, "--target", "peaks"]
    command += ["--samples", "15", "--layers", "16,16", "--activation", "tanh"]
    command += ["--output-activation", "identity", "--optimizer", "adam", "--lr", "0.01"]
    command += ["--batch-size", "15", "--shuffle", "--epochs", str(args.epochs), "--no-plot"]
    print("$", " ".join(["minifw", *command[3:]]))
    subprocess.run(command, check=True)
    z = Peaks().source(15).arrays()[1]
    print(f"(for scale: the target's own variance over the grid is {np.var(z):.3g})")


if __name__ == "__main__":
    main()
