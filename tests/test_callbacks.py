"""Callbacks: early stopping, stopping on NaN, progress bar, CSV log, callbacks from functions."""

import csv
import io
import math
import pickle
from unittest import mock

import numpy as np
import pytest
from helpers import HeldOut, line

import minifw
from minifw import (
    SGD,
    ArraySource,
    Callback,
    ConfigError,
    CSVLogger,
    Dense,
    EarlyStopping,
    LambdaCallback,
    Network,
    ProgressBar,
    TerminateOnNaN,
    Trainer,
    TrainingDiverged,
)


def with_validation(held_out_sign=1.0):
    """The line to train on, and its odd points held out (negated with ``held_out_sign=-1``)."""
    x, y = line(25)
    return HeldOut((x[::2], y[::2]), (x[1::2], held_out_sign * y[1::2]))


def small_network(seed=0):
    return Network([Dense(1, 4, "tanh"), Dense(4, 1)], seed=seed)


def trainer_with(*callbacks, lr=0.05, optimizer=None, network=None, **options):
    return Trainer(
        network or small_network(),
        "mse",
        optimizer or SGD(lr=lr),
        batch_size=4,
        callbacks=list(callbacks),
        **options,
    )


class Unmoving(minifw.Optimizer):
    """Leaves every parameter as it is, so every epoch's losses are the same."""

    name = "test_callbacks_unmoving"  # registered names are unique across the test session

    def step(self, parameters):
        pass


# --- Callback.listens_to: how the trainer decides whom to call per batch -----------------


def test_listens_to_is_true_for_overridden_hooks_only():
    class OnBatch(Callback):
        def on_batch_end(self, trainer, batch, logs):
            pass

    assert not Callback().listens_to("on_batch_end")
    assert OnBatch().listens_to("on_batch_end")
    assert not OnBatch().listens_to("on_epoch_begin")


def test_the_trainer_asks_listens_to_before_calling_a_callback_per_batch():
    class Deaf(Callback):
        def __init__(self):
            self.batches = 0

        def on_batch_end(self, trainer, batch, logs):
            self.batches += 1

        def listens_to(self, hook):
            return hook != "on_batch_end"

    deaf = Deaf()
    trainer_with(deaf).fit(ArraySource(*line()), 2)
    assert deaf.batches == 0


# --- EarlyStopping ------------------------------------------------------------------------


def drive(callback, values, key="val_loss"):
    """Feed ``values`` to ``callback`` as successive epochs' logs; return the trainer."""
    trainer = trainer_with(callback)
    callback.on_train_begin(trainer)
    for epoch, value in enumerate(values):
        callback.on_epoch_end(trainer, epoch, {"loss": 1.0, key: value})
        if trainer.stop_training:
            break
    return trainer


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    stopper = EarlyStopping(patience=2)
    trainer = drive(stopper, [5.0, 4.0, 4.5, 3.0, 3.0, 3.5, 1.0])
    assert trainer.stop_training
    assert (stopper.best, stopper.best_epoch, stopper.stopped_epoch) == (3.0, 3, 5)


def test_early_stopping_needs_an_improvement_larger_than_min_delta():
    stopper = EarlyStopping(monitor="loss", patience=1, min_delta=0.1)
    trainer = drive(stopper, [1.0, 0.95, 0.5], key="loss")
    assert trainer.stop_training  # 0.05 below the best is not more than min_delta
    assert (stopper.best, stopper.best_epoch, stopper.stopped_epoch) == (1.0, 0, 1)


def test_early_stopping_never_counts_nan_as_an_improvement():
    stopper = EarlyStopping(patience=2)
    trainer = drive(stopper, [1.0, math.nan, math.nan, 0.5])
    assert trainer.stop_training and stopper.stopped_epoch == 2 and stopper.best == 1.0


def test_early_stopping_in_a_fit_that_cannot_improve():
    stopper = EarlyStopping(patience=3)
    result = trainer_with(stopper, optimizer=Unmoving()).fit(with_validation(), 50)
    assert result.epochs == 4  # the best at epoch 0, then 3 epochs without improvement
    assert (stopper.best_epoch, stopper.stopped_epoch) == (0, 3)
    assert stopper.best == result.val_loss[0]


def test_early_stopping_runs_to_the_end_while_it_improves():
    stopper = EarlyStopping(patience=1)
    result = trainer_with(stopper, lr=0.01).fit(with_validation(), 10)
    assert result.epochs == 10 and stopper.stopped_epoch is None
    assert stopper.best_epoch == 9
    assert stopper.best == min(result.val_loss)


