"""Minimise the error and the time: full-batch L-BFGS in minifw against scikit-learn's.

Both train a 1-8-8-1 tanh network with an identity output on the blog's 32 points of
sin(x) (minifw from its own initial weights, scikit-learn from its own), and both are
scored on the same 32 evaluation points shifted by half a step. For each of 5 seeds:

- the final evaluation MSE after at most 1000 iterations (both stop earlier when their
  gradient vanishes);
- the time to an evaluation MSE <= 2e-5: the fewest iterations that reach it are found
  first (minifw's by its own ``target_eval``), then a run of exactly that many is timed,
  the median of 3 (so the checking costs nothing on either side).

``benchmarks/run.py`` prints the same measurement as its time-to-target line.

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
    """The first iteration whose evaluation MSE is <= TARGET (minifw's target_eval), or None."""
    run = minifw.build(attrs.evolve(SETUP, seed=seed, epochs=cap, target_eval=TARGET))
    run.eval_target.stop = True  # no need to go on once it is there
    run.fit()
    return run.eval_target.reached()["epoch"]


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


def has_sklearn() -> bool:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def measure(seeds: range, peer: bool, show: bool = False) -> list[dict]:
    """One row per seed: minifw's final evaluation MSE, iterations and seconds to TARGET
    (None and nan if it never got there), and with ``peer`` scikit-learn's (``sk_...``),
    the two measured in turn for each seed, so that drift in the machine hits both alike."""
    rows = []
    for seed in seeds:
        final = minifw_run(seed, 1000)[1]
        k = minifw_iterations_to_target(seed)
        t = statistics.median(minifw_run(seed, k)[0] for _ in range(3)) if k else float("nan")
        row = {"final": final, "iterations": k, "seconds": t}
        if peer:
            row["sk_final"] = sklearn_run(seed, 1000)[1]
            ks = sklearn_iterations_to_target(seed)
            row["sk_iterations"] = ks
            row["sk_seconds"] = (
                statistics.median(sklearn_run(seed, ks)[0] for _ in range(3))
                if ks
                else float("nan")
            )
        rows.append(row)
        if show:
            print(seed, row)
    return rows


def median(rows: list[dict], key: str) -> float:
    """The median of ``key`` over the rows that have it (nan if none do)."""
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else float("nan")


def ratio(rows: list[dict]) -> float:
    """Time to TARGET, minifw over scikit-learn: the median of the per-seed ratios, over the
    seeds where both got there (nan if none)."""
    both = [r["seconds"] / r["sk_seconds"] for r in rows if r["iterations"] and r["sk_iterations"]]
    return statistics.median(both) if both else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    peer = has_sklearn()
    rows = measure(range(args.seeds), peer, show=True)
    print(f"minifw L-BFGS: median final evaluation MSE {median(rows, 'final'):.3g} (target <= "
          f"5e-6); median time to {TARGET:g}: {median(rows, 'seconds'):.3f} s")  # fmt: skip
    if peer:
        print(f"scikit-learn L-BFGS: median final evaluation MSE {median(rows, 'sk_final'):.3g}; "
              f"median time to {TARGET:g}: {median(rows, 'sk_seconds'):.3f} s")  # fmt: skip
        print(f"time to {TARGET:g}, minifw / scikit-learn, median of per-seed ratios: "
              f"{ratio(rows):.2f} (target <= 1.0)")  # fmt: skip
    else:
        print("scikit-learn is not installed: its L-BFGS, the peer, is skipped")


if __name__ == "__main__":
    main()
