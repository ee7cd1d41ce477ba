"""Every speed and memory figure of minifw in one table: ``python benchmarks/run.py``.

Each line is a ratio of two things timed side by side in this process (or in
fresh processes, for start-up and memory), alternating, the median of at least
5 pairs, so that drift in the machine's speed hits both alike:

- blog task (2-5-1 sigmoid, batch 4, 3000 epochs): minifw's numpy engine over the
  blog's own loop as written (``blog_loop``: np.dot and the bias unit; target <= 0.8);
  minifw's default engine over a numba loop written for this network alone, both warm
  (target <= 2); minifw over PyTorch (CPU, same network, batches and steps) and over
  scikit-learn's MLPRegressor (sgd, batch 4, no momentum, 3000 epochs);
- 1000 blog networks (100 with ``--quick``): ``minifw.sweep`` of as many seeds, end to
  end, over the same networks in JAX as ``jit(vmap(scan))``, its compile included
  (target <= 1.0); 1-64-64-1 (tanh, batch 32, 1,600 updates) on the compiled engine over
  JAX's ``jit(scan)``, compile included (target <= 1.0). Every contender starts from
  minifw's initial weights and the results are compared at the end;
- large network (784-256-256-10, tanh hidden, identity output, MSE, SGD,
  float32, batch 128, 16,384 random samples): minifw over the same network as
  a plain numpy loop (target <= 1.05); over PyTorch with the same thread count;
- start-up: ``import minifw`` over ``import numpy``, each in a fresh process
  (target <= 1.5), and, for the record, ``import minifw`` followed by the
  first use of the blog's parts;
- memory: peak resident memory of a fresh process training the blog task for
  10,000 epochs over one training it for 100 (target <= 1.05);
- 1000 blog networks (100 with ``--quick``) stacked, ``minifw.sweep`` end to end on the
  compiled engine over the numpy engine (target <= 1.0: "auto" picks the compiled engine
  for a stack of any size, which holds while this ratio does);
- the stacked sweep of #6 on the numpy engine, where stacking shares each numpy call's
  cost among the networks: 100 blog runs as one stack over one run (target <= 5; on the
  compiled engine one run costs so little that the ratio says nothing about stacking);
- time to evaluation MSE <= 2e-5 on the blog's points, median of 5 seeds: minifw's best
  setup (1-8-8-1 tanh, identity output, L-BFGS) beside scikit-learn's L-BFGS on the same
  network (``benchmarks/lbfgs.py`` measures both), with its two targets: minifw's median
  final evaluation MSE <= 5e-6, and its time to 2e-5 no more than scikit-learn's (the
  median of per-seed ratios <= 1.0). Without scikit-learn, the peer is skipped.

    python benchmarks/run.py [--pairs 5] [--quick] [--only WORDS]

``--only "evaluation MSE"`` runs only the lines whose name holds those words.

numba, JAX, PyTorch and scikit-learn are optional peers (``pip install ".[bench]"``): a
line whose peer is missing says "skipped". Each line with a target says met or not met.

``--quick`` shortens every measurement (fewer epochs), for a smoke test; the
table it prints is then not the one to quote.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

# The scripts beside this one: the blog-task contenders, L-BFGS, the sweep timing and JAX's
# are theirs.
import engine
import jax_peers
import lbfgs
import numpy as np
from sweep import timed_sweep

import minifw
from minifw import MSE, SGD, ArraySource, Dense, Network, RunConfig, Trainer
from minifw.lab.sweeps import plan
from minifw.run.presets import build

Pair = tuple[float, float]  # (minifw's seconds, the other's seconds)


def median_ratio(pairs: int, time_one_pair: Callable[[], Pair]) -> tuple[float, Pair]:
    """The median of ``pairs`` ratios minifw/other, and the median seconds of each side."""
    time_one_pair()  # warm-up: imports, caches, BLAS threads
    timed = [time_one_pair() for _ in range(pairs)]
    ratio = statistics.median(a / b for a, b in timed)
    return ratio, (statistics.median(a for a, _ in timed), statistics.median(b for _, b in timed))


# The blog task ---------------------------------------------------------------------------


def numpy_engine_against_blog_loop(epochs: int) -> Pair:
    """minifw's numpy engine against the blog's own loop as written (np.dot, its bias unit)."""
    return engine.timed("numpy", epochs)[0], engine.timed_blog_loop(epochs)[0]


def default_engine_against_scalar_loop(epochs: int) -> Pair:
    """minifw's default engine against a numba loop written for the blog's network alone."""
    return engine.timed("auto", epochs)[0], engine.timed_scalar(epochs)[0]


# Many blog networks and a mid-sized one, against JAX --------------------------------------


def sweep_against_jax(networks: int) -> Pair:
    """``minifw.sweep`` of ``networks`` blog seeds, end to end (planning, building, training
    on the default engine, the table), against the same networks' training in JAX,
    ``jit(vmap(scan))`` compiled anew. Their last epochs' losses must agree."""
    blog = RunConfig()
    runs = [build(p.config) for p in plan(blog, {}, seeds=networks)]
    theirs, last = jax_peers.blog_stack(runs, blog.epochs)
    start = time.perf_counter()
    rows = minifw.sweep(blog, {}, seeds=networks)
    mine = time.perf_counter() - start
    ends = np.array([row.loss_history[-1] for row in rows])
    gap = float(np.max(np.abs(ends - last) / last))
    assert gap < 1e-9, f"minifw's and JAX's last losses differ by {gap:.1e}"
    return mine, theirs


