"""The blog's network built by hand from minifw's parts, and one batch followed through them.

What it teaches: ``minifw.presets.blog`` is no magic. It is a data source, a
normaliser, two Dense layers, a Network and a Trainer, and built by hand they
give the very same run. It also walks one batch through the four files that
handle it: trainer.py (the loop) -> layers.py (forward and backward arithmetic)
-> losses.py (how wrong, and which way) -> optimizers.py (the weight update).
docs/index.md, section 2, explains each part.

Run it::

    python examples/blog_by_hand.py                   # 3000 epochs, writes blog_by_hand.png
    python examples/blog_by_hand.py --seed 1 --epochs 10000 --out /tmp
"""

import argparse
from pathlib import Path

import numpy as np

from minifw import (
    MSE,
    SGD,
    Dense,
    FunctionSource,
    HeUniform,
    Network,
    Normaliser,
    Plotter,
    Sigmoid,
    Trainer,
    presets,
)


def build(seed, callbacks=()):
    """The blog's data, network and trainer, part by part."""
    source = FunctionSource(np.sin, (0, 6.28), 32)  # 32 evenly spaced x, y = sin(x)
    init = HeUniform(scale=HeUniform.BLOG_SCALE)  # uniform in ±sqrt(2 / fan_in)
    network = Network(
        [
            # 1 input plus the blog's bias unit (an input fixed at 1) -> 5 hidden units
            Dense(1, 5, Sigmoid(), bias=True, bias_unit=True, initializer=init),
            Dense(5, 1, Sigmoid(), bias=False, initializer=init),  # the blog's Wz: no bias
        ],
        seed=seed,
        normaliser=Normaliser((-1, 1), (0, 1)),  # sin's range -> sigmoid's
    )
    trainer = Trainer(
        network,
        MSE(),
        SGD(lr=presets.mse_lr(0.45, batch_size=4)),  # the blog's L = 0.45 as an MSE rate: 0.9
        batch_size=4,
        shuffle=False,  # batches in order, as in the blog
        callbacks=list(callbacks),
    )
    return source, network, trainer


def one_batch(source, network, trainer):
    """Take the first batch's step as ``Trainer.fit`` does; return its loss before and after."""
    # trainer.py: before the first epoch, targets go into sigmoid's range; batches are slices.
    x, y = source.arrays()
    xb, yb = x[:4], network.normaliser.forward(y[:4])
    # trainer.py -> network.py -> layers.py: each Dense computes f(x W + b), first layer
    # first, and keeps x, x W + b and the output for the backward pass.
    pred = network.forward(xb)
    # losses.py: MSE gives the batch's loss and its gradient 2 (pred - target) / N together.
    before, grad = trainer.loss.value_and_gradient(pred, yb)
    # network.py -> layers.py: each Dense, last layer first, overwrites its weights' grad
    # (x^T d, with d = grad * f'(z)) and hands d W^T to the layer below.
    network.backward(grad)
    # optimizers.py: SGD moves every weight downhill, w <- w - lr * grad, in place.
    trainer.optimizer.step(network.parameters())
    # (Then trainer.py calls the callbacks and takes the next batch.)
    return before, trainer.loss.value(network.forward(xb), yb)


def main(argv=None):
    parser = argparse.ArgumentParser(description="The blog's network, built by hand.")
    parser.add_argument("--epochs", type=int, default=presets.EPOCHS, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    parser.add_argument("--out", type=Path, default=Path("."), help="where blog_by_hand.png goes")
    args = parser.parse_args(argv)

    before, after = one_batch(*build(args.seed))
    print(f"One batch by hand: its loss went from {before:.6f} to {after:.6f}")

    args.out.mkdir(parents=True, exist_ok=True)
    plot = args.out / "blog_by_hand.png"
    source, network, trainer = build(args.seed, callbacks=[Plotter(plot)])
    result = trainer.fit(source, args.epochs)
    x_eval, y_eval = source.evaluation_arrays()
    error = float(np.mean((network.predict(x_eval) - y_eval) ** 2))
    print(f"By hand: {result.epochs} epochs, final loss {result.final_loss:.6g}, ", end="")
    print(f"evaluation MSE {error:.6g}, {result.seconds:.2f} s")

    preset = presets.blog("sigmoid", seed=args.seed).fit(args.epochs)
    print(f"Same losses as presets.blog('sigmoid', seed={args.seed}): {preset.loss == result.loss}")
    print(f"Graphs written to {plot}")


if __name__ == "__main__":
    main()
