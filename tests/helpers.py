"""Small tools shared by several test files."""

import os
import re
from collections.abc import Callable

import numpy as np

from minifw import DataSource
from minifw.core import gradients

Array = np.ndarray


def numerical_gradient(f: Callable[[Array], float], x: Array, h: float = 1e-6) -> Array:
    """d f / d x by central differences, one entry of ``x`` at a time, for a scalar ``f``.

    minifw's own, ``minifw.core.gradients.numerical_gradient`` (the one ``gradcheck`` uses),
    under the step name ``h`` these tests pass: ``x`` is nudged in place and restored.
    """
    return gradients.numerical_gradient(f, x, epsilon=h)


def built_in(family, module):
    """The names registered in ``family`` by minifw's own ``module``, at import time.

    Test files register classes of their own (test_activations a UserSoftplus) that promise
    nothing; tests about minifw's must not change with the order files load in.
    """
    names = family.registry.names()
    return [name for name in names if family.registry.get(name).__module__ == module.__name__]


# The activations minifw ships: what built_in(Activation, minifw.core.activations) must find.
BUILT_IN_ACTIVATIONS = {
    "elu",
    "identity",
    "leaky_relu",
    "relu",
    "sigmoid",
    "silu",
    "softplus",
    "tanh",
}


class HeldOut(DataSource):
    """Trains on ``train`` and reports ``held_out`` (x, y) as its validation data."""

    def __init__(self, train, held_out):
        self.train, self.held_out = train, held_out

    def arrays(self):
        return self.train

    def validation_arrays(self):
        return self.held_out


# A markdown image, ![alt](target): its target. The alt text may hold bracketed text of its
# own ("trained on [0, 6.28]"), one level deep.
IMAGE = re.compile(r"!\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(([^)\s]+)\)")


def ripple_run(callbacks=()):
    """The tests' two-input run: a 2-16-16-1 tanh network on the ripple, a 15 x 15 grid."""
    from minifw import presets

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
        callbacks=callbacks,
    )


def stop_sweeps_at_their_second_group(
    monkeypatch, stop: BaseException | type[BaseException]
) -> list[int]:
    """Make every sweep raise ``stop`` as its second group of runs starts, so that the first
    group finishes and is on disk, and the rest never runs. Returns the sizes of the groups
    started, the one stopped included; later groups (a resumed sweep's) run and are counted."""
    from minifw.lab import sweeps

    real, calls = sweeps.run_group, []

    def stopping(runs, target_loss=None):
        calls.append(len(runs))
        if len(calls) == 2:
            raise stop
        return real(runs, target_loss)

    monkeypatch.setattr(sweeps, "run_group", stopping)
    return calls


def line(n=20):
    """x evenly over [-1, 1] and y = 2x + 1: a line any network learns, for trainer tests."""
    x = np.linspace(-1, 1, n).reshape(-1, 1)
    return x, 2 * x + 1


def line_source(n=20):
    """``line(n)`` as a data source."""
    from minifw import ArraySource

    return ArraySource(*line(n))


# The fuzzing budget. Each property test names its full count of examples, which CI runs
# (.ci/run sets HYPOTHESIS_PROFILE=ci, as anyone may); a run without it, as the README's
# test command is, tries a quarter of them (at least 25), so that the suite answers in
# about a minute. Hypothesis tries the simplest and the boundary examples first either way.
FULL_BUDGET = os.environ.get("HYPOTHESIS_PROFILE") == "ci"


def examples(full: int) -> int:
    """The examples a property test tries: ``full`` with the full budget, else a quarter."""
    return full if FULL_BUDGET else min(full, max(full // 4, 25))