def stack_on_engines(networks: int) -> Pair:
    """``minifw.sweep`` of ``networks`` blog seeds as one stack, end to end, on the compiled
    engine (each network's kernel on a thread) against the numpy engine (the stack's arrays
    a leading axis): "auto" picks the compiled engine for stacks of any size, which this
    ratio (<= 1) justifies. Their last epochs' losses must agree."""
    mine, compiled = timed_sweep(networks, engine="compiled")
    theirs, reference = timed_sweep(networks, engine="numpy")
    ends, expected = (np.array([row.loss_history[-1] for row in r]) for r in (compiled, reference))
    gap = float(np.max(np.abs(ends - expected) / expected))
    assert gap < 1e-9, f"the two engines' last losses differ by {gap:.1e}"
    return mine, theirs


MLP_SIZES, MLP_BATCH, MLP_UPDATES, MLP_LR = (1, 64, 64, 1), 32, 1600, 0.01


def mlp_against_jax() -> Pair:
    """1-64-64-1 (tanh, identity output, MSE, SGD), batches of 32 in order, 1,600 updates,
    on minifw's compiled engine against ``jit(scan)`` compiled anew; final weights compared."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=(10 * MLP_BATCH, 1))
    y = np.sin(x)
    *widths, n_out = MLP_SIZES
    hidden = [Dense(a, b, "tanh") for a, b in itertools.pairwise(widths)]
    network = Network([*hidden, Dense(widths[-1], n_out, "identity")], seed=0)
    epochs = MLP_UPDATES // 10
    theirs, weights = jax_peers.mlp_scan(network, x, y, MLP_LR, MLP_BATCH, epochs)
    trainer = Trainer(network, MSE(), SGD(lr=MLP_LR), batch_size=MLP_BATCH, shuffle=False,
                      engine="compiled")  # fmt: skip
    start = time.perf_counter()
    trainer.fit(ArraySource(x, y), epochs)
    mine = time.perf_counter() - start
    ours = np.concatenate(
        [np.ravel(a) for layer in network.layers for a in (layer.weights, layer.bias)]
    )
    assert np.abs(ours - weights).max() < 1e-9, "minifw's and JAX's weights differ"
    return mine, theirs


def blog_data() -> tuple[Any, np.ndarray, np.ndarray]:
    """The blog's run before training, and its training data (targets normalised)."""
    run = minifw.presets.blog("sigmoid", seed=0)
    x, y = run.source.arrays()
    return run, x, run.network.normaliser.forward(y)


