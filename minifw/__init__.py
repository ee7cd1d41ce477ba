"""minifw: a small, readable neural-network framework on numpy.

One batch, from data to weight update, in four files: ``trainer.py`` runs the
loop, ``layers.py`` does each layer's forward and backward arithmetic,
``losses.py`` scores the output, ``optimizers.py`` moves the weights.
"""

from . import presets, targets
from .activations import Activation, Identity, ReLU, Sigmoid, Tanh
from .callbacks import Callback, LossHistory, Plotter, Timer
from .data import ArraySource, DataSource, FunctionSource, Normaliser
from .errors import ConfigError, DataError, MinifwError
from .initializers import HeUniform, Initializer, VarianceScaling, Zeros
from .layers import Dense, Layer, Parameter
from .losses import MSE, Loss
from .network import Network
from .optimizers import SGD, Optimizer
from .targets import Target
from .trainer import FitResult, Trainer

__version__ = "0.1.0"

__all__ = [
    "MSE",
    "SGD",
    "Activation",
    "ArraySource",
    "Callback",
    "ConfigError",
    "DataError",
    "DataSource",
    "Dense",
    "FitResult",
    "FunctionSource",
    "HeUniform",
    "Identity",
    "Initializer",
    "Layer",
    "Loss",
    "LossHistory",
    "MinifwError",
    "Network",
    "Normaliser",
    "Optimizer",
    "Parameter",
    "Plotter",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "Target",
    "Timer",
    "Trainer",
    "VarianceScaling",
    "Zeros",
    "__version__",
    "presets",
    "targets",
]