def test_restore_best_puts_back_the_weights_of_the_best_epoch():
    # Validating against the negated line: the better training gets, the worse val_loss.
    source = with_validation(held_out_sign=-1.0)
    stopper = EarlyStopping(patience=5, restore_best=True)
    trainer = trainer_with(stopper)
    result = trainer.fit(source, 30)
    assert stopper.best_epoch == 0 and result.epochs == 6
    assert result.val_loss[-1] > result.val_loss[0]
    x_val, y_val = source.validation_arrays()
    val_loss_now = float(np.mean((trainer.network.forward(x_val) - y_val) ** 2))
    assert val_loss_now == pytest.approx(result.val_loss[0], rel=1e-12)


def test_restore_best_is_off_by_default():
    source = with_validation(held_out_sign=-1.0)
    trainer = trainer_with(EarlyStopping(patience=5))
    result = trainer.fit(source, 30)
    x_val, y_val = source.validation_arrays()
    val_loss_now = float(np.mean((trainer.network.forward(x_val) - y_val) ** 2))
    assert val_loss_now == pytest.approx(result.val_loss[-1], rel=1e-12)


def test_early_stopping_restarts_at_each_fit():
    stopper = EarlyStopping(patience=3)
    trainer = trainer_with(stopper, optimizer=Unmoving())
    trainer.fit(with_validation(), 50)
    assert stopper.stopped_epoch == 3
    trainer.fit(with_validation(), 2)
    assert stopper.stopped_epoch is None and stopper.best_epoch == 0


def test_early_stopping_without_the_monitored_key_names_it_and_the_keys_there_are():
    trainer = trainer_with(EarlyStopping())
    with pytest.raises(ConfigError, match=r"'val_loss'.*they have: 'loss'.*validation") as info:
        trainer.fit(ArraySource(*line()), 5)
    assert "EarlyStopping.monitor" in str(info.value)
    assert len(trainer.history.loss) == 1  # raised at the end of the first epoch


def test_early_stopping_can_monitor_the_training_loss():
    stopper = EarlyStopping(monitor="loss", patience=2)
    result = trainer_with(stopper, optimizer=Unmoving()).fit(ArraySource(*line()), 20)
    assert result.epochs == 3 and stopper.best == result.loss[0]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"patience": -1}, "patience"),
        ({"patience": 2.5}, "patience"),
        ({"min_delta": -0.1}, "min_delta"),
        ({"min_delta": math.nan}, "min_delta"),
        ({"monitor": 3}, "monitor"),
        ({"monitor": ""}, "monitor"),
    ],
)
def test_early_stopping_refuses_bad_settings(options, field):
    with pytest.raises(ConfigError, match=rf"EarlyStopping\.{field} must"):
        EarlyStopping(**options)


# --- TerminateOnNaN -----------------------------------------------------------------------


class WeightLog(Callback):
    """Each batch's (epoch, batch, loss, weights after the update), seen before TerminateOnNaN."""

    def __init__(self):
        self.rows, self.epoch = [], None

    def on_epoch_begin(self, trainer, epoch):
        self.epoch = epoch

    def on_batch_end(self, trainer, batch, logs):
        self.rows.append((self.epoch, batch, logs["loss"], trainer.network.packed.value.copy()))


def diverging(*callbacks, lr=10.0):
    """A ReLU network with a linear output, trained at a learning rate it cannot survive.

    (The blog presets do not reach a NaN at any learning rate: a huge step kills
    every ReLU unit, and sigmoid and tanh saturate, leaving the loss finite.)
    """
    x = np.linspace(-1, 1, 20).reshape(-1, 1)
    network = Network([Dense(1, 8, "relu"), Dense(8, 1)], seed=0)
    trainer = Trainer(
        network, "mse", SGD(lr=lr), batch_size=4, shuffle=False, callbacks=list(callbacks)
    )
    return trainer, ArraySource(x, np.sin(3 * x))


@pytest.fixture
def quiet_overflow():
    with np.errstate(over="ignore", invalid="ignore"):
        yield


@pytest.mark.usefixtures("quiet_overflow")
def test_terminate_on_nan_stops_at_the_first_non_finite_loss_and_restores_the_weights():
    log, guard = WeightLog(), TerminateOnNaN()
    trainer, source = diverging(log, guard)
    result = trainer.fit(source, 100)
    losses = [row[2] for row in log.rows]
    first_bad = next(i for i, loss in enumerate(losses) if not math.isfinite(loss))
    assert first_bad > 10  # it trained a while before it diverged
    assert len(log.rows) == first_bad + 1  # no batch ran after it
    epoch, batch, _, _ = log.rows[first_bad]
    # The diverged epoch is not counted: the histories end with the last one that ended finite.
    assert trainer.stop_training and result.epochs == epoch == trainer.epochs_done
    assert np.isfinite(trainer.run_history["loss"]).all()
    weights = trainer.network.packed.value
    assert np.isfinite(weights).all()
    np.testing.assert_array_equal(weights, log.rows[first_bad - 1][3])
    # The failing batch's own update was undone.
    assert not np.array_equal(log.rows[first_bad][3], weights, equal_nan=True)

    diagnosis = guard.diagnosis
    assert (diagnosis.epoch, diagnosis.batch) == (epoch, batch)
    assert diagnosis.lr == 10.0 and diagnosis.weights_finite
    assert not math.isfinite(diagnosis.loss)
    assert len(diagnosis.largest_pre_activation) == 2
    hidden_z, output_z = diagnosis.largest_pre_activation
    assert hidden_z > 1e10 and output_z > 1e150  # the output's square overflowed
    text = str(diagnosis)
    for expected in [
        f"epoch {epoch}, batch {batch}",
        "learning rate 10",
        "layer 0 (Dense 1->8, ReLU)",
        "layer 1 (Dense 8->1, Identity)",
        "lower the learning rate (now 10) by 10x, to 1",
        "bounded activation (tanh, sigmoid) in hidden layer 0",
    ]:
        assert expected in text


