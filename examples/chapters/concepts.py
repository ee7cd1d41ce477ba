"""The figures of the Concepts pages (docs/concepts/*.md): ``make(out, epochs) -> [paths]``.

What it teaches: each figure is a few minifw runs drawn side by side with plain
matplotlib, the same runs the pages train in their code blocks.

- concept-normalisation.png: the sigmoid and its slope with the targets of three
  normalisation ranges on it, and what the blog's network learns with each;
- concept-initial-variance.png: Var(z) layer by layer for three initial scales
  (from ``Network.describe``), the median loss of ten seeds for each, and the loss
  after training against the initial scale;
- concept-bias.png: what networks with and without biases learn: a tanh network
  on cos (without biases it is an odd function) and a ReLU network on x² (two
  rays through the origin).

Run it with every other chapter through ``python examples/docs_figures.py``.
"""

import itertools
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from minifw import (
    MSE,
    SGD,
    Dense,
    FunctionSource,
    HeUniform,
    Network,
    Normaliser,
    Trainer,
    VarianceScaling,
    presets,
    stack,
)
from minifw.lab.plotting import save_figure

BLOG_EPOCHS = presets.EPOCHS  # the blog's 3000
INIT_EPOCHS = 1000  # the initial-variance experiment's
BIAS_EPOCHS = 500  # the bias page's networks without bias, trained with Adam
SEEDS = 10
RANGES = [(0.0, 1.0), (0.1, 0.9), (0.2, 0.8)]
SCALES = [0.001, 0.01, 0.1, 0.3, 1.0, 2.0, 5.0, 20.0, 50.0, 200.0]
SHOWN_SCALES = {"too small (0.001)": 0.001, "He (2)": 2.0, "too large (50)": 50.0}


def blog_network(normaliser, seed=0, bias=True):
    """The blog's 2-5-1 sigmoid network with the given normaliser, as the pages build it."""
    init = HeUniform(scale=HeUniform.BLOG_SCALE)
    hidden = Dense(1, 5, "sigmoid", bias=bias, bias_unit=bias, initializer=init)
    output = Dense(5, 1, "sigmoid", bias=False, initializer=init)
    return Network([hidden, output], seed=seed, normaliser=normaliser)


def tanh_network(init, depth=3, width=8, seed=0):
    """1-8-...-8-1: ``depth`` tanh layers of ``width`` units, then an identity output."""
    sizes = [1] + [width] * depth
    layers = [Dense(a, b, "tanh", initializer=init) for a, b in itertools.pairwise(sizes)]
    return Network([*layers, Dense(width, 1, initializer=init)], seed=seed)


def var_z(network):
    """The last column of ``describe()``: the Var(z) it expects of each layer."""
    rows = network.describe().splitlines()[-len(network.layers) :]
    return [float(row.split()[-1]) for row in rows]


def normalisation(out, epochs):
    """The sigmoid's flat ends against three target ranges, and five seeds' fits for two."""
    source = FunctionSource(np.sin, (0, 6.28), 32)
    x_train, y_train = source.arrays()
    x_eval, y_eval = source.evaluation_arrays()
    figure = Figure(figsize=(18, 5.5), layout="constrained")
    left, *fits = figure.subplots(1, 3)

    z = np.linspace(-7, 7, 400)
    y = 1 / (1 + np.exp(-z))
    left.plot(z, y, color="black", label="sigmoid(z)")
    left.plot(z, y * (1 - y), color="grey", linestyle="--", label="its slope y(1 - y)")
    for (low, high), color in zip(RANGES, ["tab:red", "tab:orange", "tab:green"], strict=True):
        targets = Normaliser((-1, 1), (low, high)).forward(y_train).ravel()
        inside = np.clip(targets, 1e-3, 1 - 1e-3)  # 0 and 1 themselves lie at z = ∓infinity
        left.plot(
            np.log(inside / (1 - inside)),
            targets,
            "o",
            color=color,
            alpha=0.6,
            label=f"sin's 32 targets in ({low:g}, {high:g})",
        )
    left.set(
        xlabel="z, the output unit's weighted sum (0 and 1 drawn at z = ∓6.9)",
        ylabel="output",
        title="Where the targets sit on the sigmoid",
    )
    left.legend(loc="center right", fontsize=9)

    dense = np.linspace(0, 6.28, 300).reshape(-1, 1)
    for ax, (low, high) in zip(fits, [RANGES[0], RANGES[2]], strict=True):
        networks = stack(
            [blog_network(Normaliser((-1, 1), (low, high)), seed) for seed in range(5)]
        )
        Trainer(networks, MSE(), SGD(lr=0.9), batch_size=4, shuffle=False).fit(source, epochs)
        errors = np.mean((networks.predict(x_eval) - y_eval) ** 2, axis=(1, 2))
        curves = networks.predict(dense)  # (seeds, points, 1)
        ax.plot(x_train, y_train, "o", color="black", markersize=4, label="sin(x)")
        for seed, (curve, error) in enumerate(zip(curves, errors, strict=True)):
            ax.plot(dense, curve, label=f"seed {seed}: evaluation MSE {error:.3g}")
        ax.set(
            xlabel="x",
            ylabel="y, in sin's units",
            ylim=(-1.15, 1.15),
            title=f"Targets in ({low:g}, {high:g}): the blog's network, {epochs} epochs",
        )
        ax.legend(loc="lower left", fontsize=9)
    return save_figure(figure, out / "concept-normalisation.png")


