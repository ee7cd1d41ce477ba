"""Trainer: the loop, its callbacks, its result, and reproducibility."""

import numpy as np
import pytest
from helpers import HeldOut, line_source

import minifw
from minifw import (
    MSE,
    SGD,
    ArraySource,
    Callback,
    Dense,
    LossHistory,
    Network,
    Optimizer,
    Timer,
    Trainer,
)


def small_network(seed=0):
    return Network([Dense(1, 4, "tanh"), Dense(4, 1)], seed=seed)


class Frozen(Optimizer):
    """Leaves every parameter as it is, so the loss of each batch is the untrained network's."""

    def step(self, parameters):
        pass


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, trainer):
        self.calls.append(("train_begin",))

    def on_epoch_begin(self, trainer, epoch):
        self.calls.append(("epoch_begin", epoch))

    def on_batch_end(self, trainer, batch, logs):
        self.calls.append(("batch_end", batch, logs["loss"]))

    def on_epoch_end(self, trainer, epoch, logs):
        self.calls.append(("epoch_end", epoch, logs["loss"]))

    def on_train_end(self, trainer, logs):
        self.calls.append(("train_end", logs["loss"]))


def test_a_linear_network_learns_a_line():
    network = Network([Dense(1, 1)], seed=0)
    Trainer(network, MSE(), SGD(lr=0.1), batch_size=5).fit(line_source(), 300)
    np.testing.assert_allclose(network.layers[0].weights, [[2.0]], atol=1e-6)
    np.testing.assert_allclose(network.layers[0].bias, [1.0], atol=1e-6)


def test_same_seed_gives_bit_identical_training_with_shuffling():
    def train(seed):
        network = small_network(seed)
        result = Trainer(network, MSE(), SGD(lr=0.05), batch_size=3, seed=seed).fit(
            line_source(), 40
        )
        return result.loss, [p.value.copy() for p in network.parameters()]

    loss_a, weights_a = train(7)
    loss_b, weights_b = train(7)
    loss_c, _ = train(8)
    assert loss_a == loss_b
    for a, b in zip(weights_a, weights_b, strict=True):
        assert a.tobytes() == b.tobytes()
    assert loss_a != loss_c


def test_shuffle_changes_the_batches_but_not_the_callers_arrays():
    source = line_source()
    x_before, y_before = source.x.copy(), source.y.copy()
    ordered = Trainer(small_network(), MSE(), SGD(lr=0.05), batch_size=4, shuffle=False)
    shuffled = Trainer(small_network(), MSE(), SGD(lr=0.05), batch_size=4, shuffle=True)
    assert ordered.fit(source, 5).loss != shuffled.fit(source, 5).loss
    np.testing.assert_array_equal(source.x, x_before)
    np.testing.assert_array_equal(source.y, y_before)


@pytest.mark.parametrize("batch_size", [1, 3, 7, 20, 50])
def test_epoch_loss_is_the_per_sample_mean_even_with_a_ragged_last_batch(batch_size):
    network = small_network()
    source = line_source()
    expected = np.mean((network.forward(source.x) - source.y) ** 2)
    result = Trainer(network, MSE(), Frozen(), batch_size=batch_size).fit(source, 2)
    np.testing.assert_allclose(result.loss, [expected, expected], rtol=1e-12)


def test_callbacks_are_called_in_order_with_their_arguments():
    recorder = Recorder()
    trainer = Trainer(small_network(), MSE(), SGD(lr=0.01), batch_size=8, callbacks=[recorder])
    result = trainer.fit(line_source(20), 2)  # batches of 8, 8, 4
    kinds = [call[0] for call in recorder.calls]
    assert kinds == ["train_begin"] + ["epoch_begin"] + ["batch_end"] * 3 + ["epoch_end"] + [
        "epoch_begin"
    ] + ["batch_end"] * 3 + ["epoch_end", "train_end"]
    assert [c[1] for c in recorder.calls if c[0] == "batch_end"] == [0, 1, 2, 0, 1, 2]
    assert [c[2] for c in recorder.calls if c[0] == "epoch_end"] == result.loss
    assert recorder.calls[-1] == ("train_end", result.loss[-1])


