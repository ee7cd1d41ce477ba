"""Your own activation, in a dozen lines, used by name from the command line.

What it teaches: an activation is a forward formula, its derivative, and the
range its outputs live in. Subclassing ``Activation`` registers it by its
snake-case name the moment the class is defined, so ``--activation wave``
works once ``minifw train --plugin`` has imported this file.

Run it::

    python examples/custom_activation.py                # runs the command below
    minifw train --plugin examples/custom_activation.py --activation wave \\
        --output-activation identity --hidden 8 --lr 0.1
"""

import argparse
import subprocess
import sys
from typing import ClassVar

import attrs
import numpy as np

from minifw import Activation


@attrs.frozen
class Wave(Activation):
    """y = sin(x),  dy/dx = cos(x): a periodic unit, so a few can draw a wave."""

    output_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)

    def forward(self, x):
        return np.sin(x)

    def derivative(self, x, y):
        return np.cos(x)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train with a home-made activation.")
    parser.add_argument("--epochs", type=int, default=3000, help="default: %(default)s")
    parser.add_argument("--out", default=".", help="where the graphs go")
    args = parser.parse_args(argv)
    command = [sys.executable, "-m", "minifw", "train", "--plugin", __file__]
    command += ["--activation", "wave", "--output-activation", "identity", "--hidden", "8"]
    command += ["--lr", "0.1"]
    command += ["--epochs", str(args.epochs), "--plot", f"{args.out}/wave.png"]
    print("$", " ".join(["minifw", *command[3:]]))
    subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
