"""The figures minifw draws, by name, and which of them a network's inputs allow.

Kept apart from the drawing code so that the command line and ``Plotter`` can
check a figure's name before training without importing matplotlib.
"""

from __future__ import annotations

from ...core.errors import ConfigError
from ...core.validation import plural

FIGURE_KINDS = ("blog", "overview", "loss", "hidden", "fit", "error", "heatmap")


def figures_for(inputs: int) -> tuple[str, ...]:
    """The figure kinds drawn for a network of ``inputs`` inputs: curves for one, heat maps
    for two, only the loss beyond."""
    if inputs == 1:
        return tuple(kind for kind in FIGURE_KINDS if kind != "heatmap")
    return ("overview", "loss", "heatmap") if inputs == 2 else ("loss",)


def figure_kind(kind: str, inputs: int) -> str:
    """The figure to draw for ``inputs`` inputs when ``kind`` is asked for; ConfigError if it
    cannot be drawn. The blog's figure, the default, becomes the overview for two inputs."""
    drawable = figures_for(inputs)
    if kind == "blog" and "blog" not in drawable and "overview" in drawable:
        return "overview"
    if kind not in drawable:
        count = plural(inputs, "input")
        raise ConfigError(
            f"the {kind} figure cannot be drawn for {count}; "
            f"for {count} choose {', '.join(drawable)} (or --no-plot)"
        )
    return kind
