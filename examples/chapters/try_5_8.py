"""The figures of "Try this" chapters 5 to 8: the learning rate, no bias, initial weights,
and the final error against the time taken (docs/try/learning-rate.md, no-bias.md,
initial-weights.md and error-and-time.md).

What it teaches: each chapter's figure comes from the same runs its page trains (the
same sweeps, grids and seeds), so the picture and the printed numbers tell one story.
Sweep figures come from ``minifw.lab.sweep_report``; the side-by-side panels are
``minifw.lab.plotting``'s panels placed on one matplotlib ``Figure``.

    python examples/docs_figures.py     # every figure of the docs, these among them

``make(out, epochs)`` writes the PNGs into ``out``; ``epochs`` None trains each run for
its own epochs (the blog's 3000), a number cuts every run short (for tests).
"""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import minifw
from minifw import DataSource, Dense, Network, RunConfig, presets
from minifw.lab.plotting import save_figure
from minifw.lab.plotting.panels import FitPanel, HiddenUnitsPanel
from minifw.lab.plotting.scene import Scene, Snapshot
from minifw.lab.sweep_report import fits_figure, loss_spread_figure, pareto_figure

from .try_1_4 import side_by_side

EPOCHS = presets.EPOCHS  # the blog's 3000

# The sweeps, exactly as the pages run them.
LR_GRID = {"lr": [0.1, 0.3, 0.9, 3.0, 10.0, 20.0]}
LR_TARGET = 0.015
BATCH_GRID = {"batch_size": [2, 4, 8, 16, 32]}
BATCH_TARGET = 0.015
SEEDS = 10

# Chapter 6's least-squares fit: twenty bias-free units, their slopes fixed evenly over [-4, 4].
LEAST_SQUARES_SLOPES = np.linspace(-4, 4, 20)

# Chapter 7's starts, left to right: none at all, far too small, the blog's, He's, far too large.
INIT_STARTS = {
    "zeros": "all weights 0",
    "variance_scaling:scale=0.01": "Var(W) = 0.01 / fan_in",
    "blog_uniform": "the blog's, Var(W) = (2/3) / fan_in",
    "he_uniform": "He's, Var(W) = 2 / fan_in",
    "variance_scaling:scale=100": "Var(W) = 100 / fan_in",
}
FIT_COLUMNS = 3  # panels per row in the fits figure of chapter 5


def learning_rate(out, epochs):
    """Chapter 5: the sigmoid network over six learning rates and ten seeds; the loss per
    epoch (median and quartile band) and every seed's learned curve, a panel per rate."""
    results = minifw.sweep(
        RunConfig(epochs=epochs or EPOCHS), grid=LR_GRID, seeds=SEEDS, target_loss=LR_TARGET
    )
    loss = loss_against_target(
        results,
        LR_TARGET,
        "The blog's network, six learning rates, 10 seeds each: median loss per epoch",
        out / "try-lr-loss.png",
    )
    figure = in_rows(fits_figure(results, presets.blog().source), FIT_COLUMNS)
    fits = save_figure(figure, out / "try-lr-fits.png")
    return [loss, fits]


def loss_against_target(results, target, title, path):
    """A sweep's loss per epoch (median and quartile band per grid point) with the target
    loss dotted across it, written to ``path``; the path."""
    figure = loss_spread_figure(results)
    axes = figure.axes[0]
    axes.axhline(target, color="black", lw=0.8, ls=":", label=f"target loss {target}")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    axes.set_title(title)
    return save_figure(figure, path)