@pytest.mark.usefixtures("quiet_overflow")
def test_terminate_on_nan_can_raise_after_restoring_the_weights():
    log, guard = WeightLog(), TerminateOnNaN(raise_error=True)
    trainer, source = diverging(log, guard)
    with pytest.raises(TrainingDiverged) as info:
        trainer.fit(source, 100)
    error = info.value
    assert isinstance(error, minifw.MinifwError) and isinstance(error, ArithmeticError)
    assert error.diagnosis is guard.diagnosis and str(error) == str(guard.diagnosis)
    assert pickle.loads(pickle.dumps(error)).diagnosis == guard.diagnosis
    np.testing.assert_array_equal(trainer.network.packed.value, log.rows[-2][3])


@pytest.mark.usefixtures("quiet_overflow")
def test_terminate_on_nan_at_the_first_batch_restores_the_initial_weights():
    trainer, source = diverging(TerminateOnNaN())
    trainer.network.layers[1].weights = np.full((8, 1), 1e200)
    initial = trainer.network.packed.value.copy()
    trainer.fit(source, 5)
    np.testing.assert_array_equal(trainer.network.packed.value, initial)
    assert trainer.callbacks[-1].diagnosis.batch == 0


def test_terminate_on_nan_also_catches_an_update_that_leaves_the_loss_finite():
    # A -inf weight into a ReLU unit whose inputs are all positive: the unit outputs 0 and
    # the loss stays finite, but those weights must not become the "last finite" ones.
    def poison(trainer, batch, logs):
        if batch == 2:
            trainer.network.layers[0].weights[0, 0] = -np.inf

    guard = TerminateOnNaN()
    x = np.linspace(0.1, 1, 12).reshape(-1, 1)
    network = Network([Dense(1, 3, "relu"), Dense(3, 1)], seed=0)
    trainer = trainer_with(LambdaCallback(on_batch_end=poison), guard, network=network)
    result = trainer.fit(ArraySource(x, x), 3)
    assert np.isfinite(result.loss).all()
    assert (guard.diagnosis.epoch, guard.diagnosis.batch) == (0, 2)
    assert not guard.diagnosis.weights_finite
    assert "made the weights non-finite" in str(guard.diagnosis)
    assert np.isfinite(network.packed.value).all()


def test_terminate_on_nan_changes_nothing_while_training_is_finite():
    guard = TerminateOnNaN()
    plain, guarded = trainer_with(), trainer_with(guard)
    source = ArraySource(*line())
    assert plain.fit(source, 5).loss == guarded.fit(source, 5).loss
    assert guard.diagnosis is None and not guarded.stop_training


def test_dense_pre_activation_is_the_last_forwards_z():
    layer = Dense(2, 3, "relu")
    layer.initialize(np.random.default_rng(0))
    layer.bias = np.array([0.5, -0.5, 0.0])
    assert layer.pre_activation is None
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    layer.forward(x)
    np.testing.assert_allclose(layer.pre_activation, x @ layer.weights + layer.bias)


# --- ProgressBar --------------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_draws_on_a_terminal_with_the_losses_and_closes():
    terminal = FakeTerminal()
    trainer_with(ProgressBar(file=terminal)).fit(with_validation(), 5)
    text = terminal.getvalue()
    assert "5/5" in text and "loss=" in text and "val_loss=" in text
    assert text.endswith("\n")  # closed: the finished bar is left on its own line


@pytest.mark.parametrize(
    ("enabled", "stream"),
    [(True, io.StringIO), (False, FakeTerminal)],
    ids=["not a terminal", "disabled"],
)
def test_progress_bar_is_silent_when_disabled_or_not_on_a_terminal(enabled, stream):
    file = stream()
    trainer_with(ProgressBar(enabled, file=file)).fit(ArraySource(*line()), 3)
    assert file.getvalue() == ""


def test_progress_bar_on_captured_stderr_writes_nothing(capsys):
    trainer_with(ProgressBar()).fit(ArraySource(*line()), 3)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