def initial_variance(out, epochs):
    """Var(z) by layer, the loss curves, and the final loss against the initial scale."""
    source = FunctionSource(np.sin, (-3, 3), 32)
    figure = Figure(figsize=(16, 5), layout="constrained")
    depth_axes, loss_axes, scale_axes = figure.subplots(1, 3)

    finals = {}
    for scale in SCALES:
        networks = stack([tanh_network(VarianceScaling(scale=scale), seed=s) for s in range(SEEDS)])
        trainer = Trainer(networks, MSE(), SGD(lr=0.02), batch_size=4, shuffle=False)
        losses = np.array(trainer.fit(source, epochs).loss)  # (epochs, seeds)
        finals[scale] = losses[-1]
        for name, shown in SHOWN_SCALES.items():
            if shown == scale:
                loss_axes.plot(np.arange(1, len(losses) + 1), np.median(losses, axis=1), label=name)
                depth = var_z(tanh_network(VarianceScaling(scale=scale), depth=10))
                depth_axes.plot(range(len(depth)), depth, "o-", label=name)

    depth_axes.set(
        yscale="log",
        xlabel="layer (10 tanh layers of 8, then the output)",
        ylabel="Var(z) at the start",
        title="describe(): Var(z) layer by layer",
    )
    depth_axes.legend(fontsize=9)
    loss_axes.set(
        yscale="log",
        xscale="log",
        xlabel="epoch",
        ylabel="training loss",
        title=f"1-8-8-8-1 tanh on sin: median of {SEEDS} seeds",
    )
    loss_axes.legend(fontsize=9)

    scales = np.array(SCALES)
    final = np.array([finals[s] for s in SCALES])  # (scales, seeds)
    median = np.median(final, axis=1)
    scale_axes.fill_between(
        scales, final.min(axis=1), final.max(axis=1), alpha=0.25, label="best to worst seed"
    )
    scale_axes.plot(scales, median, "o-", label="median")
    scale_axes.axvline(2.0, color="grey", linestyle=":", label="He (2)")
    scale_axes.axvline(HeUniform.BLOG_SCALE, color="grey", linestyle="--", label="the blog's (2/3)")
    scale_axes.set(
        xscale="log",
        yscale="log",
        xlabel="scale: Var(W) = scale / fan_in",
        ylabel=f"loss after {epochs} epochs",
        title="The loss after training, against the initial scale",
    )
    scale_axes.legend(fontsize=9)
    return save_figure(figure, out / "concept-initial-variance.png")


def bias(out, epochs):
    """What networks without any bias can draw: tanh on cos (odd), ReLU on x² (two rays)."""
    cases = [
        ("tanh", "8-8 tanh, identity output", np.cos, "cos(x)", (-3.0, 3.0)),
        ("relu", "16 ReLU, identity output", np.square, "x²", (-1.0, 1.0)),
    ]
    figure = Figure(figsize=(13, 5), layout="constrained")
    for ax, (activation, shape, f, name, (low, high)) in zip(
        figure.subplots(1, 2), cases, strict=True
    ):
        source = FunctionSource(f, (low, high), 32)
        margin = (high - low) / 4
        dense = np.linspace(low - margin, high + margin, 400).reshape(-1, 1)
        ax.plot(dense, f(dense), color="black", linestyle=":", label=name)
        for with_bias in (True, False):
            widths = [8, 8] if activation == "tanh" else [16]
            sizes = [1, *widths]
            layers = [Dense(a, b, activation, bias=with_bias) for a, b in itertools.pairwise(sizes)]
            network = Network([*layers, Dense(sizes[-1], 1, bias=with_bias)], seed=0)
            result = Trainer(network, MSE(), "adam:lr=0.01", batch_size=8).fit(source, epochs)
            label = (
                f"{'with' if with_bias else 'without'} biases: final loss {result.final_loss:.2g}"
            )
            ax.plot(dense, network.predict(dense), label=label)
        ax.axvspan(low - margin, low, color="grey", alpha=0.1)
        ax.axvspan(high, high + margin, color="grey", alpha=0.1)
        ax.axvline(0.0, color="grey", linestyle=":")
        ax.set(xlabel="x", ylabel="y", title=f"{shape}, learning {name} ({epochs} epochs, Adam)")
        ax.legend(fontsize=9)
    return save_figure(figure, out / "concept-bias.png")


def make(out: Path, epochs: int | None) -> list[Path]:
    """Write the Concepts pages' figures into ``out``; ``epochs`` cuts every run short."""
    out = Path(out)
    return [
        normalisation(out, epochs or BLOG_EPOCHS),
        initial_variance(out, epochs or INIT_EPOCHS),
        bias(out, epochs or BIAS_EPOCHS),
    ]
