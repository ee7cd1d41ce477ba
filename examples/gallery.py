"""Regenerate every image of the gallery, docs/gallery.md, into docs/images.

What it teaches: each figure of ``minifw.lab.plotting`` is one call on a trained
run, and figures teach most side by side. The blog's network inside its
training domain and past it; a ReLU network whose units died; the loss of the
blog's three activations, and of a run with a quarter of its points held out;
the blog's fit and error against a better network's; a two-input target as heat
maps; and a film of the blog's training, with what the film cost against the
training it shows. Every figure is drawn without a display (no pyplot, no window).

Run it from anywhere after changing the library or one of the gallery's runs::

    python examples/gallery.py                       # every image into docs/images, ~10 s
    python examples/gallery.py --out /tmp/gallery    # the same images into /tmp/gallery
    python examples/gallery.py --epochs 30 --out /tmp/quick   # every run cut to 30 epochs

It prints each file it writes, how many ReLU units died (counted, not assumed)
and the film's frames and seconds beside the training's seconds.
"""

import argparse
import time
from pathlib import Path

from minifw import presets
from minifw.lab.plotting import (
    TrainingFilm,
    blog_figure,
    dead_units,
    error_figure,
    fit_figure,
    heatmap_figure,
    hidden_units_figure,
    loss_figure,
    overview_figure,
    save_figure,
)

DOCS_IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
EPOCHS = presets.EPOCHS  # the blog's 3000, for every run with one input
RIPPLE_EPOCHS = 400  # the two-input run: 225 points in batches of 16 learn the ripple in 400
UPDATES_PER_EPOCH = 8  # 32 points in batches of 4


def better_run(epochs):
    """examples/sine_better.py's network: tanh 8-8, identity output, Adam eased down by a
    cosine schedule over all of the run's updates."""
    return presets.experiment(
        layers=(8, 8),
        activation="tanh",
        output_activation="identity",
        optimizer="adam",
        lr=0.005,
        schedule=f"cosine:decay_steps={epochs * UPDATES_PER_EPOCH}",
    )


def ripple_run():
    """A 2-16-16-1 tanh network on the ripple, sampled on a 15 x 15 grid."""
    return presets.experiment(
        target="ripple",
        samples=15,
        layers=(16, 16),
        activation="tanh",
        output_activation="identity",
        optimizer="adam",
        lr=0.01,
        batch_size=16,
        shuffle=True,
    )


def relu_run():
    """The blog's ReLU network at a seed that loses three of its five units in 3000 epochs."""
    return presets.blog("relu", seed=1)


def dead_count(run):
    """(dead, units) of the hidden layer: units that pass no gradient at any training input."""
    dead = dead_units(run.network, run.source.arrays()[0])[0]
    return int(dead.sum()), dead.size


