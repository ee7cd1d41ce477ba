"""The bad-input checklist: one parametrized test per row, each case one bad input.

Every case asserts the exact exception class, that the message says what was wrong and what
was expected (two or more key phrases), and that nothing changed where there is state: the
weights bit for bit, the trainer's epochs, run history and source, and for the command line
every file in the directory. Cases that other test files already cover are not repeated here
(tests/test_validation.py, test_data.py, test_losses.py, test_layers.py, test_optimizers.py,
test_expressions.py, test_cli.py, test_config.py); see each row's comment.

A case marked ``xfail(strict=True)`` is a gap: the test says how minifw should behave, the
reason says what it does instead. Fixing the gap makes the case pass; strict mode then asks
for the marker to go.
"""

import contextlib
import io
import math
import re
from pathlib import Path

import attrs
import numpy as np
import pytest

import minifw
from minifw import (
    MAE,
    MSE,
    SGD,
    Adam,
    ArraySource,
    BinaryCrossEntropy,
    ConfigError,
    DataError,
    DataSource,
    Dense,
    Expression,
    FunctionSource,
    Huber,
    Initializer,
    Loss,
    Network,
    Normaliser,
    Optimizer,
    RMSProp,
    RunConfig,
    Schedule,
    Target,
    Trainer,
    presets,
    target_from,
)
from minifw.cli import main
from minifw.core.activations import Activation

LOSSES = [MSE(), MAE(), Huber(), BinaryCrossEntropy()]


def gap(reason):
    """The mark of a case minifw gets wrong today: ``reason`` says what it does instead."""
    return pytest.mark.xfail(strict=True, reason=reason)


def case(id, call, error, *phrases, marks=()):
    """One bad input: ``call(world)`` must raise exactly ``error`` with every regex in
    ``phrases`` in its message (what was wrong, and what was expected)."""
    return pytest.param(call, error, phrases, id=id, marks=marks)


def assert_refused(call, error, phrases):
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    message = str(info.value)
    for phrase in phrases:
        assert re.search(phrase, message), f"{phrase!r} is not in {message!r}"
    return message


# The state a refusal must leave alone -------------------------------------------------------


@attrs.frozen
class Raw(DataSource):
    """Hands over x, y (and held-out data) exactly as given, so that the trainer checks them."""

    x: object
    y: object
    held_out: object = None

    def arrays(self):
        return self.x, self.y

    def validation_arrays(self):
        return self.held_out


def column(n=8, dtype=np.float64):
    return np.linspace(-1, 1, n, dtype=dtype).reshape(-1, 1)


def with_value(array, value, row=3, col=0):
    array = np.array(array)
    array[row, col] = value
    return array


@attrs.define
class Run:
    """A network and its trainer, trained two epochs on ``source``."""

    network: Network
    trainer: Trainer
    source: DataSource

    @classmethod
    def trained(cls, inputs=1, dtype="float64"):
        network = Network([Dense(inputs, 3, "tanh"), Dense(3, 1)], seed=0, dtype=dtype)
        trainer = Trainer(network, "mse", SGD(lr=0.05), batch_size=4, shuffle=True, seed=1)
        x = np.linspace(-1, 1, 8 * inputs).reshape(8, inputs).astype(dtype)
        source = ArraySource(x, np.sin(x[:, :1]))
        trainer.fit(source, 2)
        return cls(network, trainer, source)

    def state(self):
        return (
            [p.value.tobytes() for p in self.network.parameters()],
            self.trainer.epochs_done,
            {key: list(values) for key, values in self.trainer.run_history.items()},
            id(self.trainer.source),  # still the source it trained on, not the refused one
            self.trainer.optimizer.iterations,
        )


@attrs.define
class World:
    """Trained runs to hand bad input to: one input (float64 and float32) and two inputs."""

    one: Run = attrs.field(factory=Run.trained)
    f32: Run = attrs.field(factory=lambda: Run.trained(dtype="float32"))
    two: Run = attrs.field(factory=lambda: Run.trained(inputs=2))

    def state(self):
        return [run.state() for run in (self.one, self.f32, self.two)]


@pytest.fixture
def world():
    return World()


def check_row(world, call, error, phrases):
    """The row's contract: refused exactly so, and no run changed."""
    before = world.state()
    assert_refused(lambda: call(world), error, phrases)
    after = world.state()
    assert after == before  # weights bit for bit, epochs, history, source, optimizer steps


def fit(run_name, x, y, held_out=None):
    return lambda w: getattr(w, run_name).trainer.fit(Raw(x, y, held_out), 1)


def predict(run_name, x):
    return lambda w: getattr(w, run_name).network.predict(x)


def layer_outputs(run_name, x):
    return lambda w: getattr(w, run_name).network.layer_outputs(x)


# Row 1: NaN or inf in inputs or targets ------------------------------------------------------
# Already covered: fit with NaN/inf in x and NaN/-inf in y, predict with NaN
# (test_validation.py); ArraySource with NaN/inf/-inf in x or y (test_data.py).

