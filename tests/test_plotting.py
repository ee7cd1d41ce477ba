"""The blog's figure: what it draws, where, and how it is written."""

import os

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from minifw import Plotter
from minifw.lab.plotting import blog_figure, save_figure
from minifw.run.presets import blog


@pytest.fixture(scope="module")
def trained():
    run = blog("sigmoid", seed=0)
    return run, run.fit(3000)


def pixels(figure):
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].astype(int)


def inside(axes, figure, ys, xs):
    """Which pixel coordinates (rows from the top) fall inside ``axes``."""
    box = axes.get_window_extent()
    height = figure.bbox.height
    return (xs >= box.x0) & (xs <= box.x1) & (height - ys >= box.y0) & (height - ys <= box.y1)


def test_figure_has_the_blogs_three_graphs(trained):
    run, result = trained
    figure = blog_figure(run.network, run.source, result.loss, title="t")
    loss_axes, hidden_axes, fit_axes = figure.axes
    assert loss_axes.get_yscale() == "log"
    np.testing.assert_array_equal(loss_axes.lines[0].get_ydata(), result.loss)
    assert len(hidden_axes.lines) == 5  # one line per hidden unit
    target, learned = fit_axes.lines
    x_train, y_train = run.source.arrays()
    np.testing.assert_array_equal(target.get_xdata(), x_train[:, 0])
    np.testing.assert_array_equal(target.get_ydata(), y_train[:, 0])
    x_eval, _ = run.source.evaluation_arrays()
    np.testing.assert_allclose(learned.get_xdata(), x_eval[:, 0])
    np.testing.assert_allclose(learned.get_ydata(), run.network.predict(x_eval)[:, 0])


def test_red_target_and_blue_learned_dots_are_drawn_inside_their_graph(trained):
    run, result = trained
    figure = blog_figure(run.network, run.source, result.loss)
    image = pixels(figure)
    fit_axes = figure.axes[2]
    for colour in ([255, 0, 0], [0, 0, 255]):
        ys, xs = np.nonzero(np.all(image == colour, axis=-1))
        assert len(ys) > 200, colour  # 32 dots of about 30 pixels each
        assert inside(fit_axes, figure, ys, xs).mean() > 0.95, colour


def test_learned_dots_lie_near_the_target_when_the_fit_is_good(trained):
    run, result = trained
    figure = blog_figure(run.network, run.source, result.loss)
    image = pixels(figure)
    fit_axes = figure.axes[2]
    ys, xs = np.nonzero(np.all(image == [0, 0, 255], axis=-1))
    keep = inside(fit_axes, figure, ys, xs)
    height = figure.bbox.height
    # Back from pixels to data coordinates, then compare the blue dots with sin there.
    data = fit_axes.transData.inverted().transform(np.column_stack([xs[keep], height - ys[keep]]))
    assert np.median(np.abs(data[:, 1] - np.sin(data[:, 0]))) < 0.15


def test_save_is_atomic_and_follows_the_suffix(trained, tmp_path):
    run, result = trained
    figure = blog_figure(run.network, run.source, result.loss)
    target = tmp_path / "fig.png"
    target.write_bytes(b"old contents")
    with pytest.raises(ValueError):
        save_figure(figure, tmp_path / "fig.notaformat")
    save_figure(figure, tmp_path / "fig.svg")
    assert (tmp_path / "fig.svg").read_text().lstrip().startswith("<?xml")
    assert target.read_bytes() == b"old contents"
    assert sorted(os.listdir(tmp_path)) == ["fig.png", "fig.svg"]  # no temporary files left


def test_plotter_callback_writes_the_figure_when_training_ends(tmp_path):
    path = tmp_path / "blog.png"
    run = blog("tanh", callbacks=[Plotter(path)])
    run.fit(10)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