def in_rows(figure, columns):
    """A ``fits_figure`` laid out ``columns`` panels wide (it puts one grid key's values in
    one row, which for six learning rates is a strip too wide to read)."""
    panels = list(figure.axes)
    rows = -(-len(panels) // columns)
    width, height = 3.6, 2.8  # sweep_report's panel size, inches
    figure.set_size_inches(width * columns, height * rows + 0.8)
    grid = figure.add_gridspec(rows, columns)
    for i, axes in enumerate(panels):
        axes.set_subplotspec(grid[divmod(i, columns)])
    return figure


def no_bias(out, epochs):
    """Chapter 6: the blog's network with and without its bias unit, seed 0: the hidden
    units from x = -3 to 9, so that the middle of every unit's step is in view (top), and
    what they add up to (bottom)."""
    figure = Figure(figsize=(10.4, 7.8), layout="constrained")
    grid = figure.add_gridspec(2, 2)
    for column, (bias, name) in enumerate(((True, "With the bias unit, 2-5-1"),
                                           (False, "Without it, 1-5-1"))):  # fmt: skip
        run = presets.blog(bias=bias)
        run.fit(epochs or EPOCHS)
        scene = Scene.of(run.source, (-3, 9))
        axes = figure.add_subplot(grid[0, column])
        HiddenUnitsPanel(scene).draw(axes, Snapshot.take(run.network, scene))
        axes.axvline(0.0, color="black", lw=0.8, ls=":")
        axes.set_title(f"{name}: the hidden units", fontsize=10)
        scene = Scene.of(run.source)
        axes = figure.add_subplot(grid[1, column])
        FitPanel(scene).draw(axes, Snapshot.take(run.network, scene, units=False))
        error = f"evaluation MSE {run.evaluation_mse():.3g}"
        axes.set_title(f"{name}: {error}\n{axes.get_title()}", fontsize=10)
    figure.suptitle("The blog's network, seed 0, with and without a bias on its hidden units")
    return [save_figure(figure, out / "try-bias.png")]


def least_squares_network(slopes: np.ndarray, source: DataSource) -> Network:
    """Chapter 6's 1-n-1 network: bias-free sigmoid units with the given ``slopes`` (fixed, not
    trained), and an identity output without bias whose weights are the least-squares fit
    (``numpy.linalg.lstsq``) of the units' outputs to ``source``'s training targets."""
    hidden = Dense(1, len(slopes), "sigmoid", bias=False)
    output = Dense(len(slopes), 1, bias=False)
    network = Network([hidden, output])
    hidden.weights = np.reshape(slopes, (1, -1))
    x, y = source.arrays()
    units = network.layer_outputs(x)[0]
    output.weights = np.linalg.lstsq(units, y, rcond=None)[0]
    return network


def no_bias_least_squares(out, epochs):
    """Chapter 6: twenty bias-free units, trained by SGD with the blog's settings (seed 0), beside
    twenty bias-free units with fixed slopes whose output weights are solved by least squares:
    the hidden units (top) and what they add up to (bottom)."""
    sgd = presets.experiment(bias=False, layers=(20,))
    sgd.fit(epochs or EPOCHS)
    fitted = least_squares_network(LEAST_SQUARES_SLOPES, sgd.source)
    runs = {}
    for title, network in (
        ("SGD, the blog's settings and sigmoid output, seed 0", sgd.network),
        ("slopes fixed over [-4, 4], identity output by least squares", fitted),
    ):
        largest = np.abs(network.layers[-1].weights).max()
        runs[f"{title}\nlargest output weight {largest:.3g}"] = (network, sgd.source)
    suptitle = "Twenty hidden units without a bias, on sin: two ways to choose the weights"
    figure = side_by_side(runs, suptitle=suptitle)
    return [save_figure(figure, out / "try-bias-least-squares.png")]


def initial_weights(out, epochs):
    """Chapter 7: the hidden units of the blog's network, seed 0, from five starts (all
    zeros, far too small, the blog's, He's, far too large): as drawn (top) and after
    training (bottom)."""
    panels = []  # (row, column, title, scene, snapshot)
    for column, (init, words) in enumerate(INIT_STARTS.items()):
        run = presets.experiment(init=init)
        scene = Scene.of(run.source)
        before = Snapshot.take(run.network, scene)  # its own copies: training leaves it be
        panels.append((0, column, f"{init}\n{words}: as drawn", scene, before))
        run.fit(epochs or EPOCHS)
        after = Snapshot.take(run.network, scene)
        title = f"after training: evaluation MSE {run.evaluation_mse():.3g}"
        panels.append((1, column, title, scene, after))
    figure = Figure(figsize=(4.2 * len(INIT_STARTS), 7.0), layout="constrained")
    grid = figure.add_gridspec(2, len(INIT_STARTS))
    for row, column, title, scene, snapshot in panels:
        axes = figure.add_subplot(grid[row, column])
        HiddenUnitsPanel(scene).draw(axes, snapshot)
        axes.set_title(title, fontsize=9)
        axes.set_ylim(-0.05, 1.05)
    figure.suptitle("The blog's five hidden units, seed 0, from five initial weights")
    return [save_figure(figure, out / "try-init-hidden.png")]


def error_and_time(out, epochs):
    """Chapter 8: five batch sizes, ten seeds each, with a target loss: each run's error
    against its time (the Pareto front ringed), and the loss per epoch against the target."""
    results = minifw.sweep(
        RunConfig(epochs=epochs or EPOCHS),
        grid=BATCH_GRID,
        seeds=SEEDS,
        target_loss=BATCH_TARGET,
    )
    pareto = save_figure(pareto_figure(results), out / "try-error-time-pareto.png")
    loss = loss_against_target(
        results,
        BATCH_TARGET,
        "The blog's network, five batch sizes, 10 seeds each: median loss per epoch",
        out / "try-error-time-loss.png",
    )
    return [pareto, loss]


def make(out: Path, epochs: int | None) -> list[Path]:
    """Write the figures of chapters 5 to 8 into ``out``; the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    chapters = (learning_rate, no_bias, no_bias_least_squares, initial_weights, error_and_time)
    for chapter in chapters:
        paths += chapter(out, epochs)
    return paths