X, Y = column(), np.sin(column())
NOT_FINITE = [
    case("fit x -inf", fit("one", with_value(X, -np.inf), Y), DataError,
         r"^x must be finite", r"found -inf at row 3, column 0"),
    case("fit y +inf", fit("one", X, with_value(Y, np.inf, row=7)), DataError,
         r"^y must be finite", r"found inf at row 7, column 0"),
    case("fit float32 x NaN", fit("f32", with_value(column(dtype=np.float32), np.nan), Y),
         DataError, r"^x must be finite", r"found nan at row 3"),
    case("fit two NaN in x: both counted", fit("two", with_value(with_value(
         np.zeros((8, 2)), np.nan, 1, 1), np.nan, 5, 0), Y), DataError,
         r"found nan at row 1, column 1", r"2 non-finite value\(s\) in all"),
    case("fit held-out x NaN", fit("one", X, Y, (with_value(X, np.nan, row=0), Y)), DataError,
         r"^x_val must be finite", r"found nan at row 0"),
    case("fit held-out y -inf", fit("one", X, Y, (X, with_value(Y, -np.inf))), DataError,
         r"^y_val must be finite", r"found -inf at row 3"),
    case("predict +inf", predict("one", with_value(X, np.inf)), DataError,
         r"^x must be finite", r"found inf at row 3, column 0"),
    case("predict -inf", predict("two", np.array([[0.0, -np.inf]])), DataError,
         r"^x must be finite", r"found -inf at row 0, column 1"),
    case("predict float32 NaN", predict("f32", with_value(column(4, np.float32), np.nan, 2)),
         DataError, r"^x must be finite", r"found nan at row 2"),
    case("layer_outputs NaN", layer_outputs("one", with_value(X, np.nan)), DataError,
         r"^x must be finite", r"found nan at row 3"),
    case("ArraySource float32 x NaN",
         lambda w: ArraySource(with_value(column(dtype=np.float32), np.nan), Y), DataError,
         r"^x must be finite", r"found nan at row 3"),
    case("Normaliser.fit y inf", lambda w: Normaliser.fit(with_value(Y, np.inf), (0, 1)),
         DataError, r"^y must be finite", r"found inf at row 3"),
    case("Expression x NaN", lambda w: Expression("sin(x)")(with_value(X, np.nan)), DataError,
         r"^x must be finite", r"found nan at row 3"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "phrases"), NOT_FINITE)
def test_nan_or_inf_in_inputs_or_targets(world, call, error, phrases):
    check_row(world, call, error, phrases)


# Row 2: 1-D input where 2-D is expected: the message gives the reshape ------------------------
# Already covered: fit with 1-D x or y, predict with 1-D x (test_validation.py); ArraySource
# (test_data.py); FunctionSource's f returning 1-D (test_data.py).

ONE_D = [
    case("predict 1-D on a two-input network", predict("two", np.array([0.5, 0.25])), DataError,
         r"^x must be 2-D with shape \(samples, inputs\)", r"got shape \(2,\)",
         r"x\.reshape\(1, -1\)"),
    case("fit float32 1-D x", fit("f32", column(dtype=np.float32).ravel(), Y), DataError,
         r"^x must be 2-D", r"got shape \(8,\)", r"x\.reshape\(-1, 1\)"),
    case("fit held-out 1-D y", fit("one", X, Y, (X, Y.ravel())), DataError,
         r"^y_val must be 2-D", r"y_val\.reshape\(-1, 1\)"),
    case("layer_outputs 1-D", layer_outputs("one", X.ravel()), DataError,
         r"^x must be 2-D", r"x\.reshape\(-1, 1\)"),
    case("Normaliser.fit 1-D", lambda w: Normaliser.fit(Y.ravel(), (0, 1)), DataError,
         r"^y must be 2-D with shape \(samples, outputs\)", r"y\.reshape\(-1, 1\)"),
    case("Expression 1-D", lambda w: Expression("x0 * x1")(np.array([1.0, 2.0])), DataError,
         r"^x must be 2-D", r"x\.reshape\(1, -1\)"),
    case("predict a scalar", predict("one", 0.5), DataError,
         r"^x must be 2-D with shape \(samples, inputs\)", r"got shape \(\)"),
    case("predict 3-D", predict("one", X[None]), DataError,
         r"^x must be 2-D", r"got shape \(1, 8, 1\)"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "phrases"), ONE_D)
def test_one_d_input_where_two_d_is_expected(world, call, error, phrases):
    check_row(world, call, error, phrases)


# Row 3: the wrong number of features --------------------------------------------------------
# Already covered: fit with 2 input features or 2 outputs on a 1-1 network, predict with 2
# features on a 1-input network (test_validation.py); Expression (test_expressions.py).

FEATURES = [
    case("predict 3 features on 2 inputs", predict("two", np.zeros((4, 3))), DataError,
         r"^x has 3 inputs per sample", r"expected 2 \(shape \(samples, 2\)\)"),
    case("predict 1 feature on 2 inputs", predict("two", np.zeros((4, 1))), DataError,
         r"^x has 1 inputs per sample", r"expected 2"),
    case("fit 1 feature on 2 inputs", fit("two", X, Y), DataError,
         r"^x has 1 inputs per sample", r"expected 2"),
    case("fit held-out x with 2 features", fit("one", X, Y, (np.hstack([X, X]), Y)), DataError,
         r"^x_val has 2 inputs per sample", r"expected 1"),
    case("fit held-out y with 3 outputs", fit("one", X, Y, (X, np.hstack([Y, Y, Y]))),
         DataError, r"^y_val has 3 outputs per sample", r"expected 1"),
    case("layer_outputs 2 features", layer_outputs("one", np.zeros((2, 2))), DataError,
         r"^x has 2 inputs per sample", r"expected 1"),
    case("predict x with 3 features into a ripple run",
         lambda w: presets.experiment(target="ripple", samples=3).network.predict(np.ones((1, 3))),
         DataError, r"^x has 3 inputs per sample", r"expected 2"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "phrases"), FEATURES)
def test_wrong_number_of_features(world, call, error, phrases):
    check_row(world, call, error, phrases)


# Rows 4 and 5: zero samples, zero features ----------------------------------------------------
# Not covered elsewhere.

