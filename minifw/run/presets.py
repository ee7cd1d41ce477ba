"""The blog's network, ready to train: ``blog("sigmoid").fit(3000)``.

``blog`` is ``experiment`` with the knobs the blog's closing list invites you
to turn; the blog's own facts (its domain, sizes, activations and steps) and
its loop as plain numpy are in ``minifw.run.blog`` and are found here too, as
``presets.DOMAIN``, ``presets.mse_lr``, ``presets.blog_loop``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.callbacks import Callback
from .blog import (
    BATCH_SIZE,
    DOMAIN,
    EPOCHS,
    HIDDEN,
    SAMPLES,
    SETTINGS,
    TARGET_RANGE,
    BlogSetting,
    blog_loop,
    mse_lr,
    setting,
)
from .experiment import Experiment, build, experiment

__all__ = [
    "BATCH_SIZE",
    "DOMAIN",
    "EPOCHS",
    "HIDDEN",
    "SAMPLES",
    "SETTINGS",
    "TARGET_RANGE",
    "BlogSetting",
    "Experiment",
    "blog",
    "blog_loop",
    "build",
    "experiment",
    "mse_lr",
    "setting",
]


def blog(
    activation: str = "sigmoid",
    *,
    hidden: int = HIDDEN,
    batch_size: int = BATCH_SIZE,
    lr: float | None = None,
    bias: bool = True,
    seed: int = 0,
    callbacks: Sequence[Callback] = (),
    engine: str = "auto",
) -> Experiment:
    """The blog's setup for ``activation``, with the knobs its closing list invites you to turn.

    ``lr`` is the SGD learning rate on the mean squared error; by default the
    blog's own step, ``mse_lr(L, batch_size)`` (0.9 for sigmoid at batch 4).
    ``bias=False`` drops the bias unit. Weights are drawn with the blog's limit
    sqrt(2 / fan_in), the fan-in counting the bias unit, from ``seed``: the
    same network built by hand with ``Network(..., seed=seed)`` starts the same.
    ``engine`` is the ``Trainer``'s: "auto" (compiled where it can), "numpy" or "compiled".
    """
    setting(activation)  # refuse anything but the blog's three, naming them
    return experiment(
        activation=activation,
        layers=(hidden,),
        batch_size=batch_size,
        lr=lr,
        bias=bias,
        seed=seed,
        callbacks=callbacks,
        engine=engine,
    )
