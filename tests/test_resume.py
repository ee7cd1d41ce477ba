"""Checkpoints: a run saved halfway and resumed ends bit for bit as the run never interrupted."""

import json
import os
import re

import numpy as np
import pytest
from helpers import HeldOut

import minifw
from minifw import (
    SGD,
    Adam,
    ArraySource,
    Checkpoint,
    ConfigError,
    CosineDecay,
    Dense,
    FunctionSource,
    LossHistory,
    ModelFileError,
    Network,
    Trainer,
    presets,
)
from minifw.core.targets import Gauss
from minifw.files import saving
from minifw.files.saving import named_parameters


def momentum_run():
    """SGD with momentum, shuffled, on arrays with held-out validation data."""
    x = np.linspace(-1, 1, 30).reshape(-1, 1)
    network = Network([Dense(1, 6, "tanh"), Dense(6, 1)], seed=2)
    trainer = Trainer(network, "mse", SGD(lr=0.05, momentum=0.9), batch_size=4, seed=7)
    return trainer, ArraySource(x, np.abs(x), validation=0.2, seed=1)


def adam_run():
    """Adam with a cosine schedule, clipping and weight decay, shuffled, on a noisy target."""
    network = Network([Dense(1, 8, "silu"), Dense(8, 8, "tanh"), Dense(8, 1)], seed=4)
    optimizer = Adam(
        lr=0.02, schedule=CosineDecay(400, alpha=0.1), clip_norm=1.0, weight_decay=1e-4
    )
    trainer = Trainer(network, "huber:delta=0.5", optimizer, batch_size=5, seed=3)
    source = FunctionSource(Gauss(), (-3.0, 3.0), 25, sampling="uniform", noise=0.01, seed=5)
    return trainer, source


def blog_run():
    """The blog's preset: SGD on the MSE, batches in order, a normaliser."""
    run = presets.blog("sigmoid")
    return run.trainer, run.source


def assert_same_state(a, b):
    """Two trainers whose networks, optimizers and generators are bit for bit the same."""
    assert np.array_equal(a.network.packed.value, b.network.packed.value)
    states = [t.optimizer.export_state(named_parameters(t.network)) for t in (a, b)]
    assert states[0]["iterations"] == states[1]["iterations"] > 0
    assert states[0]["lr"] == states[1]["lr"]
    assert states[0]["states"].keys() == states[1]["states"].keys()
    for name, entries in states[0]["states"].items():
        for key, value in entries.items():
            assert np.array_equal(value, states[1]["states"][name][key]), (name, key)
    assert a.export_state()["rng"] == b.export_state()["rng"]
    assert a.run_history == b.run_history


RUNS = [(momentum_run, 60), (adam_run, 40), (blog_run, 1500)]


@pytest.mark.parametrize(("make", "half"), RUNS, ids=["momentum", "adam", "blog"])
def test_a_resumed_run_ends_bit_for_bit_as_the_uninterrupted_one(tmp_path, make, half):
    whole, source = make()
    everything = whole.fit(source, 2 * half)

    first, source = make()
    before = first.fit(source, half)
    minifw.save_checkpoint(first, tmp_path / "run.npz")
    del first  # nothing of the first half survives but the file

    resumed = minifw.load_checkpoint(tmp_path / "run.npz")
    assert resumed.epochs_done == half and resumed.run_history["loss"] == before.loss
    after = resumed.fit(resumed.source, half)
    assert before.loss + after.loss == everything.loss
    assert before.val_loss + after.val_loss == everything.val_loss
    assert resumed.run_history["loss"] == everything.loss
    assert_same_state(resumed, whole)
    assert os.listdir(tmp_path) == ["run.npz"]


def test_the_validation_loss_continues_too(tmp_path):
    trainer, source = momentum_run()
    trainer.fit(source, 3)
    minifw.save_checkpoint(trainer, tmp_path / "run.npz")
    resumed = minifw.load_checkpoint(tmp_path / "run.npz")
    result = resumed.fit(resumed.source, 2)
    assert len(result.val_loss) == 2 and len(resumed.run_history["val_loss"]) == 5


def test_fitting_twice_is_fitting_once_for_the_sum():
    once, source = momentum_run()
    once.fit(source, 30)
    twice, source = momentum_run()
    twice.fit(source, 12)
    twice.fit(source, 18)
    assert_same_state(once, twice)
    assert twice.epochs_done == 30