EMPTY = [
    case("fit with zero samples", fit("one", np.zeros((0, 1)), np.zeros((0, 1))), DataError,
         r"^x must have at least one sample and one input", r"got shape \(0, 1\)"),
    case("fit with zero held-out samples", fit("one", X, Y, (np.zeros((0, 1)), np.zeros((0, 1)))),
         DataError, r"^x_val must have at least one sample", r"got shape \(0, 1\)"),
    case("predict zero samples", predict("one", np.zeros((0, 1))), DataError,
         r"^x must have at least one sample and one input", r"got shape \(0, 1\)"),
    case("predict an empty list", predict("one", []), DataError,
         r"^x must be 2-D", r"got shape \(0,\)"),
    case("ArraySource with zero samples", lambda w: ArraySource(np.zeros((0, 1)), np.zeros((0, 1))),
         DataError, r"^x must have at least one sample", r"got shape \(0, 1\)"),
    case("layer_outputs zero samples", layer_outputs("one", np.zeros((0, 1))), DataError,
         r"at least one sample", r"got shape \(0, 1\)"),
    case("Normaliser.fit zero samples", lambda w: Normaliser.fit(np.zeros((0, 1)), (0, 1)),
         DataError, r"^y must have at least one sample and one output", r"got shape \(0, 1\)"),
    case("fit with zero features", fit("one", np.zeros((8, 0)), Y), DataError,
         r"^x must have at least one sample and one input", r"got shape \(8, 0\)"),
    case("fit with zero outputs", fit("one", X, np.zeros((8, 0))), DataError,
         r"^y must have at least one sample and one output", r"got shape \(8, 0\)"),
    case("predict zero features", predict("two", np.zeros((3, 0))), DataError,
         r"^x must have at least one sample and one input", r"got shape \(3, 0\)"),
    case("ArraySource with zero features", lambda w: ArraySource(np.zeros((8, 0)), Y), DataError,
         r"^x must have at least one sample and one input", r"got shape \(8, 0\)"),
    case("target function with zero outputs",
         lambda w: FunctionSource(lambda x: x[:, :0], (0, 1), 8).arrays(), DataError,
         r"^f\(x\) must have at least one sample and one output", r"got shape \(8, 0\)"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "phrases"), EMPTY)
def test_zero_samples_or_zero_features(world, call, error, phrases):
    check_row(world, call, error, phrases)


# Row 6: x and y with different numbers of samples -------------------------------------------
# Already covered: fit with one y fewer or two x fewer (test_validation.py); ArraySource
# (test_data.py).

PAIRS = [
    case("fit held-out x and y of 8 and 5", fit("one", X, Y, (X, Y[:5])), DataError,
         r"^x_val has 8 samples but y_val has 5", r"must match"),
    case("fit lists of 8 and 7 rows", fit("one", X.tolist(), Y[:-1].tolist()), DataError,
         r"^x has 8 samples but y has 7", r"must match"),
    case("fit float32 of 2 and 8", fit("f32", column(2, np.float32), Y), DataError,
         r"^x has 2 samples but y has 8", r"must match"),
    case("ArraySource of 1 and 8", lambda w: ArraySource(X[:1], Y), DataError,
         r"^x has 1 samples but y has 8", r"every input needs exactly one target"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "phrases"), PAIRS)
def test_x_and_y_with_different_numbers_of_samples(world, call, error, phrases):
    check_row(world, call, error, phrases)


# Row 7: complex, object and string arrays as x or y --------------------------------------------
# Already covered: ArraySource (test_data.py), FunctionSource's f giving complex (test_data.py).

NOT_REAL = r"\(complex, object and string arrays are not accepted\)"
NOT_REAL_ARRAYS = [
    case("fit complex x", fit("one", X + 0j, Y), DataError,
         r"^x must hold real numbers; got an array of dtype complex128", NOT_REAL),
    case("fit object y", fit("one", X, Y.astype(object)), DataError,
         r"^y must hold real numbers; got an array of dtype object", NOT_REAL),
    case("fit string y", fit("one", X, Y.astype(str)), DataError,
         r"^y must hold real numbers; got an array of dtype <U", NOT_REAL),
    case("fit bytes x", fit("one", X.astype("S8"), Y), DataError,
         r"^x must hold real numbers; got an array of dtype \|S8", NOT_REAL),
    case("fit datetime x", fit("one", np.zeros((8, 1), "datetime64[D]"), Y), DataError,
         r"^x must hold real numbers; got an array of dtype datetime64", NOT_REAL),
    case("fit held-out complex y", fit("one", X, Y, (X, Y * 1j)), DataError,
         r"^y_val must hold real numbers; got an array of dtype complex128", NOT_REAL),
    case("predict complex", predict("one", X + 1j), DataError,
         r"^x must hold real numbers; got an array of dtype complex128", NOT_REAL),
    case("predict object", predict("one", X.astype(object)), DataError,
         r"^x must hold real numbers; got an array of dtype object", NOT_REAL),
    case("predict string", predict("one", X.astype(str)), DataError,
         r"^x must hold real numbers; got an array of dtype <U", NOT_REAL),
    case("predict None", predict("one", None), DataError,
         r"^x must hold real numbers; got an array of dtype object", NOT_REAL),
    case("predict an int too big for int64", predict("one", [[2**70]]), DataError,
         r"^x must hold real numbers; got an array of dtype object", NOT_REAL),
    case("Normaliser.fit strings", lambda w: Normaliser.fit(Y.astype(str), (0, 1)), DataError,
         r"^y must hold real numbers", NOT_REAL),
    case("fit ragged x", fit("one", [[1.0], [2.0, 3.0]], [[1.0], [2.0]]), DataError,
         r"x", r"same length|inhomogeneous|ragged"),
    case("predict ragged x", predict("one", [[1.0], [2.0, 3.0]]), DataError,
         r"x", r"same length|inhomogeneous|ragged"),
    case("ArraySource ragged y", lambda w: ArraySource(X[:2], [[1.0], [2.0, 3.0]]), DataError,
         r"y", r"same length|inhomogeneous|ragged"),
    case("fit masked y", fit("one", X, np.ma.masked_array(Y, mask=Y > 0)), DataError,
         r"y", r"masked"),
    case("predict masked x", predict("one", np.ma.masked_array(X, mask=X > 0)), DataError,
         r"x", r"masked"),
    case("MSE complex target", lambda w: MSE().value(np.zeros((2, 1)), np.ones((2, 1)) * 1j),
         DataError, r"real numbers", r"complex"),
    case("MAE list target", lambda w: MAE().value(np.zeros((2, 1)), [[0.0], [1.0]]),
         DataError, r"targets", r"shape"),
]  # fmt: skip


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")  # the loss gap's
@pytest.mark.parametrize(("call", "error", "phrases"), NOT_REAL_ARRAYS)
def test_complex_object_and_string_arrays(world, call, error, phrases):
    with np.errstate(all="ignore"):
        check_row(world, call, error, phrases)