def blog_against_torch(epochs: int) -> Pair:
    import torch

    run, x, y = blog_data()
    hidden, output = run.network.layers
    model = torch.nn.Sequential(
        torch.nn.Linear(1, 5), torch.nn.Sigmoid(), torch.nn.Linear(5, 1, bias=False),
        torch.nn.Sigmoid(),
    ).double()  # fmt: skip
    with torch.no_grad():  # the same starting weights as minifw's
        model[0].weight.copy_(torch.from_numpy(hidden.weights.T.copy()))
        model[0].bias.copy_(torch.from_numpy(hidden.bias.copy()))
        model[2].weight.copy_(torch.from_numpy(output.weights.T.copy()))
    optimizer = torch.optim.SGD(model.parameters(), lr=run.trainer.optimizer.lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    batches = [(xt[i : i + 4], yt[i : i + 4]) for i in range(0, len(x), 4)]

    start = time.perf_counter()
    run.fit(epochs)
    framework = time.perf_counter() - start

    start = time.perf_counter()
    for _ in range(epochs):
        total = 0.0
        for xb, yb in batches:  # as minifw: an update per batch, the epoch's mean loss kept
            optimizer.zero_grad()
            loss = torch.mean((model(xb) - yb) ** 2)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
    return framework, time.perf_counter() - start


def blog_against_sklearn(epochs: int) -> Pair:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    run, x, y = blog_data()
    model = MLPRegressor(
        hidden_layer_sizes=(5,), activation="logistic", solver="sgd", batch_size=4,
        learning_rate_init=0.45, momentum=0.0, nesterovs_momentum=False, alpha=0.0,
        max_iter=epochs, shuffle=False, tol=0.0, n_iter_no_change=epochs + 1, random_state=0,
    )  # fmt: skip
    start = time.perf_counter()
    run.fit(epochs)
    framework = time.perf_counter() - start

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 3000 epochs, as asked
        model.fit(x, y[:, 0])
    return framework, time.perf_counter() - start


# The large network ----------------------------------------------------------------------

LARGE_SAMPLES, LARGE_BATCH, LARGE_LR = 16_384, 128, 0.01


def large_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(LARGE_SAMPLES, 784)).astype(np.float32)
    return x, rng.normal(size=(LARGE_SAMPLES, 10)).astype(np.float32)


def large_network() -> Network:
    layers = [Dense(784, 256, "tanh"), Dense(256, 256, "tanh"), Dense(256, 10, "identity")]
    return Network(layers, seed=0, dtype="float32")


def plain_large(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray, epochs: int) -> None:
    """The large network's training written out in numpy, updating ``weights`` in place."""
    w1, b1, w2, b2, w3, b3 = weights
    lr = np.float32(LARGE_LR)
    for _ in range(epochs):
        for i in range(0, len(x), LARGE_BATCH):
            xb, yb = x[i : i + LARGE_BATCH], y[i : i + LARGE_BATCH]
            h1 = np.tanh(xb @ w1 + b1)
            h2 = np.tanh(h1 @ w2 + b2)
            d3 = (h2 @ w3 + b3 - yb) * np.float32(2 / yb.size)
            d2 = (d3 @ w3.T) * (1 - h2 * h2)
            d1 = (d2 @ w2.T) * (1 - h1 * h1)
            w3 -= lr * (h2.T @ d3)
            b3 -= lr * d3.sum(axis=0)
            w2 -= lr * (h1.T @ d2)
            b2 -= lr * d2.sum(axis=0)
            w1 -= lr * (xb.T @ d1)
            b1 -= lr * d1.sum(axis=0)


def large_against_plain(epochs: int, data: tuple[np.ndarray, np.ndarray]) -> Pair:
    x, y = data
    source = ArraySource(x, y)  # float32 stays float32: no copy in fit
    network = large_network()
    weights = [p.value.copy() for p in network.parameters()]
    trainer = Trainer(network, MSE(), SGD(lr=LARGE_LR), batch_size=LARGE_BATCH, shuffle=False)
    start = time.perf_counter()
    trainer.fit(source, epochs)
    framework = time.perf_counter() - start
    start = time.perf_counter()
    plain_large(weights, x, y, epochs)
    return framework, time.perf_counter() - start


def large_against_torch(epochs: int, data: tuple[np.ndarray, np.ndarray]) -> Pair:
    import torch

    torch.set_num_threads(os.cpu_count() or 1)  # what numpy's BLAS uses by default
    x, y = data
    source = ArraySource(x, y)
    trainer = Trainer(large_network(), MSE(), SGD(lr=LARGE_LR), batch_size=LARGE_BATCH,
                      shuffle=False)  # fmt: skip
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.Tanh(), torch.nn.Linear(256, 256), torch.nn.Tanh(),
        torch.nn.Linear(256, 10),
    )  # fmt: skip
    optimizer = torch.optim.SGD(model.parameters(), lr=LARGE_LR)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    start = time.perf_counter()
    trainer.fit(source, epochs)
    framework = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(epochs):
        for i in range(0, len(x), LARGE_BATCH):
            optimizer.zero_grad()
            loss = torch.mean((model(xt[i : i + LARGE_BATCH]) - yt[i : i + LARGE_BATCH]) ** 2)
            loss.backward()
            optimizer.step()
    return framework, time.perf_counter() - start


