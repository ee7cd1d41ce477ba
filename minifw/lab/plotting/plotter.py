"""Plotter: the callback that draws a figure of the run when training ends."""

from __future__ import annotations

from pathlib import Path

import attrs

from ...core.callbacks import Callback, Logs
from ...core.data import checked_domain
from ...core.trainer import Trainer
from ...core.validation import one_of
from .kinds import FIGURE_KINDS


@attrs.define(eq=False)
class Plotter(Callback):
    """Draws a figure of the run into ``path`` (.png or .svg) when training ends.

    ``kind`` is one of ``FIGURE_KINDS``: by default "blog",
    the blog's three graphs (loss history, the hidden layer on the evaluation
    inputs, target against learned); "overview" adds the error and draws the
    curves across ``domain``, which may reach past the training domain. Works
    without a display; matplotlib is only imported when drawing.
    """

    path: str | Path = "minifw-blog.png"
    title: str | None = None
    kind: str = attrs.field(default="blog", validator=one_of(*FIGURE_KINDS))
    # Checked here, so that a domain no figure can use is refused before training, not after.
    domain: tuple[float, float] | None = attrs.field(
        default=None, converter=attrs.converters.optional(checked_domain)
    )

    def on_train_end(self, trainer: Trainer, logs: Logs) -> None:
        from .figures import make_figure, save_figure  # imports matplotlib: only when drawing

        assert trainer.source is not None
        history = trainer.history.history
        figure = make_figure(
            self.kind,
            trainer.network,
            trainer.source,
            history,
            domain=self.domain,
            title=self.title,
        )
        save_figure(figure, self.path)