# Row 8: targets shaped (n,) against predictions (n, 1) are never broadcast to (n, n) ----------
# Already covered: every loss's value, gradient and value_and_gradient on (5, 1) against
# (5,), (5,) against (5, 1) and (5, 2) against (5, 1) (test_losses.py); fit with 1-D y
# (test_validation.py).


def loss_call(loss, method, pred_shape, target_shape):
    pred, target = np.full(pred_shape, 0.25), np.full(target_shape, 0.75)
    return lambda w: getattr(loss, method)(pred, target)


def fit_with_outputs(n_outputs, y):
    """A 1-n network (n outputs) fitted on three samples with targets ``y``; the network is
    compared with its state before."""

    def call(w):
        network = Network([Dense(1, n_outputs)], seed=0)
        before = network.packed.value.copy()
        try:
            Trainer(network, "mse", "sgd").fit(Raw(np.zeros((3, 1)), y), 1)
        finally:
            assert np.array_equal(network.packed.value, before)

    return call


SHAPES = [
    case("MSE stack (2, 6, 1) vs (6,)", loss_call(MSE(), "value", (2, 6, 1), (6,)), DataError,
         r"predictions have shape \(2, 6, 1\) but targets have shape \(6,\)", r"must match"),
    case("fit y (3,) on a network of 3 outputs", fit_with_outputs(3, np.zeros(3)), DataError,
         r"^y must be 2-D with shape \(samples, outputs\)", r"y\.reshape\(-1, 1\)"),
    case("fit y (3, 1) on a network of 3 outputs", fit_with_outputs(3, np.zeros((3, 1))),
         DataError, r"^y has 1 outputs per sample", r"expected 3"),
    case("trainer's loss (n, 1) vs (n,)",
         lambda w: w.one.trainer.loss.value(w.one.network.predict(X), Y.ravel()), DataError,
         r"targets have shape \(8,\)", r"must match exactly"),
    *[case(f"{type(loss).__name__} (3, 3) vs (3,)", loss_call(loss, "value", (3, 3), (3,)),
           DataError, r"predictions have shape \(3, 3\) but targets have shape \(3,\)",
           r"must match exactly") for loss in LOSSES],
    case("MSE (4, 1) vs (1,)", loss_call(MSE(), "gradient", (4, 1), (1,)), DataError,
         r"predictions have shape \(4, 1\) but targets have shape \(1,\)", r"must match exactly"),
    case("MAE one sample: (1, 1) vs (1,)", loss_call(MAE(), "value", (1, 1), (1,)), DataError,
         r"predictions have shape \(1, 1\) but targets have shape \(1,\)", r"must match exactly"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "phrases"), SHAPES)
def test_targets_are_never_broadcast_against_predictions(world, call, error, phrases):
    check_row(world, call, error, phrases)


# Row 9: a target function returning NaN, inf, the wrong shape, or a constant -------------------
# Already covered: f returning NaN, 1-D or a row short, in arrays() and evaluation_arrays()
# (test_data.py); a formula whose values are NaN (test_expressions.py); Normaliser.fit on a
# constant column (test_data.py).


def sampled(f, method="arrays", **options):
    return lambda w: getattr(FunctionSource(f, (0, 1), 8, **options), method)()


def fit_on(f):
    return lambda w: w.one.trainer.fit(FunctionSource(f, (0, 1), 8), 1)


CONSTANT = r"column\(s\) \[0\] are constant"
TARGET_FUNCTIONS = [
    case("f gives +inf", sampled(lambda x: np.where(x > 0.5, np.inf, x)), DataError,
         r"^f\(x\) must be finite", r"found inf at row 4, column 0, where x = \[0\.5714",
         r"4 non-finite"),
    case("f gives -inf on evaluation points",
         sampled(lambda x: np.where(x > 0.9, -np.inf, x), "evaluation_arrays"), DataError,
         r"^f\(x\) must be finite", r"found -inf at row 6"),
    case("f gives NaN, through fit", fit_on(lambda x: np.where(x > 0.5, np.nan, x)), DataError,
         r"^f\(x\) must be finite", r"found nan at row 4"),
    case("f gives NaN in held-out points", sampled(lambda x: np.log(x - 0.5),
         "validation_arrays", validation=0.25), DataError, r"^f\(x\) must be finite",
         r"found nan"),
    case("f is a formula as text", sampled("sin(x)"), ConfigError,
         r"^FunctionSource\.f must be a function of x", r"got 'sin\(x\)' \(a str\)",
         r"pass minifw\.target_from\(text\)"),
    case("f is None", sampled(None), ConfigError,
         r"^FunctionSource\.f must be a function of x", r"got None \(a NoneType\)$"),
    case("f gives a scalar", sampled(lambda x: 1.0), DataError,
         r"must return shape \(8, outputs\) for x of shape \(8, 1\)", r"got shape \(\)"),
    case("f gives 9 rows", sampled(lambda x: np.vstack([x, x[:1]])), DataError,
         r"must return shape \(8, outputs\)", r"got shape \(9, 1\)"),
    case("f gives 3-D", sampled(lambda x: x[None]), DataError,
         r"must return shape \(8, outputs\)", r"got shape \(1, 8, 1\)"),
    case("f gives text", sampled(lambda x: x.astype(str)), DataError,
         r"^f\(x\) must hold real numbers; got an array of dtype <U", NOT_REAL),
    case("f gives None", sampled(lambda x: None), DataError,
         r"^f\(x\) must hold real numbers; got an array of dtype object", NOT_REAL),
    case("f gives a ragged list", sampled(lambda x: [[1.0]] * 7 + [[1.0, 2.0]]), DataError,
         r"f\(x\)", r"same length|inhomogeneous|ragged"),
    case("a constant formula, the blog's sigmoid",
         lambda w: presets.experiment(target="0*x+1"), DataError,
         r"every target column must vary to be normalised", CONSTANT),
    case("a constant formula, tanh, on its own domain",
         lambda w: presets.experiment(target="0*x+1", activation="tanh", domain=(-2, 2)),
         DataError, r"must vary to be normalised", CONSTANT),
    case("a constant function in two outputs' second column",
         lambda w: Normaliser.fit(np.column_stack([Y, np.ones(8)]), (0, 1)), DataError,
         r"every target column must vary", r"column\(s\) \[1\] are constant"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "phrases"), TARGET_FUNCTIONS)
