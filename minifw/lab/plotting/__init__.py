"""Figures and training films that show what a network learned.

Every figure function returns a matplotlib ``Figure`` (a notebook shows it
inline); ``save_figure`` writes it as PNG or SVG. Names load on first
use: importing this package does not import matplotlib, drawing does.

- ``blog_figure``: the blog's three graphs, the default of ``minifw train``.
- ``loss_figure``: loss curves of several runs, training solid, validation dashed.
- ``hidden_units_figure``: each hidden layer's units across the domain, dead ones marked.
- ``fit_figure``: target against learned, the extrapolation region shaded.
- ``error_figure``: learned minus target across the domain.
- ``heatmap_figure``: for two inputs, target, prediction and error side by side.
- ``overview_figure``: all of the above in one, as the frames of a ``TrainingFilm``.

``TrainingFilm`` is a callback that writes an animated GIF (or MP4) of training.
"""

from ...lazy import lazy_exports

EXPORTS: dict[str, tuple[str, ...]] = {
    "kinds": ("FIGURE_KINDS", "figure_kind", "figures_for"),
    "plotter": ("Plotter",),
    "figures": (
        "as_history",
        "blog_figure",
        "error_figure",
        "fit_figure",
        "heatmap_figure",
        "hidden_units_figure",
        "loss_figure",
        "make_figure",
        "overview_figure",
        "save_figure",
    ),
    "film": ("TrainingFilm", "frame_epochs", "write_film"),
    "panels": ("ErrorPanel", "FitPanel", "HeatmapPanel", "HiddenUnitsPanel", "LossPanel", "Panel"),
    "scene": ("Scene", "Snapshot", "dead_units"),
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, EXPORTS, globals())
