"""The exceptions minifw raises, one per kind of mistake.

Each is also a ``ValueError`` so that code written against plain numpy or
scikit-learn habits (``except ValueError``) still catches it.
"""


class MinifwError(Exception):
    """Base of every exception minifw raises on purpose."""


class ConfigError(MinifwError, ValueError):
    """A hyperparameter, option or component name is invalid.

    Raised where the value is written (a constructor, a setter, the command
    line), before anything is built or trained.
    """


class DataError(MinifwError, ValueError):
    """Input or target arrays are unusable: wrong shape, NaN or inf, wrong dtype.

    Raised before any weight, buffer or history changes.
    """