def test_a_target_function_returning_nan_inf_the_wrong_shape_or_a_constant(
    world, call, error, phrases
):
    with np.errstate(all="ignore"):
        check_row(world, call, error, phrases)


# Row 10: a domain whose lower end is not below its upper end -------------------------------------
# Already covered: FunctionSource with (1, 1), (2, 1), infinite, NaN, 3 numbers, text, a scalar,
# complex (test_data.py); ExpressionTarget(domain=(2, 1)) (test_expressions.py); the CLI's
# --domain 2 1 (test_cli.py). The command line cases are in test_the_command_line_refuses_...

DOMAIN = r"domain must be two finite numbers \(low, high\) with low < high"
DOMAINS = [
    case("presets.experiment domain (6.28, 0)",
         lambda w: presets.experiment(domain=(6.28, 0)), ConfigError, DOMAIN,
         r"got \(6\.28, 0\)"),
    case("presets.experiment domain (1, 1)", lambda w: presets.experiment(domain=(1, 1)),
         ConfigError, DOMAIN, r"got \(1, 1\)"),
    case("presets.experiment domain (0, inf)",
         lambda w: presets.experiment(domain=(0, math.inf)), ConfigError, DOMAIN, r"inf"),
    case("a named target's source on (3, -3)",
         lambda w: target_from("gauss").source(8, (3, -3)), ConfigError, DOMAIN,
         r"got \(3, -3\)"),
    case("a formula target on [2, 1]", lambda w: target_from("x").source(8, [2, 1]),
         ConfigError, DOMAIN, r"got \[2, 1\]"),
    case("a domain whose width overflows", lambda w: FunctionSource(np.sin, (-1e308, 1e308)),
         ConfigError, r"domain", r"finite"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "phrases"), DOMAINS)
def test_a_domain_whose_low_end_is_not_below_its_high_end(world, call, error, phrases):
    with np.errstate(all="ignore"):
        check_row(world, call, error, phrases)