def test_the_checkpoint_callback_writes_every_n_epochs_and_at_the_end(tmp_path):
    plain, source = adam_run()
    plain.fit(source, 25)
    trainer, source = adam_run()
    trainer.callbacks.append(Checkpoint(tmp_path / "run-{epoch}.npz", every=10))
    result = trainer.fit(source, 25)
    assert sorted(os.listdir(tmp_path)) == ["run-10.npz", "run-20.npz", "run-25.npz"]
    assert_same_state(trainer, plain)  # writing checkpoints changes nothing

    resumed = minifw.load_checkpoint(
        tmp_path / "run-10.npz", callbacks=[Checkpoint(tmp_path / "again.npz", every=10)]
    )
    rest = resumed.fit(resumed.source, 15)
    assert resumed.run_history["loss"][:10] + rest.loss == result.loss
    assert_same_state(resumed, trainer)
    last = minifw.load_checkpoint(tmp_path / "again.npz")
    assert last.epochs_done == 25 and last.run_history == trainer.run_history


def test_a_checkpoint_callback_saved_at_the_last_epoch_does_not_save_again(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(
        saving, "save_checkpoint", lambda trainer, path, run=None: saved.append(path)
    )
    trainer, source = momentum_run()
    trainer.callbacks.append(Checkpoint("run-{epoch}.npz", every=5))
    trainer.fit(source, 10)
    assert saved == ["run-5.npz", "run-10.npz"]


def test_the_checkpoint_callback_refuses_a_bad_interval():
    with pytest.raises(ConfigError, match=r"Checkpoint\.every"):
        Checkpoint("run.npz", every=0)


def test_a_source_that_cannot_be_written_is_handed_to_resume(tmp_path):
    x = np.linspace(0, 1, 12).reshape(-1, 1)
    source = HeldOut((x, x**2), (x[::3], x[::3] ** 2))
    whole = Trainer(Network([Dense(1, 3, "tanh"), Dense(3, 1)]), "mse", SGD(lr=0.1), batch_size=3)
    whole.fit(source, 8)
    first = Trainer(Network([Dense(1, 3, "tanh"), Dense(3, 1)]), "mse", SGD(lr=0.1), batch_size=3)
    first.fit(source, 4)
    minifw.save_checkpoint(first, tmp_path / "run.npz")
    assert minifw.load_checkpoint(tmp_path / "run.npz").source is None
    resumed = minifw.load_checkpoint(tmp_path / "run.npz", source, callbacks=[LossHistory()])
    assert resumed.source is source
    assert sum(isinstance(c, LossHistory) for c in resumed.callbacks) == 1
    resumed.fit(source, 4)
    assert_same_state(resumed, whole)


def test_a_diverged_run_is_checkpointed_as_of_its_last_finite_epoch(tmp_path):
    # As test_callbacks.diverging: a ReLU network at a learning rate it cannot survive.
    x = np.linspace(-1, 1, 20).reshape(-1, 1)
    network = Network([Dense(1, 8, "relu"), Dense(8, 1)], seed=0)
    guard = minifw.TerminateOnNaN()
    trainer = Trainer(network, "mse", SGD(lr=10.0), batch_size=4, callbacks=[guard])
    with np.errstate(over="ignore", invalid="ignore"):
        trainer.fit(ArraySource(x, np.sin(3 * x)), 100)
    assert guard.diagnosis is not None and trainer.epochs_done == guard.diagnosis.epoch
    assert np.isfinite(trainer.run_history["loss"]).all()
    minifw.save_checkpoint(trainer, tmp_path / "run.npz")
    resumed = minifw.load_checkpoint(tmp_path / "run.npz")
    np.testing.assert_array_equal(resumed.run_history["loss"], trainer.run_history["loss"])
    assert np.array_equal(resumed.network.packed.value, network.packed.value)


def test_a_checkpoint_holds_a_network_that_loads_alone(tmp_path):
    trainer, source = blog_run()
    trainer.fit(source, 5)
    minifw.save_checkpoint(trainer, tmp_path / "run.npz")
    network = minifw.load(tmp_path / "run.npz")
    x, _ = source.evaluation_arrays()
    assert np.array_equal(network.predict(x), trainer.network.predict(x))


def spoiled_checkpoint(path, **changes):
    """A checkpoint at ``path`` with entries of its trainer table replaced by ``changes``."""
    trainer, source = momentum_run()
    trainer.fit(source, 2)
    minifw.save_checkpoint(trainer, path)
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    header = json.loads(arrays.pop("header").tobytes())
    header["trainer"].update(changes)
    with open(path, "wb") as file:
        np.savez(file, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"rng": {"bit_generator": "MT19937"}}, "'rng' is not a PCG64 generator state"),
        ({"history": ["loss", "accuracy"]}, "'history.accuracy' is missing"),
        ({"batch_size": 0}, "Trainer.batch_size"),
        ({"loss": {"name": "hinge"}}, "unknown loss 'hinge'"),
        ({"source": {"class": "csv_source"}}, "unknown source class 'csv_source'"),
        (
            {"source": {"class": "function_source", "f": {"name": "sin"}, "n": "many"}},
            "FunctionSource.n",
        ),
        ({"shuffle": "yes"}, "'trainer.shuffle' must be true or false; got 'yes'"),
        ({"seed": -1}, r"trainer: Trainer\.seed must be .*>= 0.*; got -1"),
        ({"rng": {"bit_generator": "PCG64", "state": {"state": 2**200, "inc": 1}}}, "'rng'"),
    ],
)
def test_a_bad_checkpoint_raises_one_error_naming_the_file(tmp_path, changes, problem):
    spoiled_checkpoint(tmp_path / "run.npz", **changes)
    with pytest.raises(ModelFileError, match=problem) as caught:
        minifw.load_checkpoint(tmp_path / "run.npz")
    assert str(tmp_path / "run.npz") in str(caught.value)


