"""minifw: a small, readable neural-network framework on numpy.

One batch, from data to weight update, in four files: ``trainer.py`` runs the
loop, ``layers.py`` does each layer's forward and backward arithmetic,
``losses.py`` scores the output, ``optimizers.py`` moves the weights.

``EXPORTS`` below is the table of contents: each public name and the module
that defines it. ``import minifw`` itself loads none of them (not even numpy):
a name's module is imported the first time the name is used, so a script, a
test or ``minifw --help`` pays only for what it touches.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# module -> the public names it defines (the modules presets and targets are public too).
EXPORTS: dict[str, tuple[str, ...]] = {
    "activations": (
        "ELU",
        "Activation",
        "Identity",
        "LeakyReLU",
        "ReLU",
        "Sigmoid",
        "SiLU",
        "Softplus",
        "Tanh",
    ),
    "config": ("RunConfig",),
    "callbacks": (
        "Callback",
        "CSVLogger",
        "Divergence",
        "EarlyStopping",
        "LambdaCallback",
        "LossHistory",
        "Plotter",
        "ProgressBar",
        "TerminateOnNaN",
        "Timer",
    ),
    "data": ("ArraySource", "DataSource", "FunctionSource", "Normaliser"),
    "errors": (
        "ConfigError",
        "DataError",
        "LedgerError",
        "MinifwError",
        "ModelFileError",
        "SweepInterrupted",
        "TrainingDiverged",
    ),
    "expressions": ("Expression",),
    "gradients": ("GradcheckReport", "gradcheck"),
    "initializers": (
        "BlogUniform",
        "Constant",
        "GlorotNormal",
        "GlorotUniform",
        "HeNormal",
        "HeUniform",
        "Initializer",
        "LecunNormal",
        "LecunUniform",
        "VarianceScaling",
        "Zeros",
    ),
    "layers": ("Dense", "Layer", "Parameter"),
    "ledger": ("Ledger", "RunRecord"),
    "losses": ("MAE", "MSE", "BinaryCrossEntropy", "Huber", "Loss", "MeanLoss"),
    "network": ("Network",),
    "numerics": ("ignore_underflow", "tolerate_underflow"),
    "optimizers": ("SGD", "Adam", "Optimizer", "RMSProp"),
    "results": ("SweepResults", "SweepRow"),
    "saving": (
        "Checkpoint",
        "SavedNetwork",
        "load",
        "load_checkpoint",
        "load_optimizer",
        "load_saved",
        "load_weights",
    ),
    "schedules": ("CosineDecay", "ExponentialDecay", "InverseTimeDecay", "Schedule", "StepDecay"),
    "stacking": ("stack", "unstack"),
    "sweeps": ("sweep",),
    "targets": ("ExpressionTarget", "Target", "target_from"),
    "trainer": ("FitResult", "Trainer"),
}
_HOME = {name: module for module, names in EXPORTS.items() for name in names}
_MODULES = ("presets", "targets")

__all__ = sorted([*_HOME, *_MODULES, "__version__"])


def __getattr__(name: str) -> Any:
    """Import a public name's module the first time the name is asked for (PEP 562)."""
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name not in _HOME:
        raise AttributeError(f"module 'minifw' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return __all__