def test_callback_can_stop_training():
    class StopAfter(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            if epoch == 2:
                trainer.stop_training = True

    trainer = Trainer(small_network(), MSE(), SGD(lr=0.01), callbacks=[StopAfter()])
    result = trainer.fit(line_source(), 100)
    assert result.epochs == 3 and len(result.loss) == 3
    # A new fit starts afresh: stop_training is reset, so two epochs run in full.
    assert trainer.stop_training
    assert trainer.fit(line_source(), 2).epochs == 2


def test_history_and_timer_are_always_attached_and_reused_if_given():
    history, timer = LossHistory(), Timer()
    trainer = Trainer(small_network(), MSE(), SGD(lr=0.01), callbacks=[history, timer])
    assert trainer.history is history and trainer.timer is timer
    result = trainer.fit(line_source(), 5)
    assert result.loss == history.loss == history.history["loss"]
    assert result.seconds == timer.seconds > 0
    bare = Trainer(small_network(), MSE(), SGD(lr=0.01))
    assert sum(isinstance(c, LossHistory) for c in bare.callbacks) == 1
    assert sum(isinstance(c, Timer) for c in bare.callbacks) == 1


def test_history_restarts_at_each_fit():
    trainer = Trainer(small_network(), MSE(), SGD(lr=0.01))
    trainer.fit(line_source(), 3)
    assert len(trainer.fit(line_source(), 2).loss) == 2


def test_zero_epochs_changes_nothing():
    network = small_network()
    before = [p.value.copy() for p in network.parameters()]
    result = Trainer(network, MSE(), SGD(lr=0.1)).fit(line_source(), 0)
    assert result.loss == [] and result.epochs == 0
    assert np.isnan(result.final_loss)
    for b, p in zip(before, network.parameters(), strict=True):
        np.testing.assert_array_equal(b, p.value)


def test_components_by_name():
    trainer = Trainer(small_network(), "mse", "sgd")
    assert isinstance(trainer.loss, MSE) and isinstance(trainer.optimizer, SGD)
    with pytest.raises(
        minifw.ConfigError,
        match=r"unknown loss 'hinge' \(.*--plugin FILE\); expected one of: .*mse",
    ):
        Trainer(small_network(), "hinge", "sgd")


def test_normaliser_trains_in_the_activation_range_and_predicts_in_target_units():
    x = np.linspace(0, 1, 16).reshape(-1, 1)
    y = 100 + 50 * x  # far outside the sigmoid's (0, 1)
    normaliser = minifw.Normaliser((100.0, 150.0), (0.1, 0.9))
    network = Network([Dense(1, 6, "tanh"), Dense(6, 1, "sigmoid")], seed=0, normaliser=normaliser)
    Trainer(network, MSE(), SGD(lr=4.0), batch_size=4).fit(ArraySource(x, y), 2000)
    np.testing.assert_allclose(network.predict(x), y, atol=1.0)
    assert np.all((network.forward(x) > 0) & (network.forward(x) < 1))


def test_packed_parameters_share_memory_with_each_layer():
    network = small_network()
    packed = network.packed
    assert packed.value.size == sum(p.value.size for p in network.parameters())
    packed.value[:] = 0.5
    assert all(np.all(p.value == 0.5) for p in network.parameters())
    network.layers[0].weights = np.full((1, 4), 2.0)
    assert np.count_nonzero(packed.value == 2.0) == 4


def test_stop_mid_epoch_reports_the_mean_over_the_samples_seen():
    class StopAfterBatch(Callback):
        def on_batch_end(self, trainer, batch, logs):
            trainer.stop_training = batch == 1

    network, source = small_network(), line_source(20)
    seen = 14  # two batches of 7
    expected = np.mean((network.forward(source.x[:seen]) - source.y[:seen]) ** 2)
    trainer = Trainer(
        network, MSE(), Frozen(), batch_size=7, shuffle=False, callbacks=[StopAfterBatch()]
    )
    result = trainer.fit(source, 5)
    assert result.epochs == 1
    np.testing.assert_allclose(result.loss, [expected], rtol=1e-12)


# --- validation loss ----------------------------------------------------------------------


def line_with_held_out():
    """y = 2x + 1: 13 points to train on, the 12 between them held out."""
    x = np.linspace(-1, 1, 25).reshape(-1, 1)
    y = 2 * x + 1
    return HeldOut((x[::2], y[::2]), (x[1::2], y[1::2]))


def mse(network, x, y):
    return float(np.mean((network.forward(x) - y) ** 2))


def test_val_loss_is_the_loss_on_the_held_out_data_without_updating():
    network, source = small_network(), line_with_held_out()
    x_val, y_val = source.validation_arrays()
    untrained = mse(network, x_val, y_val)
    result = Trainer(network, MSE(), Frozen(), batch_size=4).fit(source, 3)
    assert result.val_loss == pytest.approx([untrained] * 3, rel=1e-12)
    assert result.val_loss != pytest.approx(result.loss)  # not the training loss again


def test_val_loss_follows_training_and_is_recorded_by_the_history():
    network, source = small_network(), line_with_held_out()
    trainer = Trainer(network, MSE(), SGD(lr=0.05), batch_size=4)
    result = trainer.fit(source, 30)
    assert len(result.val_loss) == result.epochs == 30
    assert result.val_loss == trainer.history.val_loss == trainer.history.history["val_loss"]
    assert result.val_loss[-1] < result.val_loss[0] / 2  # the line is learnt on unseen points too
    # The last epoch's val_loss is that of the weights training ended with.
    assert result.val_loss[-1] == pytest.approx(
        mse(network, *source.validation_arrays()), rel=1e-12
    )


def test_no_validation_data_means_no_val_loss():
    trainer = Trainer(small_network(), MSE(), SGD(lr=0.01))
    result = trainer.fit(line_source(), 3)
    assert result.val_loss == [] and trainer.history.val_loss == []
    assert set(trainer.history.history) == {"loss"}


def test_val_loss_is_measured_on_normalised_targets_like_the_training_loss():
    normaliser = minifw.Normaliser((-1.0, 3.0), (0.0, 1.0))
    network = Network([Dense(1, 4, "tanh"), Dense(4, 1, "sigmoid")], seed=0, normaliser=normaliser)
    source = line_with_held_out()
    x_val, y_val = source.validation_arrays()
    result = Trainer(network, MSE(), Frozen()).fit(source, 1)
    assert result.val_loss == pytest.approx([mse(network, x_val, normaliser.forward(y_val))])
    assert result.val_loss != pytest.approx([mse(network, x_val, y_val)])


def test_a_function_source_with_a_split_reports_val_loss():
    source = minifw.FunctionSource(np.sin, (0.0, 3.0), 40, validation=0.25)
    result = Trainer(small_network(), MSE(), SGD(lr=0.05)).fit(source, 4)
    assert len(result.val_loss) == 4 and all(np.isfinite(result.val_loss))


x_held, y_held = np.linspace(0, 1, 5).reshape(-1, 1), np.linspace(1, 3, 5).reshape(-1, 1)
nan_y = y_held.copy()
nan_y[2, 0] = np.nan

BAD_HELD_OUT = {
    "x_val with 2 features": ((np.hstack([x_held, x_held]), y_held), r"x_val has 2 inputs"),
    "y_val with 2 outputs": ((x_held, np.hstack([y_held, y_held])), r"y_val has 2 outputs"),
    "1-D x_val": ((x_held.ravel(), y_held), r"x_val must be 2-D.*x_val\.reshape\(-1, 1\)"),
    "NaN in y_val": ((x_held, nan_y), "y_val must be finite; found nan at row 2"),
    "fewer y_val than x_val": ((x_held, y_held[:-1]), "x_val has 5 samples but y_val has 4"),
}


@pytest.mark.parametrize("case", BAD_HELD_OUT)
def test_bad_validation_data_is_refused_before_anything_changes(case):
    held_out, message = BAD_HELD_OUT[case]
    recorder = Recorder()
    trainer = Trainer(small_network(), MSE(), SGD(lr=0.1), batch_size=4, callbacks=[recorder])
    good = line_source()
    trainer.fit(good, 2)
    weights, loss = trainer.network.packed.value.copy(), list(trainer.history.loss)
    recorder.calls.clear()
    with pytest.raises(minifw.DataError, match=message):
        trainer.fit(HeldOut(good.arrays(), held_out), 3)
    np.testing.assert_array_equal(trainer.network.packed.value, weights)
    assert trainer.history.loss == loss
    assert recorder.calls == []
    assert trainer.source is good and trainer.epochs == 2


# Divergence is never silent ---------------------------------------------------------------


def test_a_diverging_fit_raises_with_the_diagnosis_and_keeps_the_last_good_epoch():
    from minifw import LambdaCallback, TrainingDiverged, presets

    kept = []
    record = LambdaCallback(
        on_epoch_end=lambda trainer, epoch, logs: kept.append(trainer.network.packed.value.copy())
    )
    run = presets.experiment(
        activation="tanh", output_activation="identity", lr=10.0, callbacks=[record]
    )
    with pytest.raises(TrainingDiverged) as raised, np.errstate(all="ignore"):
        run.fit(100)
    losses = run.trainer.run_history["loss"]  # the diverged epoch is not counted
    assert np.isfinite(losses).all() and len(losses) == len(kept) == run.trainer.epochs_done
    assert f"training diverged at epoch {len(losses)} (learning rate 10)" in str(raised.value)
    assert "the weights are back to those after the previous epoch" in str(raised.value)
    weights = run.network.packed.value
    assert np.isfinite(weights).all()
    np.testing.assert_array_equal(weights, kept[-1])  # the last epoch that ended finite


def test_the_guard_can_be_replaced_or_switched_off():
    from minifw import TerminateOnNaN, Trainer, presets

    run = presets.experiment(activation="tanh", output_activation="identity", lr=10.0)
    guards = [c for c in run.trainer.callbacks if isinstance(c, TerminateOnNaN)]
    assert [(g.check, g.raise_error) for g in guards] == [("epoch", True)]
    mine = TerminateOnNaN()  # per batch, stopping without raising
    trainer = Trainer(run.network, "mse", "sgd:lr=10", batch_size=4, callbacks=[mine])
    assert [c for c in trainer.callbacks if isinstance(c, TerminateOnNaN)] == [mine]
    with np.errstate(all="ignore"):  # numpy's own overflow warnings, before the diagnosis
        trainer.fit(run.source, 100)
    assert mine.diagnosis is not None and np.isfinite(run.network.packed.value).all()
    off = Trainer(run.network, "mse", "sgd:lr=10", batch_size=4, stop_on_divergence=False)
    assert not any(isinstance(c, TerminateOnNaN) for c in off.callbacks)
    with np.errstate(all="ignore"):
        off.fit(run.source, 100)
    assert not np.isfinite(run.network.packed.value).all()  # asked for: left as it went


# Arrays, as Keras and scikit-learn take them -----------------------------------------------


def test_fit_on_arrays_trains_exactly_as_on_their_array_source():
    x, y = line_source().arrays()
    held = (x[::4] + 0.01, y[::4])
    by_arrays = Trainer(small_network(), MSE(), SGD(lr=0.1), batch_size=4)
    by_source = Trainer(small_network(), MSE(), SGD(lr=0.1), batch_size=4)
    a = by_arrays.fit(x, y, epochs=5, validation_data=held)
    b = by_source.fit(ArraySource(x, y, validation_data=held), 5)
    assert a.loss == b.loss and a.val_loss == b.val_loss and len(a.val_loss) == 5
    np.testing.assert_array_equal(by_arrays.network.packed.value, by_source.network.packed.value)
    c = Trainer(small_network(), MSE(), SGD(lr=0.1), batch_size=4).fit(x, y, 5)  # positional
    assert c.loss == a.loss and c.val_loss == []


def test_fit_on_a_source_still_takes_its_epochs_either_way():
    source = line_source()
    first = Trainer(small_network(), MSE(), SGD(lr=0.1)).fit(source, 3)
    second = Trainer(small_network(), MSE(), SGD(lr=0.1)).fit(source, epochs=3)
    assert first.loss == second.loss and len(first.loss) == 3


x_line, y_line = line_source().arrays()

BAD_FIT_CALLS = {
    "no epochs": (lambda t: t.fit(x_line, y_line), minifw.ConfigError, r"needs epochs"),
    "no y": (
        lambda t: t.fit(x_line, epochs=3),
        minifw.ConfigError,
        r"takes a DataSource.*or arrays x and y.*no targets y",
    ),
    "a source and y": (
        lambda t: t.fit(line_source(), y_line, epochs=3),
        minifw.ConfigError,
        r"a DataSource holds its own targets",
    ),
    "a source and validation_data": (
        lambda t: t.fit(line_source(), 3, validation_data=(x_line, y_line)),
        minifw.ConfigError,
        r"validation_data goes with arrays",
    ),
    "y of other length": (
        lambda t: t.fit(x_line, y_line[:-1], epochs=3),
        minifw.DataError,
        r"x has 20 samples but y has 19",
    ),
    "validation columns": (
        lambda t: t.fit(
            x_line, y_line, epochs=3, validation_data=(np.hstack([x_line] * 2), y_line)
        ),
        minifw.DataError,
        r"x_val has 2 column\(s\) but x has 1",
    ),
    "validation not a pair": (
        lambda t: t.fit(x_line, y_line, epochs=3, validation_data=x_line),
        minifw.ConfigError,
        r"validation_data must be a pair \(x_val, y_val\)",
    ),
    "negative epochs": (
        lambda t: t.fit(x_line, y_line, epochs=-1),
        minifw.ConfigError,
        r"epochs must be a whole number >= 0; got -1",
    ),
}


@pytest.mark.parametrize("case", BAD_FIT_CALLS)
def test_a_fit_call_that_mixes_up_its_arguments_is_refused_before_anything_changes(case):
    call, error, message = BAD_FIT_CALLS[case]
    trainer = Trainer(small_network(), MSE(), SGD(lr=0.1))
    trainer.fit(line_source(), 2)
    weights, history = trainer.network.packed.value.copy(), dict(trainer.run_history)
    with pytest.raises(error, match=message):
        call(trainer)
    np.testing.assert_array_equal(trainer.network.packed.value, weights)
    assert trainer.run_history == history and trainer.epochs == 2


def test_summary_counts_the_blogs_15_parameters_with_its_bias_unit():
    network = minifw.presets.blog().network
    printed = []
    network.summary(print_fn=printed.append)
    lines = printed[0].splitlines()
    assert lines[1].split() == ["#", "layer", "input", "output", "activation", "parameters"]
    # Layer 0: one input plus the bias unit into 5 units, 2 x 5 = 10; layer 1: 5 x 1.
    assert lines[2].split() == [
        "0", "Dense", "1→5,", "bias", "unit", "(n,", "1)", "(n,", "5)", "Sigmoid()",
        "10", "(W", "1×5,", "b", "5)",
    ]  # fmt: skip
    assert lines[3].split() == ["1", "Dense", "5→1", "(n,", "5)", "(n,", "1)", "Sigmoid()", "5"]
    assert lines[4] == "Total: 15 parameters."
    assert "this network is 2-5-1" in lines[5]
    assert network.n_parameters == 15 == sum(p.value.size for p in network.parameters())


def test_summary_of_a_stack_and_of_a_network_without_bias_unit(capsys):
    networks = [Network([Dense(3, 4, "relu"), Dense(4, 2)], seed=s) for s in range(3)]
    networks[0].summary()  # to stdout, as Keras's does
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split()[-5:] == ["16", "(W", "3×4,", "b", "4)"]
    assert lines[-1] == f"Total: {16 + 10} parameters."  # no bias unit: no sentence about one
    minifw.stack(networks).summary()
    lines = capsys.readouterr().out.splitlines()
    assert "(N, n, 3)" in lines[2] and "48 (N × (W 3×4, b 4))" in lines[2]
    assert lines[-1] == "Total: 78 parameters, over the N = 3 networks stacked."


# --- Each epoch's logs are kept once, in the run history; LossHistory reads it ----------


def epoch_lists(root, epochs):
    """The distinct lists of ``epochs`` floats reachable from ``root`` through containers and
    minifw's own objects: each is one more copy of a per-epoch record kept in memory."""
    import gc

    found, seen, todo = {}, set(), [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, list) and len(obj) == epochs and all(type(v) is float for v in obj):
            found[id(obj)] = obj
        if isinstance(obj, dict | list | tuple) or type(obj).__module__.startswith("minifw"):
            todo.extend(gc.get_referents(obj))
    return list(found.values())


def test_a_run_keeps_each_epochs_loss_once_and_loss_history_reads_it():
    trainer = Trainer(small_network(), MSE(), SGD(lr=0.01), batch_size=20)
    trainer.fit(line_source(), 1000)
    (kept,) = epoch_lists(trainer, 1000)  # one list of 1000 floats, not two
    assert kept is trainer.run_history["loss"]
    assert trainer.history.loss == kept and trainer.history.history == {"loss": kept}
    second = trainer.fit(line_source(), 3)  # a new fit: the history starts afresh
    assert second.loss == trainer.history.loss == trainer.run_history["loss"][1000:]
    assert len(trainer.run_history["loss"]) == 1003 and not epoch_lists(trainer, 1000)


def test_a_resumed_runs_loss_history_is_its_new_epochs_of_the_one_run_history(tmp_path):
    whole = Trainer(small_network(), MSE(), SGD(lr=0.01), batch_size=5, seed=3)
    everything = whole.fit(line_source(), 40)
    first = Trainer(small_network(), MSE(), SGD(lr=0.01), batch_size=5, seed=3)
    first.fit(line_source(), 25)
    minifw.save_checkpoint(first, tmp_path / "run.npz")
    resumed = minifw.load_checkpoint(tmp_path / "run.npz", line_source())
    rest = resumed.fit(resumed.source, 15)
    assert rest.loss == resumed.history.loss == everything.loss[25:]
    (kept,) = epoch_lists(resumed, 40)
    assert kept is resumed.run_history["loss"] and kept == everything.loss
    assert not epoch_lists(resumed, 15)  # the fit's 15 epochs: read from the run's, not kept


def test_a_key_logged_from_a_later_fit_on_reads_from_where_it_began():
    trainer = Trainer(small_network(), MSE(), SGD(lr=0.01))
    trainer.fit(line_source(), 4)  # no validation data: no val_loss
    held_out = trainer.fit(line_with_held_out(), 2)
    assert len(held_out.loss) == len(held_out.val_loss) == 2
    assert held_out.val_loss == trainer.run_history["val_loss"] == trainer.history.val_loss


def test_a_diverged_epoch_is_dropped_from_a_key_that_began_in_the_same_fit():
    guard = minifw.TerminateOnNaN()  # stops without raising
    trainer = Trainer(small_network(), MSE(), SGD(lr=0.01), callbacks=[guard])
    trainer.fit(line_source(), 3)  # no val_loss in these three epochs
    trainer.optimizer.lr = 1e300
    with np.errstate(all="ignore"):
        result = trainer.fit(line_with_held_out(), 2)
    assert guard.diagnosis is not None and guard.diagnosis.epoch == 1  # the first step's
    assert result.epochs == 1 == len(result.val_loss) and trainer.epochs_done == 4
    assert trainer.run_history["val_loss"] == result.val_loss  # the bad epoch's is gone
