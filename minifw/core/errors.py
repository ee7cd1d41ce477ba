"""The exceptions minifw raises, one per kind of mistake.

The two for bad input, ``ConfigError`` and ``DataError``, are also
``ValueError``s, so code written against plain numpy or scikit-learn habits
(``except ValueError``) still catches them; ``TrainingDiverged`` is also an
``ArithmeticError``.
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


class ModelFileError(MinifwError):
    """A model or checkpoint file cannot be loaded: missing, damaged, not minifw's, or unsound.

    The message names the file and the problem (for arrays, every problem found).
    Raised before anything outside the loader changes: a failed load leaves an
    existing network as it was.
    """


# Named for what happened, as the brief asks, rather than with an Error suffix.
class TrainingDiverged(MinifwError, ArithmeticError):  # noqa: N818
    """Training produced a non-finite loss or weights; ``diagnosis`` says where and what to try.

    Raised by ``TerminateOnNaN(raise_error=True)`` after it has put back the
    last finite weights. An ``ArithmeticError`` rather than a ``ValueError``:
    no input was wrong, the arithmetic ran away.
    """

    def __init__(self, diagnosis: object) -> None:
        # The diagnosis is the only argument, so the exception pickles and str() reads it.
        super().__init__(diagnosis)
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        return str(self.diagnosis)


class LedgerError(MinifwError):
    """The run ledger cannot be read or written: a line that is not a record, an unknown run id.

    The message names the ledger file and, for a bad line, its line number.
    """


class SweepInterrupted(MinifwError, RuntimeError):  # noqa: N818 (it says what happened)
    """A sweep stopped before every run finished: a worker died or a group of runs could not run.

    The message says how many runs finished and, for a sweep with an ``out``
    directory, that they are recorded there and that resuming runs the rest.
    """
