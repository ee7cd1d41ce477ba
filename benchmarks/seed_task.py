"""Is the framework as fast as the hand-written loop? The blog task, timed side by side.

Times ``Trainer.fit`` on the blog's sigmoid network (2-5-1, batch 4, 3000
epochs, LossHistory and Timer attached as always) against the same training
written plainly in numpy (``minifw.presets.blog_loop``, the restored loop),
from the same initial weights. The two alternate in one process, so drift in
the machine's speed hits both alike; the figure is the median of the per-pair
ratios. Target: at most 1.0.

    python benchmarks/seed_task.py [--runs 7] [--epochs 3000] [--guard epoch|batch]

``--guard`` attaches the divergence guard ``minifw train`` uses, checking each
epoch or each batch, to compare what the two cost.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from minifw import TerminateOnNaN
from minifw.run.presets import blog, blog_loop


def time_pair(epochs: int, seed: int, guard: str | None = None) -> tuple[float, float, float]:
    """Seconds for minifw and for the plain loop, and the largest weight difference."""
    callbacks = [] if guard is None else [TerminateOnNaN(check=guard)]
    run = blog("sigmoid", seed=seed, callbacks=callbacks)
    hidden, output = run.network.layers
    wh = np.vstack([hidden.bias, hidden.weights])
    wz = output.weights.copy()

    start = time.perf_counter()
    run.fit(epochs)
    framework = time.perf_counter() - start

    start = time.perf_counter()
    wh_plain, wz_plain, _ = blog_loop("sigmoid", wh, wz, epochs)
    plain = time.perf_counter() - start

    trained = np.vstack([hidden.bias, hidden.weights])
    gap = max(np.abs(trained - wh_plain).max(), np.abs(output.weights - wz_plain).max())
    return framework, plain, float(gap)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="pairs to time (at least 5)")
    parser.add_argument("--epochs", type=int, default=3000)
    parser.add_argument("--guard", choices=["epoch", "batch"], help="a TerminateOnNaN checking so")
    args = parser.parse_args()
    time_pair(50, seed=0)  # warm-up: imports, caches, BLAS threads
    pairs = [time_pair(args.epochs, seed, args.guard) for seed in range(max(args.runs, 5))]
    ratios = [f / p for f, p, _ in pairs]
    guard = f", guard checking each {args.guard}" if args.guard else ""
    print(
        f"blog task: sigmoid 2-5-1, batch 4, {args.epochs} epochs, {len(pairs)} interleaved "
        f"pairs{guard}"
    )
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print(f"minifw Trainer.fit  median {statistics.median(f for f, _, _ in pairs):.3f} s")
    print(f"plain numpy loop    median {statistics.median(p for _, p, _ in pairs):.3f} s")
    print(f"largest weight difference after training: {max(g for _, _, g in pairs):.2e}")
    print(f"ratios: {' '.join(f'{r:.3f}' for r in ratios)}")
    print(f"median ratio minifw / plain loop: {statistics.median(ratios):.3f}  (target <= 1.0)")


if __name__ == "__main__":
    main()
