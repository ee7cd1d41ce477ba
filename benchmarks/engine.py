"""The compiled engine against its strongest peer and the numpy loops, on the blog task.

The blog task (2-5-1 sigmoid, bias unit, batch 4, 32 points, 3000 epochs, 24,000 updates)
trained by four contenders from the same initial weights (minifw's, seed 0), in one
process, in interleaved rounds, each figure the median over the rounds:

- minifw's compiled engine: ``Trainer(engine="compiled")``, with its LossHistory, Timer
  and divergence guard attached as always;
- a numba scalar loop written for this benchmark: the blog's network and nothing else,
  every size a constant of the loop, the strongest peer there is for this task;
- minifw's numpy engine, the reference: ``Trainer(engine="numpy")``;
- the blog's own loop as written (``minifw.run.blog.blog_loop``).

Every contender's final weights are compared with the compiled engine's. Then the
compile cost: a fresh process training the blog compiled with numba's on-disk cache
empty (the first run after install), and again with it filled (every later process).
Targets (issue 18): the compiled engine at most 2x the scalar loop, both warm; the first
process at most 1 s of compiling and a later one at most 0.1 s.

    python benchmarks/engine.py [--rounds 7] [--epochs 3000]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from minifw.run.blog import blog_loop
from minifw.run.presets import blog


def scalar_blog(w1, b1, w2, x, y, lr, epochs, batch):
    """The blog task as one numba loop: MSE's gradient, SGD's step, minifw's arithmetic."""
    n, hidden = x.shape[0], w1.shape[1]
    h = np.empty((batch, hidden))
    out = np.empty(batch)
    dh = np.empty((batch, hidden))
    losses = np.empty(epochs)
    for e in range(epochs):
        total = 0.0
        for s in range(0, n, batch):
            rows = min(batch, n - s)
            for i in range(rows):
                acc = 0.0
                for j in range(hidden):
                    z = min(max(x[s + i, 0] * w1[0, j] + b1[j], -708.0), 708.0)
                    u = math.exp(z)
                    h[i, j] = u / (u + 1.0)
                    acc += h[i, j] * w2[j, 0]
                u = math.exp(min(max(acc, -708.0), 708.0))
                out[i] = u / (u + 1.0)
            squares, scale = 0.0, 2.0 / rows
            for i in range(rows):
                d = out[i] - y[s + i, 0]
                squares += d * d
                dz = out[i] * (1.0 - out[i]) * (d * scale)
                out[i] = dz
                for j in range(hidden):
                    dh[i, j] = h[i, j] * (1.0 - h[i, j]) * (dz * w2[j, 0])
            total += squares / rows * rows
            for j in range(hidden):
                gw2 = gw1 = gb = 0.0
                for i in range(rows):
                    gw2 += h[i, j] * out[i]
                    gw1 += x[s + i, 0] * dh[i, j]
                    gb += dh[i, j]
                w2[j, 0] -= lr * gw2
                w1[0, j] -= lr * gw1
                b1[j] -= lr * gb
        losses[e] = total / n
    return losses


_KERNELS: dict[str, object] = {}


def scalar_kernel():
    """``scalar_blog`` compiled by numba (imported here, so that this module imports without
    it: benchmarks/run.py uses its other contenders where numba is missing)."""
    if "scalar" not in _KERNELS:
        from numba import njit

        _KERNELS["scalar"] = njit(cache=True)(scalar_blog)
    return _KERNELS["scalar"]


def weights_of(run) -> np.ndarray:
    """The blog network's weights as the blog holds them: (bias row + W_h) and W_z, flat."""
    hidden, output = run.network.layers
    return np.concatenate([hidden.bias, hidden.weights.ravel(), output.weights.ravel()])


def timed(engine: str, epochs: int) -> tuple[float, np.ndarray]:
    run = blog("sigmoid")
    run.trainer.engine = engine
    start = time.perf_counter()
    run.fit(epochs)
    return time.perf_counter() - start, weights_of(run)


