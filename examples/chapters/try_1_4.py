"""The figures of "Try this" chapters 1 to 4: epochs and batch size, activations, other
functions and domains, and the hidden layer's size (docs/try/epochs-and-batch-size.md,
activations.md, functions-and-domains.md and hidden-size.md).

What it teaches: each figure comes from the runs its page trains (the same sweeps, grids
and seeds, or the same one-line change at seed 0), so the picture and the printed numbers
tell one story. Sweep figures come from ``minifw.lab.sweep_report``; the side-by-side panels
are ``minifw.lab.plotting``'s panels placed on one matplotlib ``Figure``.

    python examples/docs_figures.py     # every figure of the docs, these among them

``make(out, epochs)`` writes the PNGs into ``out``; ``epochs`` None trains each run for
its own epochs, a number cuts every run short (for tests).
"""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import minifw
from minifw import RunConfig, presets
from minifw.lab.plotting import loss_figure, save_figure
from minifw.lab.plotting.panels import FitPanel, HiddenUnitsPanel
from minifw.lab.plotting.scene import Scene, Snapshot
from minifw.lab.sweep_report import fits_figure, loss_spread, point_sources

EPOCHS = presets.EPOCHS  # the blog's 3000
SEEDS = 10
UPDATES = 24_000  # the blog's budget: 3000 epochs of 8 batches of 4

# The sweeps, exactly as the pages run them.
LONG_EPOCHS = 10_000  # chapter 1's longest run, and chapter 4's
BATCH_SIZES = (1, 4, 32)  # chapter 1, each given the blog's 24,000 updates in the figure
ACTIVATION_GRID = {"activation": ["sigmoid", "tanh", "relu"], "lr": [0.001, 0.01, 0.1, 0.9]}
UNIT_RUNS = {  # chapter 2's second figure, seed 0: title -> presets.experiment's settings
    "sigmoid, lr 0.9": {"activation": "sigmoid", "lr": 0.9},
    "tanh, lr 0.1": {"activation": "tanh", "lr": 0.1},
    "relu, lr 0.001": {"activation": "relu", "lr": 0.001},
    "tanh, identity output, lr 0.1": {
        "activation": "tanh",
        "output_activation": "identity",
        "lr": 0.1,
    },
}
TARGET_GRID = {"target": ["sin", "cos", "gauss", "sinc"]}
DOMAIN_GRID = {"domain": [[0, 6.28], [-6.28, 6.28], [0, 12.56], [-12.56, 0]]}
HIDDEN_SIZES = (1, 2, 5, 10)  # chapter 4's figure, seed 0


def _cut(real, epochs):
    """A run's epochs: its ``real`` ones, or ``epochs`` when that cuts it short."""
    return real if epochs is None else min(real, epochs)


def side_by_side(runs: dict, *, suptitle: str) -> Figure:
    """Hidden units (top) and target against learned (bottom), a column per run;
    ``runs`` maps a column title to (network, source). Chapter 6 draws with it too."""
    figure = Figure(figsize=(5.4 * len(runs), 7.4), layout="constrained")
    grid = figure.add_gridspec(2, len(runs))
    for column, (title, (network, source)) in enumerate(runs.items()):
        scene = Scene.of(source)
        axes = figure.add_subplot(grid[0, column])
        HiddenUnitsPanel(scene).draw(axes, Snapshot.take(network, scene))
        axes.set_title(f"{title}\n{axes.get_title()}", fontsize=10)
        axes = figure.add_subplot(grid[1, column])
        FitPanel(scene).draw(axes, Snapshot.take(network, scene, units=False))
        axes.title.set_fontsize(9)
    figure.suptitle(suptitle)
    return figure