# --- CSVLogger ----------------------------------------------------------------------------


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_csv_logger_writes_one_row_per_epoch_that_round_trips(tmp_path):
    path = tmp_path / "log.csv"
    trainer = trainer_with(CSVLogger(path))
    result = trainer.fit(with_validation(), 4)
    rows = read_rows(path)
    assert list(rows[0]) == ["epoch", "loss", "val_loss"]
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2, 3]
    assert [float(row["loss"]) for row in rows] == result.loss  # exactly: floats by repr
    assert [float(row["val_loss"]) for row in rows] == result.val_loss


def test_csv_logger_flushes_each_complete_line_as_the_epoch_ends(tmp_path):
    path = tmp_path / "log.csv"
    seen = []
    peek = LambdaCallback(on_epoch_end=lambda trainer, epoch, logs: seen.append(path.read_text()))
    trainer_with(CSVLogger(path), peek).fit(ArraySource(*line()), 3)
    assert [text.count("\n") for text in seen] == [2, 3, 4]  # the header, then a row a line
    assert all(text.endswith("\n") for text in seen)


def test_csv_logger_overwrites_or_appends_under_one_header(tmp_path):
    path = tmp_path / "log.csv"
    trainer = trainer_with(CSVLogger(path))
    trainer.fit(ArraySource(*line()), 3)
    trainer.fit(ArraySource(*line()), 2)
    assert len(read_rows(path)) == 2

    appending = trainer_with(CSVLogger(path, append=True))
    appending.fit(ArraySource(*line()), 3)
    rows = read_rows(path)
    assert [row["epoch"] for row in rows] == ["0", "1", "0", "1", "2"]
    assert path.read_text().count("epoch") == 1


def test_csv_logger_appending_keeps_the_files_columns(tmp_path):
    path = tmp_path / "log.csv"
    trainer_with(CSVLogger(path)).fit(with_validation(), 1)
    trainer_with(CSVLogger(path, append=True)).fit(ArraySource(*line()), 1)
    rows = read_rows(path)
    assert rows[1]["val_loss"] == "" and float(rows[1]["loss"]) > 0


# --- LambdaCallback -----------------------------------------------------------------------


def test_lambda_callback_calls_each_function_with_its_hooks_arguments():
    calls = []
    callback = LambdaCallback(
        on_train_begin=lambda trainer: calls.append(("train_begin", trainer)),
        on_epoch_begin=lambda trainer, epoch: calls.append(("epoch_begin", epoch)),
        on_batch_end=lambda trainer, batch, logs: calls.append(("batch_end", batch)),
        on_epoch_end=lambda trainer, epoch, logs: calls.append(("epoch_end", logs["loss"])),
        on_train_end=lambda trainer, logs: calls.append(("train_end", logs["loss"])),
    )
    trainer = trainer_with(callback)
    result = trainer.fit(ArraySource(*line(12)), 2)  # three batches of 4
    assert calls[0] == ("train_begin", trainer)
    assert calls[1:] == [
        *[("epoch_begin", 0), ("batch_end", 0), ("batch_end", 1), ("batch_end", 2)],
        ("epoch_end", result.loss[0]),
        *[("epoch_begin", 1), ("batch_end", 0), ("batch_end", 1), ("batch_end", 2)],
        ("epoch_end", result.loss[1]),
        ("train_end", result.loss[1]),
    ]


def test_lambda_callback_is_called_per_batch_only_when_given_on_batch_end():
    epochs = []
    without = LambdaCallback(on_epoch_end=lambda trainer, epoch, logs: epochs.append(epoch))
    with_batch = LambdaCallback(on_batch_end=lambda trainer, batch, logs: None)
    assert not without.listens_to("on_batch_end") and without.listens_to("on_epoch_end")
    assert with_batch.listens_to("on_batch_end") and not with_batch.listens_to("on_epoch_begin")
    with mock.patch.object(LambdaCallback, "on_batch_end", autospec=True) as spy:
        trainer_with(without).fit(ArraySource(*line(12)), 2)
        assert spy.call_count == 0 and epochs == [0, 1]
        trainer_with(with_batch).fit(ArraySource(*line(12)), 2)
        assert spy.call_count == 6


def test_a_lambda_callback_subclass_that_overrides_a_hook_is_called():
    batches = []

    class Counting(LambdaCallback):
        def on_batch_end(self, trainer, batch, logs):
            batches.append(batch)

    trainer_with(Counting()).fit(ArraySource(*line(12)), 2)
    assert batches == [0, 1, 2, 0, 1, 2]


def test_lambda_callback_refuses_what_it_cannot_call():
    with pytest.raises(ConfigError, match=r"LambdaCallback\.on_epoch_end must be a function"):
        LambdaCallback(on_epoch_end=3)