def timed_scalar(epochs: int) -> tuple[float, np.ndarray]:
    run = blog("sigmoid")
    hidden, output = run.network.layers
    w1, b1, w2 = hidden.weights.copy(), hidden.bias.copy(), output.weights.copy()
    x, y = run.source.arrays()
    x, y = np.ascontiguousarray(x), np.ascontiguousarray(run.network.normaliser.forward(y))
    lr = run.trainer.optimizer.lr
    kernel = scalar_kernel()
    start = time.perf_counter()
    kernel(w1, b1, w2, x, y, lr, epochs, run.trainer.batch_size)
    seconds = time.perf_counter() - start
    return seconds, np.concatenate([b1, w1.ravel(), w2.ravel()])


def timed_blog_loop(epochs: int) -> tuple[float, np.ndarray]:
    run = blog("sigmoid")
    hidden, output = run.network.layers
    wh = np.vstack([hidden.bias, hidden.weights])
    start = time.perf_counter()
    wh, wz, _ = blog_loop("sigmoid", wh, output.weights.copy(), epochs)
    seconds = time.perf_counter() - start
    return seconds, np.concatenate([wh[0], wh[1:].ravel(), wz.ravel()])


FRESH_PROCESS = """
import time
start = time.perf_counter()
import minifw
run = minifw.presets.blog("sigmoid")
run.trainer.engine = "compiled"
begun = time.perf_counter()
run.fit(1)
print(time.perf_counter() - begun)
"""


def first_fit_seconds(cache: str) -> float:
    """Seconds of a fresh process's first compiled fit (1 epoch), numba's cache at ``cache``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    out = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (at least 5)")
    parser.add_argument("--epochs", type=int, default=3000)
    args = parser.parse_args()
    rounds, epochs = max(args.rounds, 5), args.epochs
    import numba

    contenders = {
        "minifw compiled engine": lambda: timed("compiled", epochs),
        "numba scalar loop (peer)": lambda: timed_scalar(epochs),
        "minifw numpy engine": lambda: timed("numpy", epochs),
        "the blog's loop (blog_loop)": lambda: timed_blog_loop(epochs),
    }
    start = time.perf_counter()
    timed_scalar(2)  # compiles the peer (cached on disk after the first run of this script)
    peer_compile = time.perf_counter() - start
    timed("compiled", 2)
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    gaps: dict[str, float] = dict.fromkeys(contenders, 0.0)
    for _ in range(rounds):
        reference = None
        for name, contender in contenders.items():
            took, weights = contender()
            seconds[name].append(took)
            reference = weights if reference is None else reference
            gaps[name] = max(gaps[name], float(np.abs(weights - reference).max()))

    engine = statistics.median(seconds["minifw compiled engine"])
    print(
        f"blog task: sigmoid 2-5-1, batch 4, {epochs} epochs, medians of {rounds} "
        "interleaved rounds"
    )
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, numba "
        f"{numba.__version__}, {platform.machine()}, {os.cpu_count()} cores"
    )
    print(f"{'contender':30} {'median':>10} {'x compiled':>11} {'max |Δw| vs compiled':>22}")
    for name, times in seconds.items():
        median = statistics.median(times)
        print(f"{name:30} {median * 1e3:8.2f} ms {median / engine:10.2f}x {gaps[name]:22.1e}")
    numpy_engine = statistics.median(seconds["minifw numpy engine"])
    plain = statistics.median(seconds["the blog's loop (blog_loop)"])
    scalar = statistics.median(seconds["numba scalar loop (peer)"])
    print(f"compiled engine / numba scalar loop: {engine / scalar:.2f} (target <= 2)")
    print(f"numpy engine / the blog's loop: {numpy_engine / plain:.2f} (target <= 0.8)")
    print(f"numba scalar loop's own first call in this process: {peer_compile:.2f} s")

    with tempfile.TemporaryDirectory() as cache:
        cold = first_fit_seconds(cache)
        warm = statistics.median(first_fit_seconds(cache) for _ in range(3))
    print(
        f"a fresh process's first compiled fit: {cold:.2f} s with numba's cache empty "
        f"(target <= 1), {warm:.3f} s with it filled (median of 3; target <= 0.1); "
        "both include importing numba"
    )


if __name__ == "__main__":
    main()
