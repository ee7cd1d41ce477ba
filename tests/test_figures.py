"""minifw.lab.plotting's figures: what each draws, in which colour and style, and how it is saved.

Data are read back from the artists (lines, patches, images) and compared with what the
network and the target give directly; the pixel tests render with FigureCanvasAgg and look
for a role's exact colour inside one axes, as tests/test_plotting.py does.
"""

import io
import math
import re

import helpers
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import TwoSlopeNorm, to_hex, to_rgb
from matplotlib.figure import Figure
from PIL import Image

import minifw
from minifw import ArraySource, ConfigError, Plotter, presets
from minifw.lab.plotting import (
    FIGURE_KINDS,
    Scene,
    blog_figure,
    dead_units,
    error_figure,
    fit_figure,
    heatmap_figure,
    hidden_units_figure,
    loss_figure,
    make_figure,
    overview_figure,
    panels,
    save_figure,
)

WIDE = (-2.0, 9.0)  # past the blog's training domain [0, 6.28] on both sides
TRAIN_HIGH = presets.DOMAIN[1]


@pytest.fixture(scope="module")
def blog_run():
    """The blog's sigmoid network, trained as the blog trains it (fits sin on [0, 6.28])."""
    run = presets.blog("sigmoid", seed=0)
    return run, run.fit(3000)


@pytest.fixture(scope="module")
def ripple_run():
    """A 2-input run, barely trained: the heat-map tests do not depend on the fit's quality."""
    run = helpers.ripple_run()
    return run, run.fit(20)


@pytest.fixture(scope="module")
def val_runs():
    """Two short runs with validation data, so each has a loss and a val_loss."""
    results = {}
    for seed in (0, 1):
        run = presets.experiment(target="sin", validation=0.25, seed=seed)
        results[f"seed {seed}"] = run.fit(15)
    return results


@pytest.fixture(scope="module")
def one_dead_unit():
    """A 1-4-3-1 ReLU network whose unit 1 of the first hidden layer is dead and no other is.

    Every weight is set by hand: the other units get positive weights and biases, so their
    pre-activation is positive at every training input x in [0, 6.28]; unit 1 gets
    z = -x - 0.5 < 0 there, so ReLU passes no gradient through it at any training input.
    """
    run = presets.experiment(target="sin", layers=(4, 3), activation="relu")
    first, second = run.network.layers[:2]
    weights, bias = np.ones((1, 4)), np.full(4, 0.5)
    weights[0, 1], bias[1] = -1.0, -0.5
    first.weights, first.bias = weights, bias
    second.weights, second.bias = np.full((4, 3), 0.5), np.full(3, 0.1)
    return run


def pixels(figure):
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].astype(int)


def rgb(colour):
    return [round(255 * c) for c in to_rgb(colour)]


def inside(box, figure, ys, xs):
    """Which pixel coordinates (rows from the top) fall inside the display-space ``box``."""
    height = figure.bbox.height
    return (xs >= box.x0) & (xs <= box.x1) & (height - ys >= box.y0) & (height - ys <= box.y1)


def coloured(image, colour):
    """(rows, columns) of the pixels of exactly ``colour``."""
    return np.nonzero(np.all(image == rgb(colour), axis=-1))


def line(axes, label):
    (found,) = [ln for ln in axes.lines if ln.get_label() == label]
    return found