# Start-up and memory, in fresh processes ------------------------------------------------------


def seconds_to_run(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def startup_pair(code: str) -> Pair:
    return seconds_to_run(code), seconds_to_run("import numpy")


# VmHWM, the process's own peak: ru_maxrss would count the parent's memory at the fork.
MEMORY_CODE = """
import tracemalloc, minifw
run = minifw.presets.blog("sigmoid", seed=0)
tracemalloc.start()
run.fit({epochs})
peak = next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(peak, tracemalloc.get_traced_memory()[1])
"""


def peak_memory(epochs: int) -> tuple[int, int]:
    """A fresh process trains the blog task for ``epochs``: its peak resident memory (KiB), and
    the peak of the Python allocations made during ``fit`` (bytes, by tracemalloc)."""
    code = MEMORY_CODE.format(epochs=epochs)
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    resident, traced = done.stdout.split()
    return int(resident), int(traced)


# The table ---------------------------------------------------------------------------------


def verdict(ratio: float, target: str) -> str:
    """ "met" or "not met" for a target "<= x"; nothing for a line that only reports."""
    if not target.startswith("<="):
        return ""
    return "met" if ratio <= float(target[2:]) else "not met"


def installed(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=7, help="pairs per line (at least 5)")
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument(
        "--only", metavar="WORDS", default="", help="only the lines whose name holds WORDS"
    )
    args = parser.parse_args()
    pairs = max(args.pairs, 5)
    blog_epochs, large_epochs = (300, 1) if args.quick else (3000, 2)
    memory_epochs = (1_000, 100) if args.quick else (10_000, 100)
    large = large_data()

    rows: list[tuple[str, float, str, Pair, str]] = []
    networks = 100 if args.quick else 1000

    def line(
        name: str,
        time_one: Callable[[], Pair],
        target: str,
        unit: str = "s",
        needs: Sequence[str] = (),
    ) -> None:
        if args.only not in name:
            return
        if needs:  # an optional peer (pip install ".[bench]") is missing
            rows.append((name, math.nan, target, (math.nan, math.nan), f"skipped: no {needs[0]}"))
            return
        ratio, (mine, theirs) = median_ratio(pairs, time_one)
        rows.append((name, ratio, target, (mine, theirs), unit))
        print(f"  measured: {name}: {ratio:.3f}", file=sys.stderr)

    numba, jax = installed("numba"), installed("jax")
    line(
        "blog task: numpy engine / the blog's own loop",
        lambda: numpy_engine_against_blog_loop(blog_epochs),
        "<= 0.8",
    )
    line(
        "blog task: default engine / numba scalar loop, warm",
        lambda: default_engine_against_scalar_loop(blog_epochs),
        "<= 2",
        needs=[] if numba else ["numba"],
    )
    line(
        f"{networks} blog networks: minifw.sweep / JAX jit(vmap(scan)), compile included",
        lambda: sweep_against_jax(networks),
        "<= 1.0",
        needs=[] if jax else ["jax"],
    )
    line(
        "1-64-64-1, batch 32, 1,600 updates: compiled engine / JAX scan, compile included",
        mlp_against_jax,
        "<= 1.0",
        needs=[name for name, there in (("numba", numba), ("jax", jax)) if not there],
    )
    if installed("torch"):
        line("blog task: minifw / PyTorch", lambda: blog_against_torch(blog_epochs), "report")
    if installed("sklearn"):
        line(
            "blog task: minifw / scikit-learn", lambda: blog_against_sklearn(blog_epochs), "report"
        )
    line(
        "large net, float32: minifw / plain numpy loop",
        lambda: large_against_plain(large_epochs, large),
        "<= 1.05",
    )
    if installed("torch"):
        line(
            "large net, float32: minifw / PyTorch",
            lambda: large_against_torch(large_epochs, large),
            "report",
        )
    line("start-up: import minifw / import numpy", lambda: startup_pair("import minifw"), "<= 1.5")
    line(
        "start-up, first use: import minifw + blog parts / import numpy",
        lambda: startup_pair("import minifw; minifw.presets.blog"),
        "report",
    )
    long, short = memory_epochs
    line(
        f"peak memory: {long:,} epochs / {short} epochs",
        lambda: (float(peak_memory(long)[0]), float(peak_memory(short)[0])),
        "<= 1.05",
        unit="KiB",
    )
    # What the growth is made of: the loss kept for each epoch (in the run's history, which
    # LossHistory reads and a checkpoint saves) and the list fit returns, measured apart
    # from the process's fixed cost.
    notes = []
    if args.only in f"peak memory: {long:,} epochs / {short} epochs":
        growth = (peak_memory(long)[1] - peak_memory(short)[1]) / (long - short)
        notes.append(
            f"Python heap during fit grows by {growth:.0f} bytes per epoch (the loss history)"
        )
    line(
        f"{networks} blog networks stacked: compiled / numpy stack",
        lambda: stack_on_engines(networks),
        "<= 1.0",
        needs=[] if numba else ["numba"],
    )
    line(
        "stacked sweep on numpy: 100 blog runs / one run",
        lambda: (timed_sweep(100, engine="numpy")[0], timed_sweep(1, engine="numpy")[0]),
        "<= 5",
    )

    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
          f"{os.cpu_count()} cores; median of {pairs} interleaved pairs per line"
          + (" (--quick: not the figures to quote)" if args.quick else ""))  # fmt: skip
    width = max((len(row[0]) for row in rows), default=0)
    if rows:
        print(
            f"{'measurement':<{width}}  {'ratio':>7}  {'target':>7}  {'':7}  "
            "minifw | other (medians)"
        )
    for name, ratio, target, (mine, theirs), unit in rows:
        if unit.startswith("skipped"):
            print(f"{name:<{width}}  {'-':>7}  {target:>7}  {'':7}  {unit}")
            continue
        figures = (
            f"{mine:.3f} | {theirs:.3f} {unit}"
            if unit == "s"
            else f"{mine:,.0f} | {theirs:,.0f} {unit}"
        )
        print(f"{name:<{width}}  {ratio:>7.3f}  {target:>7}  {verdict(ratio, target):7}  {figures}")
    for note in notes:
        print(note)
    seeds = 2 if args.quick else 5
    name = f"time to evaluation MSE <= {lbfgs.TARGET:g} on the blog's points"
    if args.only in name:
        print()
        print("\n".join(time_to_evaluation_target(seeds, name)))