def epochs_and_batch_size(out, epochs):
    """Chapter 1: ten seeds of the blog's network for 10,000 epochs, each run's loss per
    epoch; then batch sizes 1, 4 and 32 given the same 24,000 updates, the median loss
    (and the quartile band) against the number of updates."""
    long = _cut(LONG_EPOCHS, epochs)
    results = minifw.sweep(RunConfig(epochs=long), grid={}, seeds=SEEDS)
    runs = {f"run {row.repeat}": row.loss_history for row in results}
    figure = loss_figure(runs, title=f"The blog's network, {SEEDS} seeds, {long} epochs")
    axes = figure.axes[0]
    if long > EPOCHS:  # mark the blog's budget
        axes.axvline(EPOCHS, color="black", lw=0.8, ls=":")
        axes.text(EPOCHS * 1.02, 0.97, "the blog's 3000 epochs",
                  transform=axes.get_xaxis_transform(), va="top", fontsize=9)  # fmt: skip
    axes.legend(loc="upper right", ncols=2, fontsize=8)
    paths = [save_figure(figure, out / "try-epochs.png")]

    figure = Figure(figsize=(9.0, 5.0), layout="constrained")
    axes = figure.add_subplot()
    for colour, batch_size in zip(("C0", "C1", "C2"), BATCH_SIZES, strict=True):
        per_epoch = presets.SAMPLES // batch_size  # updates per epoch
        run_epochs = _cut(UPDATES // per_epoch, epochs)
        config = RunConfig(batch_size=batch_size, epochs=run_epochs)
        low, median, high = loss_spread(list(minifw.sweep(config, grid={}, seeds=SEEDS)))
        updates = np.arange(1, len(median) + 1) * per_epoch
        axes.fill_between(updates, low, high, color=colour, alpha=0.2, lw=0)
        label = f"batch {batch_size} (lr {presets.mse_lr(0.45, batch_size):g}), {run_epochs} epochs"
        axes.plot(updates, median, color=colour, lw=1.5, label=label)
    axes.set_yscale("log")
    axes.set(
        title=f"The same {UPDATES:,} updates: median loss over {SEEDS} seeds, quartiles shaded",
        xlabel="updates (weight changes)",
        ylabel="mean training loss (normalised)",
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="lower left")
    paths.append(save_figure(figure, out / "try-batch-size.png"))
    return paths


def activations(out, epochs):
    """Chapter 2: the blog's three activations at four learning rates, ten seeds each (every
    seed's learned curve, a panel per point); then what each builds its curve from at its
    step, seed 0, and tanh with an identity output: the hidden units and the fit."""
    config = RunConfig(epochs=_cut(EPOCHS, epochs))
    results = minifw.sweep(config, grid=ACTIVATION_GRID, seeds=SEEDS)
    figure = fits_figure(results, point_sources(config))
    figure.suptitle(
        f"The blog's three activations at four learning rates: {SEEDS} seeds each, "
        "one blue line per seed"
    )
    paths = [save_figure(figure, out / "try-activations.png")]

    runs = {}
    for title, settings in UNIT_RUNS.items():
        run = presets.experiment(**settings)
        run.fit(_cut(EPOCHS, epochs))
        runs[f"{title}: evaluation MSE {run.evaluation_mse():.3g}"] = (run.network, run.source)
    figure = side_by_side(runs, suptitle="What each activation builds its curve from (seed 0)")
    paths.append(save_figure(figure, out / "try-activations-units.png"))
    return paths


def functions_and_domains(out, epochs):
    """Chapter 3: the blog's network on four targets, then on sin over four domains, ten
    seeds each: every seed's learned curve over the target, a panel per point."""
    config = RunConfig(epochs=_cut(EPOCHS, epochs))
    paths = []
    for grid, name, title in (
        (TARGET_GRID, "try-targets.png", "The blog's 2-5-1 network on four targets"),
        (DOMAIN_GRID, "try-domains.png", "The blog's 2-5-1 network on sin, four domains"),
    ):
        results = minifw.sweep(config, grid=grid, seeds=SEEDS)
        figure = fits_figure(results, point_sources(config))
        figure.suptitle(f"{title}: {SEEDS} seeds, one blue line per seed")
        paths.append(save_figure(figure, out / name))
    return paths


def hidden_size(out, epochs):
    """Chapter 4: the blog's network with 1, 2, 5 and 10 hidden units, seed 0, trained for
    10,000 epochs: its units and what they add up to."""
    long = _cut(LONG_EPOCHS, epochs)
    runs = {}
    for hidden in HIDDEN_SIZES:
        run = presets.blog(hidden=hidden)
        run.fit(long)
        runs[f"--hidden {hidden}: evaluation MSE {run.evaluation_mse():.3g}"] = (
            run.network,
            run.source,
        )
    figure = side_by_side(
        runs, suptitle=f"The blog's network with 1, 2, 5 and 10 hidden units, seed 0, {long} epochs"
    )
    return [save_figure(figure, out / "try-hidden-size.png")]


def make(out: Path, epochs: int | None) -> list[Path]:
    """Write the figures of chapters 1 to 4 into ``out``; the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for chapter in (epochs_and_batch_size, activations, functions_and_domains, hidden_size):
        paths += chapter(out, epochs)
    return paths