def numbers(text):
    return [float(s) for s in re.findall(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]


def mse(error):
    return float(np.mean(error**2))


# --- every figure: a Figure, saved at figsize x dpi ------------------------------------------


def _figures(blog_run, ripple_run):
    (run, result), (run2, result2) = blog_run, ripple_run
    net, src = run.network, run.source
    made = {
        "loss_figure": lambda: loss_figure({"a": result, "b": result.loss[:100]}),
        "hidden_units_figure": lambda: hidden_units_figure(net, src),
        "fit_figure": lambda: fit_figure(net, src, domain=WIDE),
        "error_figure": lambda: error_figure(net, src),
        "heatmap_figure": lambda: heatmap_figure(run2.network, run2.source),
        "overview_figure": lambda: overview_figure(net, src, result, domain=WIDE),
        "overview_figure (2 inputs)": lambda: overview_figure(run2.network, run2.source, result2),
        "blog_figure": lambda: blog_figure(net, src, result.loss),
    }
    for kind in FIGURE_KINDS:
        chosen = (run2, result2) if kind == "heatmap" else (run, result)
        made[f"make_figure {kind}"] = lambda kind=kind, chosen=chosen: make_figure(
            kind, chosen[0].network, chosen[0].source, chosen[1], title=kind
        )
    return made


FIGURE_NAMES = [
    "loss_figure",
    "hidden_units_figure",
    "fit_figure",
    "error_figure",
    "heatmap_figure",
    "overview_figure",
    "overview_figure (2 inputs)",
    "blog_figure",
    *(f"make_figure {kind}" for kind in FIGURE_KINDS),
]


@pytest.mark.parametrize("name", FIGURE_NAMES)
def test_each_figure_saves_as_png_of_figsize_times_dpi_and_as_svg(name, blog_run, ripple_run):
    figure = _figures(blog_run, ripple_run)[name]()
    assert isinstance(figure, Figure)
    assert figure.axes  # something is drawn
    dpi = 40
    png = save_figure(figure, f"figure-{dpi}.png", dpi=dpi)
    width, height = figure.get_size_inches() * dpi
    with Image.open(png) as image:
        assert image.format == "PNG"
        assert image.size == (round(width), round(height))
    svg = save_figure(figure, "figure.svg")
    head = svg.read_text()[:400].lstrip()
    assert head.startswith("<?xml")
    assert "<svg" in head or "<!DOCTYPE svg" in head


def test_save_figure_uses_the_default_dpi_of_100_and_makes_missing_directories(blog_run):
    _, result = blog_run
    figure = loss_figure({"run": result})
    path = save_figure(figure, "new/dir/loss.png")
    with Image.open(path) as image:
        width, height = figure.get_size_inches() * 100
        assert image.size == (round(width), round(height))


def test_make_figure_kinds_draw_what_their_own_functions_draw(blog_run):
    run, result = blog_run
    net, src = run.network, run.source
    by_kind = {
        "hidden": hidden_units_figure(net, src),
        "fit": fit_figure(net, src),
        "error": error_figure(net, src),
        "loss": loss_figure({"run": result}),
        "overview": overview_figure(net, src, result),
        "blog": blog_figure(net, src, result.loss),
    }
    for kind, expected in by_kind.items():
        made = make_figure(kind, net, src, result)
        assert [a.get_title() for a in made.axes] == [a.get_title() for a in expected.axes], kind
        for got, want in zip(made.axes, expected.axes, strict=True):
            assert len(got.lines) == len(want.lines), kind
            for a, b in zip(got.lines, want.lines, strict=True):
                np.testing.assert_array_equal(a.get_ydata(), b.get_ydata())


def test_make_figure_shows_its_title(blog_run):
    run, result = blog_run
    for kind in FIGURE_KINDS:
        if kind == "heatmap":
            continue
        figure = make_figure(kind, run.network, run.source, result, title=f"the {kind} one")
        if kind == "loss":  # the loss figure's one graph takes the title as its own
            assert figure.axes[0].get_title() == "the loss one"
        else:
            assert figure.get_suptitle() == f"the {kind} one", kind


# Titles from file names: never mathematics, never a crash in the font code. A '$' pair made
# matplotlib typeset the name (or fail: "$x^{$" does not parse); a name that was not UTF-8
# reaches Python with lone surrogates, which the font code cannot encode.
HOSTILE_TITLES = ["runs/a$x^{$.npz", "price $5 and $6.npz", "bad\udcffname.npz", "x\ud800.npz"]


def drawn_text(text):
    """What matplotlib draws for a Text's string: (text, whether it is parsed as mathematics)."""
    from matplotlib.text import Text

    return Text(text=text)._preprocess_math(text)


@pytest.mark.parametrize("title", HOSTILE_TITLES)
@pytest.mark.parametrize("kind", ["loss", "fit"])  # its graph's title, and the figure's
def test_a_title_is_drawn_as_it_is_never_as_mathematics(blog_run, kind, title):
    run, result = blog_run
    figure = make_figure(kind, run.network, run.source, result, title=title)
    text = figure.axes[0].get_title() if kind == "loss" else figure.get_suptitle()
    shown, math = drawn_text(text)
    assert not math
    if "$" in title:
        assert shown == title  # every character as it is
    else:  # the bytes that are not UTF-8 as the replacement character (or "?")
        assert shown.endswith(".npz") and ("\ufffd" in shown or "?" in shown)
    for suffix in ("png", "svg"):
        figure.savefig(io.BytesIO(), format=suffix, dpi=20)  # drawn: no mathtext or font error


def test_loss_curves_labelled_with_hostile_names_draw(val_runs):
    runs = {title: next(iter(val_runs.values())) for title in HOSTILE_TITLES}
    figure = loss_figure(runs, title="a $b$ c")
    legend = figure.axes[0].get_legend()
    assert all(not drawn_text(t.get_text())[1] for t in legend.get_texts())
    figure.savefig(io.BytesIO(), format="png", dpi=20)


def test_minifw_plot_of_a_file_whose_name_has_dollars(tmp_path, capsys):
    from minifw.cli import main

    path = tmp_path / "m$x^{$.npz"
    run = presets.blog()
    run.fit(2)
    minifw.save(run.network, path, source=run.source, history={"loss": [0.5, 0.25]})
    assert main(["plot", str(path), "--figure", "loss", "--out", str(tmp_path / "out.png")]) == 0
    assert (tmp_path / "out.png").stat().st_size > 0


# --- loss_figure -----------------------------------------------------------------------------


def test_loss_figure_overlays_runs_one_colour_each_validation_dashed_in_its_runs_colour(val_runs):
    figure = loss_figure(val_runs)
    (axes,) = figure.axes
    labels = [ln.get_label() for ln in axes.lines]
    assert labels == ["seed 0", "seed 0 (validation)", "seed 1", "seed 1 (validation)"]
    colours = {}
    for label, result in val_runs.items():
        train, val = line(axes, label), line(axes, f"{label} (validation)")
        np.testing.assert_array_equal(train.get_ydata(), result.loss)
        np.testing.assert_array_equal(val.get_ydata(), result.val_loss)
        np.testing.assert_array_equal(train.get_xdata(), np.arange(1, len(result.loss) + 1))
        assert train.get_linestyle() == "-"
        assert val.get_linestyle() == "--"
        assert to_hex(val.get_color()) == to_hex(train.get_color())
        colours[label] = to_hex(train.get_color())
    assert len(set(colours.values())) == len(val_runs)  # one colour per run
    legend = axes.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == labels


def test_loss_figure_of_one_run_labels_training_and_validation(val_runs):
    result = val_runs["seed 0"]
    (axes,) = loss_figure({"only": result}).axes
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["training", "validation"]
    assert to_hex(axes.lines[0].get_color()) == to_hex(axes.lines[1].get_color())


@pytest.mark.parametrize(
    ("losses", "scale"),
    [
        ({"loss": [1.0, 0.5, 0.25]}, "log"),
        ({"loss": [1.0, 0.5, 1e-9], "val_loss": [2.0, 1.0, 0.5]}, "log"),
        ({"loss": [1.0, 0.5, 0.0]}, "linear"),
        ({"loss": [1.0, -0.5, -1.0]}, "linear"),
        ({"loss": [1.0, 0.5, 0.25], "val_loss": [1.0, 0.0, 0.5]}, "linear"),
    ],
)
def test_loss_scale_is_log_for_positive_losses_and_linear_when_one_is_not(losses, scale):
    (axes,) = loss_figure({"run": losses}).axes
    assert axes.get_yscale() == scale
    low, high = axes.get_ylim()
    every = np.concatenate([np.asarray(v) for v in losses.values()])
    assert low <= every.min() and every.max() <= high  # every loss in view


def test_loss_figure_accepts_a_list_a_mapping_a_loss_history_and_a_fit_result():
    trainer_run = presets.experiment(target="sin", validation=0.25)
    result = trainer_run.fit(12)
    history = trainer_run.trainer.history
    assert isinstance(history, minifw.LossHistory)
    assert isinstance(result, minifw.FitResult)
    forms = {
        "list": result.loss,
        "mapping": {"loss": result.loss, "val_loss": result.val_loss},
        "LossHistory": history,
        "FitResult": result,
    }
    for name, form in forms.items():
        (axes,) = loss_figure({name: form}).axes
        drawn = [ln.get_ydata() for ln in axes.lines]
        np.testing.assert_array_equal(drawn[0], result.loss, err_msg=name)
        if name == "list":
            assert len(drawn) == 1
        else:
            assert len(drawn) == 2, name
            np.testing.assert_array_equal(drawn[1], result.val_loss, err_msg=name)


# --- hidden_units_figure ---------------------------------------------------------------------


def test_hidden_units_figure_has_an_axes_per_layer_and_a_line_per_unit(one_dead_unit):
    run = one_dead_unit
    figure = hidden_units_figure(run.network, run.source, domain=WIDE)
    assert len(figure.axes) == 2
    x = np.linspace(*WIDE, 400).reshape(-1, 1)
    outputs = run.network.layer_outputs(x)
    for axes, units in zip(figure.axes, outputs[:2], strict=True):
        assert len(axes.lines) == units.shape[1]
        for u, drawn in enumerate(axes.lines):
            np.testing.assert_allclose(drawn.get_xdata(), x[:, 0])
            np.testing.assert_allclose(drawn.get_ydata(), units[:, u])


def test_the_dead_relu_unit_is_found_drawn_grey_and_dashed_and_counted(one_dead_unit):
    run = one_dead_unit
    x_train, _ = run.source.arrays()
    dead = dead_units(run.network, x_train)
    np.testing.assert_array_equal(dead[0], [False, True, False, False])
    np.testing.assert_array_equal(dead[1], [False, False, False])
    figure = hidden_units_figure(run.network, run.source)
    first, second = figure.axes
    for u, drawn in enumerate(first.lines):
        if u == 1:
            assert to_hex(drawn.get_color()) == panels.DEAD
            assert drawn.get_linestyle() == "--"
        else:
            assert to_hex(drawn.get_color()) != panels.DEAD
            assert drawn.get_linestyle() == "-"
    assert "4 units" in first.get_title()
    assert "1 dead" in first.get_title()
    assert "3 units" in second.get_title()
    assert "dead" not in second.get_title()
    assert all(to_hex(ln.get_color()) != panels.DEAD for ln in second.lines)


def test_a_unit_is_not_dead_when_one_training_input_reaches_it(one_dead_unit):
    run = one_dead_unit
    first = run.network.layers[0]
    weights, bias = first.weights.copy(), first.bias.copy()
    try:
        first.bias = bias + np.array([0.0, 6.0, 0.0, 0.0])  # z = 5.5 - x: alive for x < 5.5
        dead = dead_units(run.network, run.source.arrays()[0])
        assert not dead[0].any()
        (axes, _) = hidden_units_figure(run.network, run.source).axes
        assert "dead" not in axes.get_title()
    finally:
        first.weights, first.bias = weights, bias


def test_dead_grey_pixels_are_drawn_inside_the_dead_units_axes_only(one_dead_unit):
    run = one_dead_unit
    figure = hidden_units_figure(run.network, run.source)
    image = pixels(figure)
    first, second = figure.axes
    ys, xs = coloured(image, panels.DEAD)
    assert inside(first.get_window_extent(), figure, ys, xs).sum() > 50
    assert inside(second.get_window_extent(), figure, ys, xs).sum() == 0


def test_live_units_are_never_drawn_in_the_dead_grey():
    """Matplotlib's C7 is #7f7f7f, the DEAD grey: the eighth live unit must not take it."""
    run = presets.experiment(target="sin", layers=(8,), activation="tanh")
    assert not dead_units(run.network, run.source.arrays()[0])[0].any()  # tanh: none can die
    (axes,) = hidden_units_figure(run.network, run.source).axes
    assert "dead" not in axes.get_title()
    assert [to_hex(ln.get_color()) for ln in axes.lines].count(panels.DEAD) == 0


# --- fit_figure and error_figure --------------------------------------------------------------


def test_fit_figure_lines_hold_the_target_the_training_points_and_the_prediction(blog_run):
    run, _ = blog_run
    (axes,) = fit_figure(run.network, run.source, domain=WIDE).axes
    x = np.linspace(*WIDE, 400)
    target = line(axes, "target")
    np.testing.assert_allclose(target.get_xdata(), x)
    np.testing.assert_allclose(target.get_ydata(), np.sin(x))
    assert to_hex(target.get_color()) == panels.TARGET
    x_train, y_train = run.source.arrays()
    points = line(axes, "training points")
    np.testing.assert_array_equal(points.get_xdata(), x_train[:, 0])
    np.testing.assert_array_equal(points.get_ydata(), y_train[:, 0])
    learned = line(axes, "learned")
    np.testing.assert_allclose(learned.get_xdata(), x)
    np.testing.assert_allclose(learned.get_ydata(), run.network.predict(x.reshape(-1, 1))[:, 0])
    assert to_hex(learned.get_color()) == panels.LEARNED
    x_eval, _ = run.source.evaluation_arrays()
    at_eval = line(axes, "learned, evaluation points")
    np.testing.assert_array_equal(at_eval.get_xdata(), x_eval[:, 0])
    np.testing.assert_allclose(at_eval.get_ydata(), run.network.predict(x_eval)[:, 0])


def _shaded(axes):
    """(low, high) in data units of each extrapolation span."""
    spans = [p for p in axes.patches if to_hex(p.get_facecolor()) == panels.OUTSIDE]
    return sorted((p.get_x(), p.get_x() + p.get_width()) for p in spans)


def test_fit_figure_shades_the_extrapolation_and_reports_both_errors(blog_run):
    run, _ = blog_run
    (axes,) = fit_figure(run.network, run.source, domain=WIDE).axes
    shaded = _shaded(axes)
    assert len(shaded) == 2
    np.testing.assert_allclose(shaded, [[WIDE[0], 0.0], [TRAIN_HIGH, WIDE[1]]])

    x = np.linspace(*WIDE, 400)
    error = run.network.predict(x.reshape(-1, 1))[:, 0] - np.sin(x)
    within = (x >= 0.0) & (x <= TRAIN_HIGH)
    title = axes.get_title()
    assert "inside" in title and "outside" in title
    reported_inside, reported_outside = numbers(title.split("\n")[1])
    assert reported_inside == float(f"{mse(error[within]):.3g}")
    assert reported_outside == float(f"{mse(error[~within]):.3g}")
    assert reported_outside > 3 * reported_inside  # the net does not extrapolate sin


def test_default_domain_reports_only_the_thin_strip_past_the_training_domain(blog_run):
    run, _ = blog_run
    (axes,) = fit_figure(run.network, run.source).axes
    x_train, _ = run.source.arrays()
    x_eval, _ = run.source.evaluation_arrays()
    low = min(x_train.min(), x_eval.min(), 0.0)
    high = max(x_train.max(), x_eval.max(), TRAIN_HIGH)
    assert high > TRAIN_HIGH  # the last evaluation point lies half a step past 6.28
    (shaded,) = _shaded(axes)  # no shading below 0: nothing is plotted there
    np.testing.assert_allclose(shaded, (TRAIN_HIGH, high))

    x = np.linspace(low, high, 400)
    error = run.network.predict(x.reshape(-1, 1))[:, 0] - np.sin(x)
    outside = x > TRAIN_HIGH
    assert 0 < outside.sum() < 20
    reported_inside, reported_outside = numbers(axes.get_title().split("\n")[1])
    assert reported_inside == float(f"{mse(error[~outside]):.3g}")
    assert reported_outside == float(f"{mse(error[outside]):.3g}")
    # not the wide domain's outside error: only the strip counts
    wide = np.linspace(*WIDE, 400)
    wide_error = run.network.predict(wide.reshape(-1, 1))[:, 0] - np.sin(wide)
    wide_outside = (wide < 0) | (wide > TRAIN_HIGH)
    assert not math.isclose(reported_outside, mse(wide_error[wide_outside]), rel_tol=0.01)


def test_a_domain_within_the_training_domain_shades_nothing_and_reports_one_error(blog_run):
    run, _ = blog_run
    (axes,) = fit_figure(run.network, run.source, domain=(1.0, 5.0)).axes
    assert _shaded(axes) == []
    assert "outside" not in axes.get_title()
    x = np.linspace(1.0, 5.0, 400)
    error = run.network.predict(x.reshape(-1, 1))[:, 0] - np.sin(x)
    assert numbers(axes.get_title().split("\n")[1]) == [float(f"{mse(error):.3g}")]


def _learned_pixels_in_data_units(figure, axes, x_range=(0.5, 5.5)):
    """The exact-LEARNED-colour pixels of ``axes`` (legend left out), as data (x, y)."""
    image = pixels(figure)
    ys, xs = coloured(image, panels.LEARNED)
    keep = inside(axes.get_window_extent(), figure, ys, xs)
    keep &= ~inside(axes.get_legend().get_window_extent(), figure, ys, xs)
    height = figure.bbox.height
    data = axes.transData.inverted().transform(np.column_stack([xs[keep], height - ys[keep]]))
    in_range = (data[:, 0] >= x_range[0]) & (data[:, 0] <= x_range[1])
    return data[in_range]


def _near_sin(data):
    """The closeness criterion: the learned line's pixels lie near sin(x) where they are."""
    distance = np.abs(data[:, 1] - np.sin(data[:, 0]))
    return np.median(distance) < 0.15 and np.quantile(distance, 0.95) < 0.45


def test_learned_colour_is_drawn_inside_the_fit_axes(blog_run):
    run, _ = blog_run
    figure = fit_figure(run.network, run.source, domain=WIDE)
    (axes,) = figure.axes
    image = pixels(figure)
    ys, xs = coloured(image, panels.LEARNED)
    drawn = ~inside(axes.get_legend().get_window_extent(), figure, ys, xs)  # the legend aside
    assert drawn.sum() > 500  # a 2-point-wide line across the axes and 32 circles
    assert inside(axes.get_window_extent(), figure, ys[drawn], xs[drawn]).mean() > 0.99


def test_learned_line_pixels_follow_the_prediction_and_lie_near_sin_when_trained(blog_run):
    run, _ = blog_run
    figure = fit_figure(run.network, run.source, domain=WIDE)
    (axes,) = figure.axes
    data = _learned_pixels_in_data_units(figure, axes)
    assert len(data) > 300
    predicted = run.network.predict(data[:, :1])[:, 0]
    pixel = np.abs(np.diff(axes.transData.inverted().transform([[0, 0], [0, 1]])[:, 1]))[0]
    assert np.median(np.abs(data[:, 1] - predicted)) < 3 * pixel  # drawn where predicted
    assert _near_sin(data)


def test_the_closeness_check_fails_for_an_untrained_network():
    run = presets.blog("sigmoid", seed=0)  # not fitted
    figure = fit_figure(run.network, run.source, domain=WIDE)
    (axes,) = figure.axes
    data = _learned_pixels_in_data_units(figure, axes)
    assert len(data) > 300
    assert not _near_sin(data)


def test_error_figure_draws_prediction_minus_target(blog_run):
    run, _ = blog_run
    for domain in (None, WIDE):
        (axes,) = error_figure(run.network, run.source, domain=domain).axes
        (drawn,) = [ln for ln in axes.lines if to_hex(ln.get_color()) == panels.LEARNED]
        x = np.asarray(drawn.get_xdata())
        assert len(x) == 400
        if domain is not None:
            np.testing.assert_allclose(x, np.linspace(*domain, 400))
        expected = run.network.predict(x.reshape(-1, 1))[:, 0] - np.sin(x)
        np.testing.assert_allclose(drawn.get_ydata(), expected, atol=1e-12)


def test_error_figure_without_a_known_target_draws_it_at_the_evaluation_points():
    x = np.linspace(0, 1, 9).reshape(-1, 1)
    source = ArraySource(x, 2 * x)
    network = presets.experiment(target="sin").network
    (axes,) = error_figure(network, source).axes
    (drawn,) = [ln for ln in axes.lines if to_hex(ln.get_color()) == panels.LEARNED]
    np.testing.assert_array_equal(drawn.get_xdata(), x[:, 0])
    np.testing.assert_allclose(drawn.get_ydata(), network.predict(x)[:, 0] - 2 * x[:, 0])


# --- heatmap_figure and input counts ----------------------------------------------------------


def test_heatmap_figure_draws_target_prediction_and_error_with_their_scales(ripple_run):
    run, _ = ripple_run
    low, high = np.array([-3.0, -1.0]), np.array([3.0, 2.0])  # not square: a transpose shows
    figure = heatmap_figure(run.network, run.source, domain=(low, high))
    with_images = [a for a in figure.axes if a.images]
    assert [a.get_title() for a in with_images] == ["Target", "Prediction", "Error"]
    target_image, prediction_image, error_image = (a.images[0] for a in with_images)

    n = 80
    x0, x1 = np.linspace(low[0], high[0], n), np.linspace(low[1], high[1], n)
    # image row i, column j shows the point (x0[j], x1[i]) with origin="lower"
    points = np.stack(np.meshgrid(x0, x1, indexing="xy"), axis=-1).reshape(-1, 2)
    target = np.sinc(np.hypot(points[:, 0], points[:, 1])).reshape(n, n)
    prediction = run.network.predict(points)[:, 0].reshape(n, n)
    for image, expected in (
        (target_image, target),
        (prediction_image, prediction),
        (error_image, prediction - target),
    ):
        assert image.origin == "lower"
        np.testing.assert_allclose(image.get_extent(), [low[0], high[0], low[1], high[1]])
        np.testing.assert_allclose(np.asarray(image.get_array()), expected, atol=1e-12)

    assert (target_image.norm.vmin, target_image.norm.vmax) == (
        prediction_image.norm.vmin,
        prediction_image.norm.vmax,
    )
    np.testing.assert_allclose(
        [target_image.norm.vmin, target_image.norm.vmax], [target.min(), target.max()]
    )
    norm = error_image.norm
    assert isinstance(norm, TwoSlopeNorm)
    assert norm.vcenter == 0.0
    assert norm.vmin == -norm.vmax
    assert norm.vmax == pytest.approx(np.abs(prediction - target).max())


def test_heatmap_figure_without_a_known_target_draws_the_prediction_only(ripple_run):
    run, _ = ripple_run
    x, y = run.source.arrays()
    figure = heatmap_figure(run.network, ArraySource(x, y))
    assert [a.get_title() for a in figure.axes if a.images] == ["Prediction"]


@pytest.mark.parametrize("draw", [heatmap_figure, fit_figure, hidden_units_figure, error_figure])
def test_figures_refuse_the_wrong_input_count(draw, blog_run, ripple_run):
    wrong = ripple_run[0] if draw is not heatmap_figure else blog_run[0]
    with pytest.raises(ConfigError, match=r"1 input|2 inputs"):
        draw(wrong.network, wrong.source)


def test_heatmap_figure_refuses_an_output_the_network_lacks(ripple_run):
    run, _ = ripple_run
    with pytest.raises(ConfigError, match="output"):
        heatmap_figure(run.network, run.source, output=1)


def test_scene_refuses_three_inputs():
    rng = np.random.default_rng(0)
    source = ArraySource(rng.normal(size=(10, 3)), rng.normal(size=(10, 1)))
    with pytest.raises(ConfigError, match="1 or 2 inputs"):
        Scene.of(source)


@pytest.mark.parametrize(
    "domain",
    [(1.0, 1.0), (2.0, 1.0), (0.0, math.nan), (math.nan, 1.0), (0.0, math.inf), (1.0,), "ab", 3],
)
def test_scene_refuses_a_bad_domain(domain, blog_run):
    run, _ = blog_run
    with pytest.raises(ConfigError, match="domain"):
        Scene.of(run.source, domain)
    with pytest.raises(ConfigError, match="domain"):
        fit_figure(run.network, run.source, domain=domain)


# --- make_figure and Plotter --------------------------------------------------------------------


def test_make_figure_refuses_an_unknown_kind_naming_the_valid_ones(blog_run):
    run, result = blog_run
    with pytest.raises(ConfigError) as raised:
        make_figure("nope", run.network, run.source, result)
    message = str(raised.value)
    assert "nope" in message
    for kind in FIGURE_KINDS:
        assert kind in message


def test_plotter_refuses_an_unknown_kind():
    with pytest.raises(ConfigError):
        Plotter(kind="nope")


def test_plotter_callback_writes_an_overview_png_over_a_wide_domain(tmp_path):
    path = tmp_path / "out" / "overview.png"
    run = presets.blog("sigmoid", seed=0, callbacks=[Plotter(path, kind="overview", domain=WIDE)])
    run.fit(20)
    expected = overview_figure(run.network, run.source, run.trainer.history, domain=WIDE)
    width, height = expected.get_size_inches() * 100
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (round(width), round(height))
    assert len(expected.axes) == 4


def test_plotter_refuses_a_bad_domain_before_any_epoch(tmp_path):
    run = None
    with pytest.raises(ConfigError, match="domain"):
        plotter = Plotter(tmp_path / "fit.png", kind="fit", domain=(5.0, 1.0))
        run = presets.blog("sigmoid", seed=0, callbacks=[plotter])
        run.fit(20)
    assert run is None or run.trainer.epochs_done == 0
    assert not (tmp_path / "fit.png").exists()