def test_a_checkpoint_whose_order_is_not_a_permutation_is_refused(tmp_path):
    spoiled_checkpoint(tmp_path / "run.npz")
    with np.load(tmp_path / "run.npz") as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["trainer.order"][:] = 0
    with open(tmp_path / "run.npz", "wb") as file:
        np.savez(file, **arrays)
    with pytest.raises(ModelFileError, match="'order' must be a permutation"):
        minifw.load_checkpoint(tmp_path / "run.npz")


def test_optimizer_import_refuses_unknown_parameters_and_changes_nothing():
    network = Network([Dense(1, 2)])
    optimizer = Adam()
    state = {"iterations": 3, "lr": 0.1, "states": {"elsewhere": {"t": 3}}}
    with pytest.raises(ConfigError, match="'elsewhere'"):
        optimizer.import_state(state, named_parameters(network))
    assert (
        optimizer.iterations == 0 and optimizer.export_state({"p": network.packed})["states"] == {}
    )


# The Checkpoint callback: a cost per checkpoint that does not grow with the run -------------


def journals(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".history"))


def test_a_checkpoint_callback_keeps_the_history_in_a_journal_and_resumes_bit_for_bit(tmp_path):
    whole, source = momentum_run()
    whole.fit(source, 40)
    first, source = momentum_run()
    first.callbacks.append(Checkpoint(tmp_path / "run.npz", every=5))
    first.fit(source, 20)
    (journal,) = journals(tmp_path)
    assert journal.startswith("run.npz.") and sorted(os.listdir(tmp_path)) == ["run.npz", journal]
    with np.load(tmp_path / "run.npz") as archive:  # the history is not in the .npz
        assert not [name for name in archive.files if name.startswith("history.")]
    resumed = minifw.load_checkpoint(tmp_path / "run.npz")
    assert resumed.run_history == first.run_history  # loss and val_loss, 20 epochs each
    resumed.fit(source, 20)
    assert_same_state(resumed, whole)


def test_each_checkpoint_adds_only_its_new_epochs(tmp_path):
    trainer, source = blog_run()
    trainer.fit(source, 1000)  # a long history already
    checkpoint = Checkpoint(tmp_path / "run.npz", every=10)
    trainer.callbacks.append(checkpoint)
    trainer.fit(source, 10)  # the first checkpoint writes the 1010 epochs' history
    (journal,) = journals(tmp_path)
    first = (tmp_path / journal).stat().st_size, (tmp_path / "run.npz").stat().st_size
    trainer.fit(source, 30)
    assert journals(tmp_path) == [journal]  # appended to, not rewritten
    journal_size, npz_size = (
        (tmp_path / journal).stat().st_size,
        (tmp_path / "run.npz").stat().st_size,
    )
    assert journal_size - first[0] == 30 * 9  # 9 bytes an epoch: a key's index and a float64
    assert npz_size == first[1]  # the checkpoint itself does not grow with the run
    assert minifw.load_checkpoint(tmp_path / "run.npz").run_history == trainer.run_history