def save(figure, path):
    """Write ``figure`` to ``path`` and say so."""
    print(f"wrote {save_figure(figure, path)}")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Regenerate the images of docs/gallery.md.")
    parser.add_argument(
        "--epochs",
        type=int,
        help=f"train every run for N epochs (default: each run's own, {EPOCHS}, "
        f"and {RIPPLE_EPOCHS} for the two-input run)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DOCS_IMAGES,
        help="directory to write the images into (default: the repository's docs/images)",
    )
    args = parser.parse_args(argv)
    began = time.perf_counter()
    epochs = args.epochs or EPOCHS
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    # (g) The blog's run, seed 0, filmed as it trains; the film is written when training ends.
    film = TrainingFilm(out / "film.gif", frames=40, spacing="log")
    sigmoid = presets.blog("sigmoid", seed=0, callbacks=[film])
    sigmoid_fit = sigmoid.fit(epochs)
    print(f"wrote {film.path}")
    print(
        f"film: {len(film.snapshots)} frames, written in {film.seconds:.2f} s; "
        f"the training it shows took {sigmoid_fit.seconds:.2g} s"
    )

    # (a) The blog's three graphs, as the tutorial and the README show them.
    title = (
        f"minifw, the blog's sigmoid network (seed 0): {sigmoid_fit.epochs} epochs, "
        f"final loss {sigmoid_fit.final_loss:.4g}, evaluation MSE {sigmoid.evaluation_mse():.4g}"
    )
    figure = blog_figure(sigmoid.network, sigmoid.source, sigmoid_fit.loss, title=title)
    save(figure, out / "blog.png")

    # (b) The same network from x = -2 to 9: it learned sin on [0, 6.28] only.
    figure = overview_figure(sigmoid.network, sigmoid.source, sigmoid_fit, domain=(-2, 9))
    figure.suptitle("The blog's sigmoid network on [-2, 9], trained on [0, 6.28] only")
    save(figure, out / "overview.png")

    # (c) Dead ReLU units: no gradient reaches them at any training input.
    relu = relu_run()
    relu_fit = relu.fit(epochs)
    dead, units = dead_count(relu)
    figure = hidden_units_figure(relu.network, relu.source, domain=(-2, 9))
    figure.suptitle(
        f"The blog's ReLU network (seed 1), {relu_fit.epochs} epochs: "
        f"evaluation MSE {relu.evaluation_mse():.3g}"
    )
    print(
        f"dead ReLU units: {dead} of {units} ({relu_fit.epochs} epochs); "
        f"the figure's title: {figure.axes[0].get_title()!r}"
    )
    save(figure, out / "hidden_relu.png")
    figure = fit_figure(relu.network, relu.source)
    figure.suptitle(f"What its {units - dead} live units add up to")
    save(figure, out / "fit_relu.png")

    # (d) Loss curves: the blog's three activations; then a quarter of the points held out.
    tanh, relu0 = presets.blog("tanh", seed=0), presets.blog("relu", seed=0)
    tanh_fit, relu0_fit = tanh.fit(epochs), relu0.fit(epochs)
    runs = {
        f"{name} (evaluation MSE {run.evaluation_mse():.3g})": fit
        for name, run, fit in (
            ("sigmoid", sigmoid, sigmoid_fit),
            ("tanh", tanh, tanh_fit),
            ("relu", relu0, relu0_fit),
        )
    }
    figure = loss_figure(runs, title="The blog's three activations, seed 0")
    save(figure, out / "loss.png")

    held = presets.experiment(validation=0.25, seed=0)
    held_fit = held.fit(epochs)
    lowest = min(range(len(held_fit.val_loss)), key=held_fit.val_loss.__getitem__) + 1
    figure = loss_figure({"sigmoid": held_fit}, title="8 of the blog's 32 points held out")
    save(figure, out / "loss_validation.png")
    print(f"validation loss lowest at epoch {lowest} of {held_fit.epochs}")

    # (e) Target against learned, and the error, of the blog's network and a better one.
    better = better_run(epochs)
    better_fit = better.fit(epochs)
    blog_name = "The blog's network: 2-5-1 sigmoid, SGD"
    better_name = "A better network: 1-8-8-1 tanh, identity output, Adam, cosine schedule"
    figure = fit_figure(sigmoid.network, sigmoid.source)
    figure.suptitle(blog_name)
    save(figure, out / "fit_blog.png")
    figure = error_figure(sigmoid.network, sigmoid.source)
    figure.suptitle(blog_name)
    save(figure, out / "error_blog.png")
    figure = fit_figure(better.network, better.source)
    figure.suptitle(better_name)
    save(figure, out / "fit_better.png")
    figure = error_figure(better.network, better.source)
    figure.suptitle(better_name)
    save(figure, out / "error_better.png")
    print(
        f"evaluation MSE: blog {sigmoid.evaluation_mse():.3g}, better "
        f"{better.evaluation_mse():.3g}, {better_fit.epochs} epochs each"
    )

    # (f) Two inputs: target, prediction and error as heat maps.
    ripple = ripple_run()
    ripple_fit = ripple.fit(args.epochs or RIPPLE_EPOCHS)
    figure = heatmap_figure(ripple.network, ripple.source)
    figure.set_size_inches(15.6, 5.2)  # square maps, so that the ripple's rings look round
    figure.suptitle(
        f"2-16-16-1 tanh network on the ripple, {ripple_fit.epochs} epochs: "
        f"evaluation MSE {ripple.evaluation_mse():.3g}"
    )
    save(figure, out / "heatmap_ripple.png")

    print(f"done in {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
