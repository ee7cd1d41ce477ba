"""Sigmoid, tanh and ReLU on the blog's task, each over several seeds.

What it teaches: one run says little, because the starting weights matter (try
``minifw train --seed 1``), so compare medians over seeds. And compare the right
number: the training loss is measured on targets mapped into each activation's
own range, so only the evaluation MSE, in sin's units, is comparable across rows.

Each activation keeps the blog's own settings (normalisation range and step L);
``minifw.presets.blog`` holds them. Run it::

    python examples/compare_activations.py               # 3 x 5 runs of 3000 epochs, about 6 s
    python examples/compare_activations.py --seeds 10 --epochs 10000 --out /tmp

The table is also written to DIR/activations.csv, for a spreadsheet or a plot.
"""

import argparse
import csv
import statistics
from pathlib import Path

from minifw import presets


def medians(activation, seeds, epochs):
    """Median final loss, evaluation MSE and seconds of ``activation`` over ``seeds``."""
    losses, errors, seconds = [], [], []
    for seed in seeds:
        run = presets.blog(activation, seed=seed)
        result = run.fit(epochs)
        losses.append(result.final_loss)
        errors.append(run.evaluation_mse())
        seconds.append(result.seconds)
    return [statistics.median(values) for values in (losses, errors, seconds)]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Compare the blog's three activations.")
    parser.add_argument("--epochs", type=int, default=presets.EPOCHS, help="default: %(default)s")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("."), help="where activations.csv goes")
    args = parser.parse_args(argv)
    seeds = range(args.seeds)

    rows = []
    print(f"Medians over seeds 0..{args.seeds - 1}, {args.epochs} epochs each")
    print(f"{'activation':<11} {'final loss':>11} {'eval MSE':>9} {'time (s)':>9}  target range")
    for name, setting in presets.SETTINGS.items():
        loss, error, seconds = medians(name, seeds, args.epochs)
        rows.append([name, loss, error, seconds])
        print(f"{name:<11} {loss:>11.4g} {error:>9.4g} {seconds:>9.3f}  {setting.output_range}")
    print("The final loss is on targets mapped into each row's target range;")
    print("the evaluation MSE is on sin(x) itself, so compare that column.")

    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "activations.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["activation", "median_final_loss", "median_eval_mse", "median_seconds"])
        writer.writerows(rows)


if __name__ == "__main__":
    main()
