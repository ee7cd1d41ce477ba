"""Where the compiled engine stops paying: its time over the numpy engine's, by network size.

tanh networks with an identity output (``sizes`` inputs, hidden widths, outputs), MSE,
SGD, batches of 32 in order, 1,600 updates, on sin of 320 random points; each network
trained on both engines from the same initial weights, in interleaved rounds, the
figure the median over the rounds. The work column is what ``engine="auto"`` compares
with ``minifw.engine.support.AUTO_LIMIT``: multiply-adds of one batch's forward pass.
Below 1 the kernels are the faster; above, numpy's BLAS.

    python benchmarks/engine_sizes.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import numpy as np

from minifw import SGD, ArraySource, Dense, Network, Trainer
from minifw.engine import loop, support

SIZES = [(1, 16, 16, 1), (1, 32, 32, 1), (1, 64, 64, 1), (1, 128, 128, 1)]
BATCH, UPDATES = 32, 1600


def timed(sizes: tuple[int, ...], engine: str) -> tuple[float, np.ndarray]:
    """Seconds to train a fresh ``sizes`` network on ``engine``, and its final weights."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=(10 * BATCH, sizes[0]))
    y = np.repeat(np.sin(x[:, :1]), sizes[-1], axis=1)
    *hidden, n_out = sizes
    layers = [Dense(a, b, "tanh") for a, b in itertools.pairwise(hidden)]
    network = Network([*layers, Dense(hidden[-1], n_out, "identity")], seed=0)
    trainer = Trainer(network, "mse", SGD(0.01), batch_size=BATCH, shuffle=False, engine=engine)
    start = time.perf_counter()
    trainer.fit(ArraySource(x, y), UPDATES // 10)
    return time.perf_counter() - start, network.packed.value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    loop.ready(np.dtype("float64"))  # compiling is not what is measured
    print(f"auto's limit: {support.AUTO_LIMIT:,} multiply-adds a batch")
    print(f"{'network':<16} {'work':>9} {'compiled':>10} {'numpy':>10} {'ratio':>6}")
    for sizes in SIZES:
        timed(sizes, "compiled")  # warm-up
        pairs = [(timed(sizes, "compiled"), timed(sizes, "numpy")) for _ in range(rounds)]
        gap = max(float(np.max(np.abs(a[1] - b[1]))) for a, b in pairs)
        assert gap < 1e-9, f"the engines' weights differ by {gap:.1e}"
        compiled = statistics.median(a[0] for a, _ in pairs)
        numpy = statistics.median(b[0] for _, b in pairs)
        work = BATCH * sum(a * b for a, b in itertools.pairwise(sizes))
        name = "-".join(map(str, sizes))
        print(f"{name:<16} {work:>9,} {compiled * 1e3:>8.1f}ms {numpy * 1e3:>8.1f}ms "
              f"{compiled / numpy:>6.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