def time_to_evaluation_target(seeds: int, name: str) -> list[str]:
    """The lines that say how fast minifw's best setup (``benchmarks/lbfgs.py``'s) gets to an
    evaluation MSE of 2e-5 beside scikit-learn's L-BFGS, and whether both targets are met."""
    peer = lbfgs.has_sklearn()
    rows = lbfgs.measure(range(seeds), peer)

    def side(label: str, prefix: str) -> list[str]:
        reached = sum(r[prefix + "iterations"] is not None for r in rows)
        final, seconds = (lbfgs.median(rows, prefix + key) for key in ("final", "seconds"))
        return [label, f"{final:.2g}", f"{seconds:.3f} s", f"{reached}/{seeds}"]

    cells = [["", "median final evaluation MSE", f"median time to {lbfgs.TARGET:g}", "reached"]]
    cells += [side("minifw L-BFGS", "")] + ([side("scikit-learn L-BFGS", "sk_")] if peer else [])
    final = lbfgs.median(rows, "final")
    lines = [f"{name}, median of {seeds} seeds (1-8-8-1 tanh, identity output):"]
    lines += ["  " + "  ".join(f"{c:<{w}}" for c, w in zip(row, WIDTHS, strict=True)).rstrip()
              for row in cells]  # fmt: skip
    lines.append(f"  target: minifw's median final evaluation MSE <= 5e-6: {final:.2g}, "
                 + ("met" if final <= 5e-6 else "NOT met"))  # fmt: skip
    if peer:
        measured = lbfgs.ratio(rows)
        lines.append(
            f"  target: minifw's time to {lbfgs.TARGET:g} <= scikit-learn's: median of per-seed "
            f"ratios {measured:.2f} (<= 1.0), " + ("met" if measured <= 1.0 else "NOT met")
        )
    else:
        lines.append("  scikit-learn is not installed: the peer is skipped, and the time target "
                     'with it (pip install ".[bench]")')  # fmt: skip
    return lines


WIDTHS = (19, 27, 21, 7)  # the columns of the time-to-target lines


if __name__ == "__main__":
    main()
