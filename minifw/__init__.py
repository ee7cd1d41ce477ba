"""minifw: a small, readable neural-network framework on numpy.

One batch, from data to weight update, in four files: ``trainer.py`` runs the
loop, ``layers.py`` does each layer's forward and backward arithmetic,
``losses.py`` scores the output, ``optimizers.py`` moves the weights.
"""

from . import presets, targets
from .activations import ELU, Activation, Identity, LeakyReLU, ReLU, Sigmoid, SiLU, Softplus, Tanh
from .callbacks import (
    Callback,
    CSVLogger,
    Divergence,
    EarlyStopping,
    LambdaCallback,
    LossHistory,
    Plotter,
    ProgressBar,
    TerminateOnNaN,
    Timer,
)
from .data import ArraySource, DataSource, FunctionSource, Normaliser
from .errors import (
    ConfigError,
    DataError,
    LedgerError,
    MinifwError,
    ModelFileError,
    SweepInterrupted,
    TrainingDiverged,
)
from .expressions import Expression
from .initializers import (
    BlogUniform,
    Constant,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    Initializer,
    LecunNormal,
    LecunUniform,
    VarianceScaling,
    Zeros,
)
from .layers import Dense, Layer, Parameter
from .ledger import Ledger, RunRecord
from .losses import MAE, MSE, BinaryCrossEntropy, Huber, Loss, MeanLoss
from .network import Network
from .optimizers import SGD, Adam, Optimizer, RMSProp
from .results import SweepResults, SweepRow
from .saving import (
    Checkpoint,
    SavedNetwork,
    load,
    load_checkpoint,
    load_optimizer,
    load_saved,
    load_weights,
)
from .schedules import CosineDecay, ExponentialDecay, InverseTimeDecay, Schedule, StepDecay
from .stack import stack, unstack
from .sweeps import sweep
from .targets import ExpressionTarget, Target, target_from
from .trainer import FitResult, Trainer

__version__ = "0.1.0"

__all__ = [
    "ELU",
    "MAE",
    "MSE",
    "SGD",
    "Activation",
    "Adam",
    "ArraySource",
    "BinaryCrossEntropy",
    "BlogUniform",
    "CSVLogger",
    "Callback",
    "Checkpoint",
    "ConfigError",
    "Constant",
    "CosineDecay",
    "DataError",
    "DataSource",
    "Dense",
    "Divergence",
    "EarlyStopping",
    "ExponentialDecay",
    "Expression",
    "ExpressionTarget",
    "FitResult",
    "FunctionSource",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Huber",
    "Identity",
    "Initializer",
    "InverseTimeDecay",
    "LambdaCallback",
    "Layer",
    "LeakyReLU",
    "LecunNormal",
    "LecunUniform",
    "Ledger",
    "LedgerError",
    "Loss",
    "LossHistory",
    "MeanLoss",
    "MinifwError",
    "ModelFileError",
    "Network",
    "Normaliser",
    "Optimizer",
    "Parameter",
    "Plotter",
    "ProgressBar",
    "RMSProp",
    "ReLU",
    "RunRecord",
    "SavedNetwork",
    "Schedule",
    "SiLU",
    "Sigmoid",
    "Softplus",
    "StepDecay",
    "SweepInterrupted",
    "SweepResults",
    "SweepRow",
    "Tanh",
    "Target",
    "TerminateOnNaN",
    "Timer",
    "Trainer",
    "TrainingDiverged",
    "VarianceScaling",
    "Zeros",
    "__version__",
    "load",
    "load_checkpoint",
    "load_optimizer",
    "load_saved",
    "load_weights",
    "presets",
    "stack",
    "sweep",
    "target_from",
    "targets",
    "unstack",
]