def test_a_reversed_domain_in_a_configuration_file_stops_train_before_anything_runs(capsys):
    # RunConfig itself refuses the domain, so the file is written by hand, as a user might.
    Path("run.toml").write_text("[data]\ndomain = [2.0, 1.0]\n[training]\nepochs = 5\n")
    before = snapshot(Path("."))
    with pytest.raises(SystemExit) as info:
        main(["train", "--config", "run.toml"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert re.search(DOMAIN, err) and "got (2.0, 1.0)" in err
    assert snapshot(Path(".")) == before


def test_a_reversed_domain_in_a_configuration_file_is_refused_by_load_naming_the_key():
    Path("run.toml").write_text("[data]\ndomain = [2, 1]\n")
    with pytest.raises(ConfigError, match=r"run\.toml: data\.domain") as info:
        RunConfig.load("run.toml")
    assert "low < high" in str(info.value)


# Row 11: hyperparameters refused where written (the Python API) -----------------------------------
# Already covered: SGD's lr (0, <0, nan, inf, text, None), momentum, weight_decay; RMSProp's
# clip_norm, rho, epsilon; Adam's betas, epsilon and schedule, in the constructor and the
# setter (test_optimizers.py); epochs -1, 1.5, "3", None, True and batch_size 0, -4, 2.5
# (test_validation.py); Dense n_in 0 and n_out -1 (test_layers.py); unknown activation
# (test_validation.py, test_activations.py).

FINITE_POSITIVE = r"must be a finite number > 0"


def set_later(make, field, value):
    """Set ``field`` of a fresh ``make()`` to ``value``: refused, and the old value kept."""

    def call(w):
        component = make()
        old = getattr(component, field)
        try:
            setattr(component, field, value)
        finally:
            assert getattr(component, field) == old

    return call


def listing(values):
    """A regex for a message's list of registered names holding ``values`` in order.

    Other test modules register components of their own when they are imported, which may
    be after these cases are collected, so other names may come between (not only after).
    """
    return r"(?:[\w.]+, )*" + r"(?:, [\w.]+)*, ".join(map(re.escape, values))


# Every unknown name says how a component of one's own is named: its file loaded first.
OWN = r" \(a component of your own is named once its file is loaded: --plugin FILE\)"


def unknown(family, kind, names):
    # ...and nothing after the list: no name is close enough to 'nope' to be guessed.
    expected = rf"expected one of: {listing(names)}(?:, [\w.]+)*$"
    return (rf"unknown {kind} 'nope'", expected)


def names(base):
    return base.registry.names()


def every_one_of(listed):
    """A pattern for "(a, b, c)" that holds each of ``listed``, in order, and perhaps others:
    a test file run earlier in the same process may have registered names of its own."""
    other = r"(?:\w+, )*"
    return r"\(" + other + (", " + other).join(map(re.escape, listed)) + r"(?:, \w+)*\)"


HYPERPARAMETERS = [
    case("Adam lr 0", lambda w: Adam(lr=0), ConfigError, r"^Adam\.lr " + FINITE_POSITIVE,
         r"got 0$"),
    case("RMSProp lr -1", lambda w: RMSProp(lr=-1), ConfigError,
         r"^RMSProp\.lr " + FINITE_POSITIVE, r"got -1$"),
    case("Adam lr nan", lambda w: Adam(lr=math.nan), ConfigError,
         r"^Adam\.lr " + FINITE_POSITIVE, r"got nan$"),
    case("RMSProp lr inf", lambda w: RMSProp(lr=math.inf), ConfigError,
         r"^RMSProp\.lr " + FINITE_POSITIVE, r"got inf$"),
    case("Adam lr set to -inf later", set_later(Adam, "lr", -math.inf), ConfigError,
         r"^Adam\.lr " + FINITE_POSITIVE, r"got -inf$"),
    case("the trainer's optimizer lr set to 0 later",
         lambda w: setattr(w.one.trainer.optimizer, "lr", 0.0), ConfigError,
         r"^SGD\.lr " + FINITE_POSITIVE, r"got 0\.0$"),
    case("lr as an array with a 0", lambda w: SGD(lr=np.array([[0.1], [0.0]])), ConfigError,
         r"must hold finite numbers > 0, one per stacked network", r"got array"),
    case("presets.experiment lr 0", lambda w: presets.experiment(lr=0), ConfigError,
         r"^lr " + FINITE_POSITIVE, r"got 0$"),
    case("presets.experiment lr nan with adam",
         lambda w: presets.experiment(optimizer="adam", lr=math.nan), ConfigError,
         r"^lr " + FINITE_POSITIVE, r"got nan$"),
    case("spec sgd:lr=inf", lambda w: Optimizer.resolve("sgd:lr=inf"), ConfigError,
         r"^SGD\.lr " + FINITE_POSITIVE, r"got inf$"),
    case("spec sgd:momentum=-0.5", lambda w: Optimizer.resolve("sgd:momentum=-0.5"),
         ConfigError, r"^SGD\.momentum must be a finite number >= 0", r"got -0\.5$"),
    case("momentum set to -1 later", set_later(SGD, "momentum", -1), ConfigError,
         r"^SGD\.momentum must be a finite number >= 0", r"got -1$"),
    case("spec adam:beta1=1", lambda w: Optimizer.resolve("adam:beta1=1"), ConfigError,
         r"^Adam\.beta1 must be < 1", r"got 1$"),
    case("spec adam:beta2=-0.1", lambda w: Optimizer.resolve("adam:beta2=-0.1"), ConfigError,
         r"^Adam\.beta2 must be a finite number >= 0", r"got -0\.1$"),
    case("beta2 set to 1 later", set_later(Adam, "beta2", 1.0), ConfigError,
         r"^Adam\.beta2 must be < 1", r"got 1\.0$"),
    case("spec rmsprop:rho=1.5", lambda w: Optimizer.resolve("rmsprop:rho=1.5"), ConfigError,
         r"^RMSProp\.rho must be < 1", r"got 1\.5$"),
    case("Experiment.fit(-1)", lambda w: presets.experiment(samples=4).fit(-1), ConfigError,
         r"^epochs must be a whole number >= 0", r"got -1$"),
    case("fit epochs -3 on a trained run", lambda w: w.one.trainer.fit(w.one.source, -3),
         ConfigError, r"^epochs must be a whole number >= 0", r"got -3$"),
    case("batch_size -1", lambda w: Trainer(w.one.network, "mse", "sgd", batch_size=-1),
         ConfigError, r"^Trainer\.batch_size must be a whole number >= 1", r"got -1$"),
    case("batch_size set to 0 later", lambda w: setattr(w.one.trainer, "batch_size", 0),
         ConfigError, r"^Trainer\.batch_size must be a whole number >= 1", r"got 0$"),
    case("Dense(1, 0)", lambda w: Dense(1, 0), ConfigError,
         r"^Dense\.n_out must be a whole number >= 1", r"got 0$"),
    case("presets.experiment layers (4, 0)", lambda w: presets.experiment(layers=(4, 0)),
         ConfigError, r"^layers must be whole numbers >= 1", r"got \(4, 0\)$"),
    case("presets.blog hidden 0", lambda w: presets.blog(hidden=0), ConfigError,
         r"^layers must be whole numbers >= 1", r"got \(0,\)$"),
    case("unknown loss", lambda w: Loss.resolve("nope"), ConfigError,
         *unknown(Loss, "loss", names(Loss))),
    case("unknown optimizer", lambda w: Optimizer.resolve("nope:lr=0.1"), ConfigError,
         *unknown(Optimizer, "optimizer", names(Optimizer))),
    case("unknown initializer", lambda w: Dense(1, 2, initializer="nope"), ConfigError,
         *unknown(Initializer, "initializer", names(Initializer))),
    case("unknown schedule", lambda w: Schedule.resolve("nope"), ConfigError,
         *unknown(Schedule, "schedule", names(Schedule))),
    case("unknown activation through presets",
         lambda w: presets.experiment(output_activation="nope"), ConfigError,
         *unknown(Activation, "activation", names(Activation))),
    case("unknown loss through Trainer", lambda w: Trainer(w.one.network, "nope", "sgd"),
         ConfigError, *unknown(Loss, "loss", names(Loss))),
    case("unknown target", lambda w: target_from("nope"), ConfigError,
         r"target 'nope' is neither a registered target " + every_one_of(names(Target)),
         r"nor a valid expression"),
    case("unknown target through presets", lambda w: presets.experiment(target="nope"),
         ConfigError, r"target 'nope' is neither a registered target", r"abs, cos"),
    case("a misspelt loss", lambda w: Loss.resolve("msa"), ConfigError,
         r"^unknown loss 'msa'" + OWN + "; expected one of: ", r"; did you mean 'mae' or 'mse'\?$"),
    case("a misspelt initializer through Dense",
         lambda w: Dense(1, 2, initializer="he_unifrom"), ConfigError,
         r"^unknown initializer 'he_unifrom'", r"; did you mean 'he_uniform'\?$"),
    case("a misspelt optimizer parameter", lambda w: Optimizer.resolve("sgd:momentun=0.9"),
         ConfigError, r"^optimizer 'sgd': unknown parameter 'momentun'; it takes: ",
         r"; did you mean 'momentum'\?$"),
    case("a parameter two names are as close to", lambda w: Optimizer.resolve("adam:beta=0.9"),
         ConfigError, r"^optimizer 'adam': unknown parameter 'beta'; it takes: lr, beta1, ",
         r"did you mean 'beta1' or 'beta2'\?$"),
    case("a parameter for a component that takes none",
         lambda w: Activation.resolve("sigmoid:alpha=1"), ConfigError,
         r"^activation 'sigmoid': unknown parameter 'alpha'", r"it takes: no parameters$"),
    case("unknown blog activation", lambda w: presets.blog("nope"), ConfigError,
         r"unknown blog activation 'nope'", r"expected one of: sigmoid, tanh, relu"),
    case("a parameter the optimizer does not take", lambda w: Optimizer.resolve("sgd:beta=1"),
         ConfigError, r"^optimizer 'sgd': unknown parameter 'beta'",
         r"it takes: [\w, ]*momentum[\w, ]*$"),  # nothing close: no guess
    case("Network seed 'abc'", lambda w: Network([Dense(1, 1)], seed="abc"), ConfigError,
         r"seed", r"whole number"),
    case("Trainer seed -1", lambda w: Trainer(w.one.network, "mse", "sgd", seed=-1),
         ConfigError, r"seed", r">= 0"),
    case("ArraySource seed 1.5", lambda w: ArraySource(X, Y, seed=1.5), ConfigError,
         r"seed", r"whole number"),
    case("presets.experiment seed -1", lambda w: presets.experiment(seed=-1), ConfigError,
         r"seed", r">= 0"),
    case("Dense bias 'no'", lambda w: Dense(1, 1, bias="no"), ConfigError,
         r"bias", r"True or False"),
    case("Trainer shuffle 'no'", lambda w: Trainer(w.one.network, "mse", "sgd", shuffle="no"),
         ConfigError, r"shuffle", r"True or False"),
    case("Trainer stop_on_divergence 'no'",
         lambda w: Trainer(w.one.network, "mse", "sgd", stop_on_divergence="no"), ConfigError,
         r"stop_on_divergence", r"True or False"),
    case("presets.experiment batch_size 0", lambda w: presets.experiment(batch_size=0),
         ConfigError, r"batch_size must be a whole number >= 1", r"got 0"),
    case("presets.experiment batch_size '4'", lambda w: presets.experiment(batch_size="4"),
         ConfigError, r"batch_size must be a whole number >= 1", r"got '4'"),
    case("presets.experiment layers 5", lambda w: presets.experiment(layers=5), ConfigError,
         r"layers", r"size"),
    case("Network normaliser (0, 1)", lambda w: Network([Dense(1, 1)], normaliser=(0, 1)),
         ConfigError, r"normaliser", r"Normaliser"),
    case("a normaliser of 3 columns on a 1-output network",
         lambda w: Network([Dense(1, 1)], normaliser=Normaliser(
             (np.zeros(3), np.ones(3)), (0.0, 1.0))).predict(X), ConfigError,
         r"normaliser", r"3"),
    case("Trainer callbacks [3]", lambda w: Trainer(w.one.network, "mse", "sgd", callbacks=[3]),
         ConfigError, r"callbacks", r"Callback"),
    case("fit on a tuple, not a DataSource", lambda w: w.one.trainer.fit((X, Y), 1),
         ConfigError, r"DataSource", r"tuple"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "phrases"), HYPERPARAMETERS)
def test_hyperparameters_are_refused_where_written(world, call, error, phrases):
    check_row(world, call, error, phrases)


# Row 12: hyperparameters, names and domains refused on the command line -------------------------
# Already covered (test_cli.py): --lr 0, -0.5, nan; --epochs -1, 2.5; --batch-size 0;
# --hidden 0; --activation mish; --optimizer sgd:nesterov=maybe; --target nope;
# --layers 8,0 and 8,x; --domain 2 1; --validation 1; --plugin missing.py; and
# (test_config.py) a file's optimizer adam:beta1=2.


def snapshot(directory):
    """{relative path: bytes} of every file under ``directory``."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


CLI = [
    case("--lr=inf", ["train", "--lr=inf"], SystemExit,
         r"argument --lr: must be a finite number > 0; got inf"),
    case("--lr=-inf", ["train", "--lr=-inf"], SystemExit,
         r"argument --lr: must be a finite number > 0; got -inf"),
    case("--lr 1e-400 (0 as a float)", ["train", "--lr", "1e-400"], SystemExit,
         r"argument --lr: must be a finite number > 0; got 0\.0"),
    case("--optimizer adam:lr=0", ["train", "--optimizer", "adam:lr=0"], SystemExit,
         r"minifw: error: Adam\.lr must be a finite number > 0; got 0"),
    case("--optimizer sgd:momentum=-0.5", ["train", "--optimizer", "sgd:momentum=-0.5"],
         SystemExit, r"minifw: error: SGD\.momentum must be a finite number >= 0; got -0\.5"),
    case("--optimizer adam:beta1=1", ["train", "--optimizer", "adam:beta1=1"], SystemExit,
         r"minifw: error: Adam\.beta1 must be < 1; got 1"),
    case("--optimizer adam:beta2=-0.1", ["train", "--optimizer", "adam:beta2=-0.1"],
         SystemExit, r"minifw: error: Adam\.beta2 must be a finite number >= 0; got -0\.1"),
    case("--optimizer rmsprop:rho=1.5", ["train", "--optimizer", "rmsprop:rho=1.5"],
         SystemExit, r"minifw: error: RMSProp\.rho must be < 1; got 1\.5"),
    case("--epochs=-5", ["train", "--epochs=-5"], SystemExit,
         r"argument --epochs: must be a whole number >= 0; got -5"),
    case("--epochs nan", ["train", "--epochs", "nan"], SystemExit,
         r"argument --epochs: expected a whole number; got 'nan'"),
    case("--batch-size=-3", ["train", "--batch-size=-3"], SystemExit,
         r"argument --batch-size: must be a whole number >= 1; got -3"),
    case("--layers 0", ["train", "--layers", "0"], SystemExit,
         r"argument --layers/--hidden: must be whole numbers >= 1 \(units per hidden layer\)"),
    case("--samples 1", ["train", "--samples", "1"], SystemExit,
         r"argument --samples: must be a whole number >= 2; got 1"),
    case("--noise -1", ["train", "--noise=-1"], SystemExit,
         r"argument --noise: must be a finite number >= 0; got -1\.0"),
    case("--validation nan", ["train", "--validation", "nan"], SystemExit,
         r"argument --validation: must be a finite number >= 0 and < 1; got nan"),
    case("--checkpoint-every 0", ["train", "--checkpoint-every", "0"], SystemExit,
         r"argument --checkpoint-every: must be a whole number >= 1; got 0"),
    case("--schedule step:step_size=0", ["train", "--schedule", "step:step_size=0"],
         SystemExit, r"StepDecay\.step_size must be a whole number >= 1; got 0"),
    case("--loss nope", ["train", "--loss", "nope"], SystemExit,
         r"unknown loss 'nope'" + OWN + "; expected one of: " + listing(names(Loss))),
    case("--optimizer nope", ["train", "--optimizer", "nope"], SystemExit,
         r"unknown optimizer 'nope'" + OWN + "; expected one of: " + listing(names(Optimizer))),
    case("--init nope", ["train", "--init", "nope"], SystemExit,
         r"unknown initializer 'nope'" + OWN + "; expected one of: " + listing(names(Initializer))),
    case("--schedule nope", ["train", "--schedule", "nope"], SystemExit,
         r"unknown schedule 'nope'" + OWN + "; expected one of: " + listing(names(Schedule))),
    case("--output-activation nope", ["train", "--output-activation", "nope"], SystemExit,
         r"unknown activation 'nope'" + OWN + "; expected one of: " + listing(names(Activation))),
    case("--target with an unknown function", ["train", "--target", "sine(x)"], SystemExit,
         r"target 'sine\(x\)' is neither a registered target \(" + listing(names(Target)),
         r"the function 'sine'"),
    case("--dtype float16", ["train", "--dtype", "float16"], SystemExit,
         r"argument --dtype: invalid choice: 'float16'", r"'float64', 'float32'"),
    case("--sampling sobol", ["train", "--sampling", "sobol"], SystemExit,
         r"argument --sampling: invalid choice: 'sobol'", r"'grid', 'uniform'"),
    case("--domain 1 1", ["train", "--domain", "1", "1"], SystemExit, DOMAIN,
         r"got \(1\.0, 1\.0\)"),
    case("--domain nan 1", ["train", "--domain", "nan", "1"], SystemExit,
         r"argument --domain: expected a finite number, got 'nan'"),
    case("--plot-domain 3 1", ["train", "--plot-domain", "3", "1"], SystemExit, DOMAIN,
         r"got \(3\.0, 1\.0\)"),
    case("plot --domain 2 1", ["plot", "model.npz", "--domain", "2", "1"], SystemExit,
         r"domain must be finite with low < high", r"got \[2\.0, 1\.0\]"),
    case("plot --target nope", ["plot", "model.npz", "--target", "nope"], SystemExit,
         r"target 'nope' is neither a registered target", r"nor a valid expression"),
    case("predict --x nan", ["predict", "model.npz", "--x", "nan"], SystemExit,
         r"argument --x: expected a finite number, got 'nan'"),
    case("predict --input with 2 columns", ["predict", "model.npz", "--input", "two.csv"],
         SystemExit, r"x has 2 inputs per sample; expected 1"),
    case("sweep --grid lr=0,0.1", ["sweep", "--grid", "lr=0,0.1", "--out", "sweep"],
         SystemExit, r"--grid lr must be a finite number > 0; got 0\.0"),
    case("sweep --grid seeds", ["sweep", "--grid", "seed=1,2"], SystemExit,
         r"--grid seed: a sweep varies the settings target, domain", r"not 'seed'"),
    case("--config with seed = -1", ["train", "--config", "seed.toml"], SystemExit,
         r"seed", r">= 0"),
    case("--config with batch_size = 0", ["train", "--config", "batch.toml"], SystemExit,
         r"batch_size must be a whole number >= 1", r"got 0"),
]  # fmt: skip


@pytest.fixture
def files():
    """The directory the command runs in, with a model, configurations and a CSV file."""
    run = presets.experiment(samples=4, layers=(2,))
    minifw.save(run.network, "model.npz", source=run.source, history={"loss": [0.5]})
    Path("two.csv").write_text("1,2\n3,4\n")
    Path("seed.toml").write_text("[training]\nseed = -1\nepochs = 1\n[output]\nno_plot = true\n")
    Path("batch.toml").write_text("[training]\nbatch_size = 0\n[output]\nno_plot = true\n")
    return Path(".")


@pytest.mark.parametrize(("argv", "error", "phrases"), CLI)
def test_the_command_line_refuses_bad_flags_before_anything_runs(files, argv, error, phrases):
    before = snapshot(files)
    err = io.StringIO()
    with (
        contextlib.redirect_stderr(err),
        contextlib.redirect_stdout(io.StringIO()),
        pytest.raises(error) as info,
    ):
        main(argv)
    assert info.value.code == 2
    message = err.getvalue()
    assert "Traceback" not in message
    assert message.startswith(("usage:", "minifw: error: ")), message
    for phrase in phrases:
        assert re.search(phrase, message), f"{phrase!r} is not in {message!r}"
    assert snapshot(files) == before  # no ledger, no figure, no model: nothing changed
