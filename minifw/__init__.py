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

from .lazy import lazy_exports

__version__ = "0.1.0"

# module -> the public names it defines (the modules presets and targets are public too).
EXPORTS: dict[str, tuple[str, ...]] = {
    "core.activations": (
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
    "run.config": ("RunConfig",),
    "run.resolve": ("Resolved", "resolve"),
    "run.experiment": ("Experiment", "build", "experiment"),
    "core.callbacks": (
        "Callback",
        "CSVLogger",
        "Divergence",
        "EarlyStopping",
        "EvaluationTarget",
        "LambdaCallback",
        "LossHistory",
        "ProgressBar",
        "TerminateOnNaN",
        "TimeLimit",
        "Timer",
    ),
    "core.data": ("ArraySource", "DataSource", "FunctionSource", "Normaliser"),
    "core.errors": (
        "ConfigError",
        "DataError",
        "LedgerError",
        "MinifwError",
        "ModelFileError",
        "SweepInterrupted",
        "TrainingDiverged",
    ),
    "core.expressions": ("Expression",),
    "core.gradients": ("GradcheckReport", "gradcheck"),
    "core.initializers": (
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
    "core.layers": ("Dense", "Layer", "Parameter"),
    "files.ledger": ("Ledger", "RunRecord"),
    "core.losses": ("MAE", "MSE", "BinaryCrossEntropy", "Huber", "Loss", "MeanLoss"),
    # The metrics themselves are minifw.metrics.MAE and so on: minifw.MAE is the loss.
    "core.metrics": ("Metric",),
    "core.network": ("Network",),
    "core.numerics": ("ignore_underflow", "tolerate_underflow"),
    "core.optimizers": ("SGD", "Adam", "LBFGS", "Optimizer", "RMSProp"),
    "lab.plotting.plotter": ("Plotter",),
    "lab.results": ("SweepResults", "SweepRow"),
    "files.saving": (
        "Checkpoint",
        "save",
        "save_checkpoint",
        "SavedNetwork",
        "load",
        "load_checkpoint",
        "load_checkpoint_run",
        "load_optimizer",
        "load_saved",
        "load_weights",
    ),
    "core.schedules": (
        "CosineDecay",
        "ExponentialDecay",
        "InverseTimeDecay",
        "Schedule",
        "StepDecay",
    ),
    "lab.stacking": ("stack", "unstack"),
    "lab.sweeps": ("sweep",),
    "core.targets": ("ExpressionTarget", "Target", "target_from"),
    "core.trainer": ("FitResult", "Trainer"),
    "engine.support": ("EngineFallback", "EngineSwitch"),
}
# Public modules by name.
_MODULES = {"presets": "run.presets", "targets": "core.targets", "metrics": "core.metrics"}
_names, _dir, _public = lazy_exports(__name__, EXPORTS, globals())
__all__ = sorted([*_public, *_MODULES, "__version__"])


def __getattr__(name: str) -> Any:
    """A public name or module, imported the first time it is asked for (PEP 562)."""
    if name in _MODULES:
        return importlib.import_module(f".{_MODULES[name]}", __name__)
    return _names(name)


def __dir__() -> list[str]:
    return __all__