def test_a_new_run_on_the_same_path_starts_a_new_journal_and_the_old_one_goes(tmp_path):
    path = tmp_path / "run.npz"
    for _ in range(2):  # the second run: another trainer, another history
        trainer, source = blog_run()
        trainer.callbacks.append(Checkpoint(path, every=5))
        trainer.fit(source, 10)
    assert len(journals(tmp_path)) == 1
    assert minifw.load_checkpoint(path).run_history == trainer.run_history
    (tmp_path / "run.npz.0123abcd.history").write_bytes(b"left by a run killed mid-checkpoint")
    minifw.save_checkpoint(trainer, path)  # a file that stands alone: no journal needed
    assert journals(tmp_path) == []
    assert minifw.load_checkpoint(path).run_history == trainer.run_history


def test_a_history_shortened_after_a_checkpoint_is_written_again_whole(tmp_path):
    # A Checkpoint listed before a guard of one's own saw a diverged epoch that the guard
    # then dropped from the history: the journal must not keep it.
    x = np.linspace(-1, 1, 20).reshape(-1, 1)
    network = Network([Dense(1, 8, "tanh"), Dense(8, 1)], seed=0)
    checkpoint, guard = Checkpoint(tmp_path / "run.npz", every=1), minifw.TerminateOnNaN()
    trainer = Trainer(network, "mse", SGD(lr=0.01), batch_size=4, callbacks=[checkpoint, guard])
    trainer.fit(ArraySource(x, x), 3)
    trainer.optimizer.lr = 1e300
    with np.errstate(all="ignore"):
        trainer.fit(ArraySource(x, x), 3)
    assert guard.diagnosis is not None and trainer.epochs_done == 3
    loaded = minifw.load_checkpoint(tmp_path / "run.npz")
    assert loaded.run_history == trainer.run_history and loaded.epochs_done == 3


def test_a_checkpoint_through_a_symlink_keeps_its_journal_beside_the_target(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "current.npz").symlink_to("runs/run.npz")
    trainer, source = blog_run()
    trainer.callbacks.append(Checkpoint(tmp_path / "current.npz", every=5))
    trainer.fit(source, 10)
    assert (tmp_path / "current.npz").is_symlink() and len(journals(tmp_path / "runs")) == 1
    assert minifw.load_checkpoint(tmp_path / "current.npz").run_history == trainer.run_history


@pytest.mark.parametrize(
    ("spoil", "problem"),
    [
        (
            lambda journal: journal.unlink(),
            r"run\.npz\.[0-9a-f]{8}\.history beside it, which is missing",
        ),
        (
            lambda journal: journal.write_bytes(journal.read_bytes()[:-5]),
            r"holds 9 of the 10 values",
        ),
        (lambda journal: journal.write_bytes(b"not a journal" * 9), "not a minifw history file"),
    ],
    ids=["missing", "cut short", "not a journal"],
)
def test_a_checkpoint_whose_journal_is_missing_or_damaged_is_refused(tmp_path, spoil, problem):
    trainer, source = blog_run()
    trainer.callbacks.append(Checkpoint(tmp_path / "run.npz", every=5))
    trainer.fit(source, 10)
    (journal,) = journals(tmp_path)
    spoil(tmp_path / journal)
    with pytest.raises(ModelFileError, match=problem) as caught:
        minifw.load_checkpoint(tmp_path / "run.npz")
    assert str(tmp_path / "run.npz") in str(caught.value)


def test_a_journal_named_outside_the_checkpoints_directory_is_refused(tmp_path):
    trainer, source = blog_run()
    trainer.callbacks.append(Checkpoint(tmp_path / "run.npz", every=5))
    trainer.fit(source, 5)
    with np.load(tmp_path / "run.npz") as archive:
        arrays = {name: archive[name] for name in archive.files}
    header = json.loads(arrays["header"].tobytes())
    header["trainer"]["journal"]["file"] = "../../etc/passwd"
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    with open(tmp_path / "run.npz", "wb") as file:
        np.savez(file, **arrays)
    with pytest.raises(ModelFileError, match=re.escape("names '../../etc/passwd', not its")):
        minifw.load_checkpoint(tmp_path / "run.npz")


def test_a_checkpoint_path_that_cannot_be_written_stops_the_fit_before_it_trains(tmp_path):
    trainer, source = blog_run()
    before = trainer.network.packed.value.copy()
    trainer.callbacks.append(Checkpoint(tmp_path / "no" / "dir" / "run.npz", every=5))
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "no" / "dir"))):
        trainer.fit(source, 10)
    assert trainer.epochs_done == 0 and np.array_equal(trainer.network.packed.value, before)
