"""The blog's Part 1: a 2-2-1 sigmoid network learns XOR.

What it teaches: XOR is the classic function no single layer can learn (no
straight line separates its ones from its zeros); two hidden units with a
bias are enough. Four samples, all in one batch, plain SGD on the MSE.

Run it::

    python examples/xor.py                  # 5000 epochs
    python examples/xor.py --seed 3         # another start
"""

import argparse

import numpy as np

from minifw import MSE, SGD, ArraySource, Dense, Network, Sigmoid, Trainer

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
Y = np.array([[0], [1], [1], [0]], dtype=float)


def main(argv=None):
    parser = argparse.ArgumentParser(description="A 2-2-1 sigmoid network learns XOR.")
    parser.add_argument("--epochs", type=int, default=5000, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    parser.add_argument("--out", help="unused: this example writes no files")
    args = parser.parse_args(argv)

    network = Network([Dense(2, 2, Sigmoid()), Dense(2, 1, Sigmoid())], seed=args.seed)
    trainer = Trainer(network, MSE(), SGD(lr=2.0), batch_size=4, shuffle=False)
    result = trainer.fit(ArraySource(X, Y), args.epochs)

    predictions = network.predict(X)
    print("x0 x1  target  network")
    for (x0, x1), (target,), (got,) in zip(X, Y, predictions, strict=True):
        print(f" {x0:.0f}  {x1:.0f}     {target:.0f}     {got:.3f}")
    learned = bool(np.all(np.round(predictions) == Y))
    print(
        f"Final loss {result.final_loss:.3g} after {result.epochs} epochs; XOR learned: {learned}"
    )


if __name__ == "__main__":
    main()
