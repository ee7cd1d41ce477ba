"""What does a sweep of 100 seeds cost? The blog task stacked, against one run and 100 runs.

Times ``minifw.sweep(RunConfig(), {}, seeds=N)``, the blog's sigmoid network
(2-5-1, batch 4, 3000 epochs) from N seeds, end to end (planning, building the
runs, training, the table), in this process:

(a) 100 runs trained as one stack, over ONE run (``seeds=1``). The two alternate
    in pairs, so drift in the machine's speed hits both alike; the figure is the
    median of the per-pair ratios. Target: at most 5.
(b) the same 100 runs stacked, over the 100 runs one after another (``chunk=1``),
    measured once (about 50 s); ``--quick`` times the first 20 of them and scales
    by 5, and says so.
(c) the largest weight difference between a run of a 100-stack
    (``minifw.stack`` and a ``Trainer``, as a sweep trains them) and the same run
    trained alone, over ``--compare`` runs of the stack; and whether every run of
    (b) ended with the same loss history and predictions as in the stack.

    python benchmarks/sweep.py [--quick] [--pairs 5] [--runs 100] [--compare 10]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import attrs
import numpy as np

import minifw
from minifw import Trainer, presets, stack, unstack
from minifw.lab.results import SweepResults
from minifw.lab.sweeps import plan
from minifw.run.config import RunConfig

BLOG = RunConfig()  # every default the blog's: sigmoid 2-5-1, SGD at 0.9, batch 4, 3000 epochs
QUICK_RUNS = 20


def timed_sweep(
    seeds: int, chunk: int | None = None, engine: str = BLOG.engine
) -> tuple[float, SweepResults]:
    """Wall seconds of ``minifw.sweep(BLOG, {}, seeds=seeds, chunk=chunk)`` on ``engine``,
    and its table."""
    config = BLOG if engine == BLOG.engine else attrs.evolve(BLOG, engine=engine)
    start = time.perf_counter()
    results = minifw.sweep(config, {}, seeds=seeds, chunk=chunk)
    return time.perf_counter() - start, results


def same_runs(stacked: SweepResults, alone: SweepResults) -> bool:
    """Whether each run of ``alone`` has exactly the loss history and predictions of the run
    with the same key in ``stacked``."""
    mine = {row.key: row for row in stacked}
    return all(
        np.array_equal(row.loss_history, mine[row.key].loss_history)
        and np.array_equal(row.prediction, mine[row.key].prediction)
        for row in alone
    )


def weight_gap(runs: int, compare: int) -> tuple[float, int]:
    """The largest weight difference between a run of a stack of ``runs`` blog runs, trained
    as a sweep trains them, and the same run trained alone; over ``compare`` runs spread
    through the stack. Also how many runs were compared."""
    planned = plan(BLOG, {}, seeds=runs)
    experiments = [presets.build(p.config) for p in planned]
    first = experiments[0].trainer
    trainer = Trainer(
        stack([e.network for e in experiments]),
        first.loss,
        attrs.evolve(first.optimizer),
        batch_size=first.batch_size,
        shuffle=False,
    )
    trainer.fit(experiments[0].source, BLOG.epochs)
    together = unstack(trainer.network)
    chosen = sorted(set(np.linspace(0, runs - 1, min(compare, runs)).round().astype(int)))
    gap = 0.0
    for i in chosen:
        alone = presets.build(planned[i].config)
        alone.fit(BLOG.epochs)
        difference = np.abs(together[i].packed.value - alone.network.packed.value).max()
        gap = max(gap, float(difference))
    return gap, len(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="runs in the sweep (default 100)")
    parser.add_argument("--pairs", type=int, default=5, help="(one run, stack) pairs to time")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"time {QUICK_RUNS} runs one after another and scale, not all of them",
    )
    parser.add_argument(
        "--compare", type=int, default=10, help="runs of the stack to train alone for (c)"
    )
    args = parser.parse_args()
    if args.runs < 2 or args.pairs < 1 or args.compare < 1:
        parser.error("--runs must be at least 2, --pairs and --compare at least 1")

    minifw.sweep(attrs.evolve(BLOG, epochs=50), {}, seeds=4)  # warm-up: imports, caches, BLAS
    pairs = []
    for _ in range(args.pairs):
        one, _ = timed_sweep(1)
        together, stacked = timed_sweep(args.runs)
        pairs.append((one, together))
    ratios = [t / o for o, t in pairs]
    one_median = statistics.median(o for o, _ in pairs)
    stack_median = statistics.median(t for _, t in pairs)

    sequential_runs = min(QUICK_RUNS, args.runs) if args.quick else args.runs
    measured, alone = timed_sweep(sequential_runs, chunk=1)
    sequential = measured * args.runs / sequential_runs
    identical = same_runs(stacked, alone)
    gap, compared = weight_gap(args.runs, args.compare)

    n = args.runs
    label = 34  # width of the first column
    print(f"blog task: sigmoid 2-5-1, batch 4, {BLOG.epochs} epochs; minifw.sweep end to end")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print(f"{'one run (seeds=1)':<{label}} median {one_median:.3f} s over {len(pairs)} pairs")
    print(
        f"{f'{n} runs stacked (seeds={n})':<{label}} median {stack_median:.3f} s over "
        f"{len(pairs)} pairs (training time of the last stack: {stacked.rows[0].seconds:.3f} s)"
    )
    if sequential_runs < n:
        timing = (
            f"{sequential:.1f} s, SCALED: --quick timed {sequential_runs} runs "
            f"({measured:.1f} s) and multiplied by {n / sequential_runs:g}"
        )
    else:
        timing = f"{sequential:.1f} s (chunk=1, timed once)"
    print(f"{f'{n} runs one after another':<{label}} {timing}")
    print(f"ratios stacked / one run: {' '.join(f'{r:.2f}' for r in ratios)}")
    print(f"(a) median ratio {n} stacked / one run: {statistics.median(ratios):.2f}  (target <= 5)")
    print(
        f"(b) {n} stacked / {n} one after another: {stack_median / sequential:.4f}"
        f" ({sequential / stack_median:.0f}x faster)"
    )
    print(
        f"(c) largest weight difference, stacked vs alone, over {compared} runs of the stack: "
        f"{gap:.2e}"
    )
    print(
        f"    the {sequential_runs} runs one after another ended with the stack's loss histories"
        f" and predictions: {'yes, exactly' if identical else 'NO'}"
    )


if __name__ == "__main__":
    main()
