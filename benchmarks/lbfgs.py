"""Minimise the error and the time: full-batch L-BFGS in minifw against scikit-learn's.

Both train a 1-8-8-1 tanh network with an identity output on the blog's 32 points of
sin(x) (minifw from its own initial weights, scikit-learn from its own), and both are
scored on the same 32 evaluation points shifted by half a step. For each of 5 seeds:

- the final evaluation MSE after at most 1000 iterations (both stop earlier when their
  gradient vanishes);
- the time to an evaluation MSE <= 2e-5: the fewest iterations that reach it are found
  first, then a run of exactly that many is timed (so the checking costs nothing).

    python benchmarks/lbfgs.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import attrs
import numpy as np

import minifw

TARGET = 2e-5
SETUP = minifw.RunConfig(layers=(8, 8), activation="tanh", output_activation="identity",
                         optimizer="lbfgs")  # fmt: skip


def minifw_run(seed: int, epochs: int) -> tuple[float, float]:
    """(seconds, final evaluation MSE)."""
    run = minifw.build(attrs.evolve(SETUP, seed=seed, epochs=epochs))
    began = time.perf_counter()
    run.fit()
    return time.perf_counter() - began, run.evaluation_mse()


def minifw_iterations_to_target(seed: int, cap: int = 1000) -> int | None:
    run = minifw.build(attrs.evolve(SETUP, seed=seed, epochs=cap))
    reached: list[int] = []

    def check(trainer, epoch, logs):
        if run.evaluation_mse() <= TARGET:
            reached.append(epoch + 1)
            trainer.stop_training = True

    run.trainer.callbacks.append(minifw.LambdaCallback(on_epoch_end=check))
    run.fit()
    return reached[0] if reached else None


def sklearn_run(seed: int, iterations: int) -> tuple[float, float]:
    from sklearn.neural_network import MLPRegressor

    x, y, xe, ye = blog_points()
    model = MLPRegressor(hidden_layer_sizes=(8, 8), activation="tanh", solver="lbfgs", alpha=0.0,
                         max_iter=iterations, random_state=seed)  # fmt: skip
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning when max_iter stops it
        model.fit(x, y.ravel())
    seconds = time.perf_counter() - began
    return seconds, float(np.mean((model.predict(xe).reshape(-1, 1) - ye) ** 2))


def sklearn_iterations_to_target(seed: int, cap: int = 1000) -> int | None:
    for iterations in range(5, cap + 1, 5):
        if sklearn_run(seed, iterations)[1] <= TARGET:
            return iterations
    return None


def blog_points():
    source = minifw.presets.blog().source
    x, y = source.arrays()
    xe, ye = source.evaluation_arrays()
    return x, y, xe, ye


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    seeds = range(args.seeds)
    try:
        import sklearn
    except ImportError:
        sklearn = None
    rows = []
    for seed in seeds:
        final = minifw_run(seed, 1000)[1]
        k = minifw_iterations_to_target(seed)
        t = statistics.median(minifw_run(seed, k)[0] for _ in range(3)) if k else float("nan")
        row = {"final": final, "iterations": k, "seconds": t}
        if sklearn is not None:
            row["sk_final"] = sklearn_run(seed, 1000)[1]
            ks = sklearn_iterations_to_target(seed)
            row["sk_iterations"] = ks
            row["sk_seconds"] = (
                statistics.median(sklearn_run(seed, ks)[0] for _ in range(3))
                if ks
                else float("nan")
            )
        rows.append(row)
        print(seed, row)
    med = lambda key: statistics.median(r[key] for r in rows if r.get(key) is not None)  # noqa: E731
    print(f"minifw L-BFGS: median final evaluation MSE {med('final'):.3g} (target <= 5e-6); "
          f"median time to {TARGET:g}: {med('seconds'):.3f} s")  # fmt: skip
    if sklearn is not None:
        print(f"scikit-learn L-BFGS: median final evaluation MSE {med('sk_final'):.3g}; "
              f"median time to {TARGET:g}: {med('sk_seconds'):.3f} s")  # fmt: skip
        ratio = statistics.median(r["seconds"] / r["sk_seconds"] for r in rows
                                  if r["iterations"] and r["sk_iterations"])  # fmt: skip
        print(f"time to {TARGET:g}, minifw / scikit-learn, median of per-seed ratios: "
              f"{ratio:.2f} (target <= 1.0)")  # fmt: skip


if __name__ == "__main__":
    main()
