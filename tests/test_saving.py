"""Specs, and saving and loading networks: round trips, atomic writes, every bad file refused."""

import io
import json
import math
import os
import pickle
import struct
import time
import zipfile

import numpy as np
import pytest

import minifw
from minifw import (
    MSE,
    SGD,
    Activation,
    Adam,
    ArraySource,
    ConfigError,
    Constant,
    Dense,
    HeUniform,
    LeakyReLU,
    ModelFileError,
    Network,
    Normaliser,
    Optimizer,
    StepDecay,
    Trainer,
    presets,
)
from minifw.core.registry import parameter_names
from minifw.core.serialize import from_spec, plain, to_spec

# Specs -----------------------------------------------------------------------------


def test_a_spec_holds_every_argument_and_nests_a_schedule():
    spec = to_spec(Adam(schedule=StepDecay(5)))
    assert set(spec) == {"name", *parameter_names(Adam)}
    assert spec["name"] == "adam" and spec["beta2"] == 0.999 and spec["clip_norm"] is None
    assert spec["schedule"] == {"name": "step", "step_size": 5, "gamma": 0.1}


@pytest.mark.parametrize(
    ("base", "spec", "named"),
    [
        (Optimizer, ["adam"], "'name'"),
        (Optimizer, {"lr": 0.1}, "'name'"),
        (Optimizer, {"name": "adamm"}, "'adamm'"),
        (Optimizer, {"name": "adam", "lrr": 0.1}, "'lrr'"),
        (Optimizer, {"name": "adam", "lr": -1.0}, "Adam.lr"),
        (Optimizer, {"name": "adam", "schedule": {"name": "bogus"}}, "'schedule'"),
        (Optimizer, {"name": "sgd", "schedule": {"name": "step"}}, "'step_size'"),
        (Activation, {"name": "elu", "alpha": "big"}, "ELU.alpha"),
    ],
)
def test_from_spec_names_the_bad_key(base, spec, named):
    with pytest.raises(ConfigError, match=named):
        from_spec(base, spec)


@pytest.mark.parametrize("value", [np.zeros(2), float("nan"), {"a": 1}, Dense(1, 1)])
def test_a_spec_refuses_values_it_cannot_hold(value):
    with pytest.raises(ConfigError, match="where"):
        plain(value, "where")


def test_to_spec_refuses_what_is_not_a_registered_component():
    with pytest.raises(ConfigError, match="Dense"):
        to_spec(Dense(1, 1))


# Round trips -----------------------------------------------------------------------


def trained_network():
    """Three layers with every Dense option, a per-column normaliser, trained a little."""
    x = np.linspace(-1, 1, 24).reshape(-1, 2)
    y = np.hstack([np.sin(3 * x[:, :1]), x[:, 1:] ** 2 + 5])
    network = Network(
        [
            Dense(2, 6, "tanh", bias_unit=True, initializer=HeUniform(scale=1.0)),
            Dense(6, 4, LeakyReLU(0.1), bias_initializer=Constant(0.1)),
            Dense(4, 2, "sigmoid", bias=False),
        ],
        seed=3,
        normaliser=Normaliser.fit(y, (0.1, 0.9)),
    )
    trainer = Trainer(network, MSE(), Adam(lr=0.01), batch_size=4, seed=1)
    return trainer, ArraySource(x, y)


def test_a_saved_network_loads_bit_for_bit(tmp_path):
    trainer, source = trained_network()
    trainer.fit(source, 20)
    network, path = trainer.network, tmp_path / "model.npz"
    minifw.save(network, path)
    loaded = minifw.load(path)
    assert repr(loaded.layers) == repr(network.layers)
    assert np.array_equal(loaded.packed.value, network.packed.value)
    for mine, theirs in zip(network.parameters(), loaded.parameters(), strict=True):
        assert np.array_equal(mine.value, theirs.value)
    x = np.random.default_rng(0).uniform(-2, 2, size=(50, 2))
    assert np.array_equal(loaded.predict(x), network.predict(x))
    assert os.listdir(tmp_path) == ["model.npz"]


def test_the_blog_network_and_its_scalar_normaliser_load_bit_for_bit(tmp_path):
    run = presets.blog("tanh")
    run.fit(30)
    minifw.save(run.network, tmp_path / "blog.npz")
    loaded = minifw.load(tmp_path / "blog.npz")
    x, _ = run.source.evaluation_arrays()
    assert np.array_equal(loaded.predict(x), run.network.predict(x))
    assert loaded.normaliser.source[0].shape == ()


def test_a_saved_optimizer_continues_exactly(tmp_path):
    trainer, source = trained_network()
    trainer.fit(source, 5)
    minifw.save(trainer.network, tmp_path / "model.npz", optimizer=trainer.optimizer)
    network = minifw.load(tmp_path / "model.npz")
    optimizer = minifw.load_optimizer(tmp_path / "model.npz", network)
    assert optimizer.iterations == trainer.optimizer.iterations == 15
    again = Trainer(network, MSE(), optimizer, batch_size=4, shuffle=False)
    trainer.shuffle = False
    trainer.fit(source, 5)
    again.fit(source, 5)
    assert np.array_equal(network.packed.value, trainer.network.packed.value)


def test_load_optimizer_refuses_a_file_without_one(tmp_path):
    network = Network([Dense(1, 1)])
    minifw.save(network, tmp_path / "model.npz")
    with pytest.raises(ModelFileError, match=r"model\.npz.*no optimizer"):
        minifw.load_optimizer(tmp_path / "model.npz", network)


def test_load_weights_fills_a_matching_network_in_place(tmp_path):
    trainer, source = trained_network()
    trainer.fit(source, 5)
    minifw.save(trainer.network, tmp_path / "model.npz")
    other = trained_network()[0].network
    weights = other.layers[0].weights
    minifw.load_weights(other, tmp_path / "model.npz")
    assert np.array_equal(other.packed.value, trainer.network.packed.value)
    assert other.layers[0].weights is weights  # in place: the optimizer's views stay attached
    x = np.zeros((1, 2))
    assert np.array_equal(other.predict(x), trainer.network.predict(x))


def test_load_weights_lists_every_difference_and_changes_nothing(tmp_path):
    minifw.save(Network([Dense(1, 5, "tanh"), Dense(5, 1)]), tmp_path / "model.npz")
    network = Network([Dense(1, 8, "sigmoid"), Dense(8, 1), Dense(1, 1)], seed=1)
    before = network.packed.value.copy()
    with pytest.raises(ModelFileError) as caught:
        minifw.load_weights(network, tmp_path / "model.npz")
    message = str(caught.value)
    assert "model.npz" in message and "2 layers, the network 3" in message
    assert "layer 0 has parameters" in message and "layer 1 has parameters" in message
    assert "Tanh()" in message
    assert np.array_equal(network.packed.value, before)


class Scale(minifw.Layer):
    n_in = n_out = 1

    def initialize(self, rng):
        pass

    def forward(self, x):
        return x

    def backward(self, grad, *, input_grad=True):
        return grad

    def parameters(self):
        return []


def test_a_network_with_other_layers_is_refused_and_no_file_is_touched(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")
    with pytest.raises(ConfigError, match="layer 1, a Scale: minifw saves Dense layers only"):
        minifw.save(Network([Dense(1, 1), Scale()]), path)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model.npz"]


def test_a_save_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    minifw.save(Network([Dense(1, 3), Dense(3, 1)], seed=0), path)
    old = path.read_bytes()

    def savez_then_fail(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", savez_then_fail)
    with pytest.raises(OSError, match="disk full"):
        minifw.save(Network([Dense(1, 3), Dense(3, 1)], seed=1), path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["model.npz"]
    monkeypatch.undo()
    assert np.array_equal(
        minifw.load(path).packed.value, Network([Dense(1, 3), Dense(3, 1)]).packed.value
    )


# Bad files -------------------------------------------------------------------------


def good_file(path, kind="model"):
    """A sound file at ``path``: a 1-4-1 network with a normaliser, with its SGD momentum state
    (a model file), or its trainer, trained for an epoch (a checkpoint)."""
    network = Network(
        [Dense(1, 4, "tanh"), Dense(4, 1, "sigmoid")],
        seed=0,
        normaliser=Normaliser((-1.0, 1.0), (0.0, 1.0)),
    )
    trainer = Trainer(network, MSE(), SGD(lr=0.1, momentum=0.9), batch_size=4)
    x = np.linspace(0, 1, 8).reshape(-1, 1)
    trainer.fit(ArraySource(x, x), 1)
    if kind == "model":
        minifw.save(network, path, optimizer=trainer.optimizer)
    else:
        minifw.save_checkpoint(trainer, path)


def contents(path):
    """(header, arrays) of a model file."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    return json.loads(arrays.pop("header").tobytes()), arrays


def rewritten(path, change_header=None, change_arrays=None, header_bytes=None):
    """Rewrite the model file at ``path`` with its header or arrays changed."""
    header, arrays = contents(path)
    if change_header:
        change_header(header)
    if change_arrays:
        change_arrays(arrays)
    raw = json.dumps(header).encode() if header_bytes is None else header_bytes
    with open(path, "wb") as file:
        np.savez(file, header=np.frombuffer(raw, dtype=np.uint8), **arrays)


class Marker:
    """Unpickling this makes a directory: proof that something from the file was run."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def missing(path):
    path.unlink()


def truncated(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def cut_short(path):
    path.write_bytes(path.read_bytes()[:60])


def random_bytes(path):
    path.write_bytes(np.random.default_rng(0).bytes(500))


def empty(path):
    path.write_bytes(b"")


def plain_pickle(path):
    path.write_bytes(pickle.dumps({"weights": Marker(path.parent / "ran")}))


def object_array(path):
    def add(arrays):
        arrays["layers.0.weights"] = np.array([Marker(path.parent / "ran")], dtype=object)

    rewritten(path, change_arrays=add)


def single_npy(path):
    with open(path, "wb") as file:
        np.save(file, np.zeros(3))


def foreign_zip(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")


def foreign_npz(path):
    with open(path, "wb") as file:
        np.savez(file, weights=np.zeros(3))


def unknown_format(path):
    rewritten(path, lambda h: h.update(format="kerasish"))


def unknown_version(path):
    rewritten(path, lambda h: h.update(version=3))


def missing_array(path):
    rewritten(path, change_arrays=lambda a: a.pop("layers.1.weights"))


def missing_state_array(path):
    rewritten(path, change_arrays=lambda a: a.pop("optimizer.packed.velocity"))


def invalid_json(path):
    rewritten(path, header_bytes=b'{"format": "minifw", "version": ')


def nan_in_json(path):
    rewritten(path, header_bytes=b'{"format": NaN}')


def unicode_header(path):
    header, arrays = contents(path)
    with open(path, "wb") as file:
        np.savez(file, header=np.array(json.dumps(header)), **arrays)


def lacks_layers(path):
    rewritten(path, lambda h: h["network"].pop("layers"))


def lacks_network(path):
    rewritten(path, lambda h: h.pop("network"))


def wrong_type(path):
    rewritten(path, lambda h: h["network"].update(seed="zero"))


def unknown_activation(path):
    rewritten(path, lambda h: h["network"]["layers"][1]["activation"].update(name="swishy"))


def unknown_optimizer(path):
    rewritten(path, lambda h: h["optimizer"]["spec"].update(name="adagrad"))


def unknown_layer(path):
    rewritten(path, lambda h: h["network"]["layers"][0].update({"class": "conv2d"}))


def bad_argument(path):
    rewritten(path, lambda h: h["network"]["layers"][0].update(n_out=0))


def non_finite(path):
    def poison(arrays):
        arrays["layers.0.weights"][0, 1] = np.nan
        arrays["layers.1.bias"][0] = np.inf

    rewritten(path, change_arrays=poison)


def non_finite_state(path):
    def poison(arrays):
        arrays["optimizer.packed.velocity"][[0, 3]] = [np.nan, -np.inf]

    rewritten(path, change_arrays=poison)


def wrong_shapes(path):
    def reshape(arrays):
        arrays["layers.0.weights"] = np.zeros((2, 4))
        arrays["layers.1.weights"] = np.zeros(4)
        arrays["normaliser.source"] = np.zeros(3)

    rewritten(path, change_arrays=reshape)


def huge_lr(path):
    rewritten(path, lambda h: h["optimizer"].update(lr=10**400))


def huge_count(path):
    rewritten(path, lambda h: h["optimizer"].update(iterations=-(10**400)))


def text_weights(path):
    rewritten(path, change_arrays=lambda a: a.update({"layers.0.bias": np.array(["a"] * 4)}))


BAD_FILES = [
    (missing, "no such file"),
    (empty, "empty"),
    (truncated, "damaged"),
    (cut_short, "damaged"),
    (random_bytes, "not a minifw file"),
    (plain_pickle, "pickle"),
    (object_array, "'layers.0.weights' holds Python objects"),
    (single_npy, "single .npy"),
    (foreign_zip, "no 'header'.*readme.txt"),
    (foreign_npz, "no 'header'.*weights"),
    (unknown_format, "unknown format 'kerasish'"),
    (unknown_version, "version 3"),
    (missing_array, "'layers.1.weights' is missing"),
    (missing_state_array, "'optimizer.packed.velocity' is missing"),
    (invalid_json, "not valid JSON"),
    (nan_in_json, "not valid JSON"),
    (unicode_header, "header is not UTF-8 bytes"),
    (lacks_layers, "header 'network.layers' is missing; expected a list"),
    (lacks_network, "header 'network' is missing; expected a JSON object"),
    (wrong_type, "header 'network.seed' must be a whole number or null; got 'zero'"),
    (unknown_activation, "unknown activation 'swishy'"),
    (unknown_optimizer, "unknown optimizer 'adagrad'"),
    (unknown_layer, "unknown layer class 'conv2d'"),
    (bad_argument, "Dense.n_out"),
    (non_finite, "'layers.0.weights' has 1 non-finite.*'layers.1.bias' has 1 non-finite"),
    (non_finite_state, "array 'optimizer.packed.velocity' has 2 non-finite value"),
    (
        wrong_shapes,
        r"'layers.0.weights' has shape \(2, 4\); expected \(1, 4\).*"
        r"'layers.1.weights' has shape \(4,\); expected \(4, 1\).*"
        r"'normaliser.source' has shape \(3,\); expected \(2,\) or \(2, 1\)",
    ),
    (text_weights, "'layers.0.bias' holds <U1, not real numbers"),
    (huge_lr, "'optimizer.lr' must be a number or null; got a whole number of about 401 digits"),
    (huge_count, "'optimizer.iterations' must be a whole number; got a negative whole number"),
]


@pytest.mark.parametrize("kind", ["model", "checkpoint"])
@pytest.mark.parametrize(("spoil", "problem"), BAD_FILES, ids=[f.__name__ for f, _ in BAD_FILES])
def test_every_bad_file_raises_one_error_naming_the_file_and_changes_nothing(
    tmp_path, spoil, problem, kind
):
    path = tmp_path / f"{kind}.npz"
    good_file(path, kind)
    spoil(path)
    network = Network([Dense(1, 4, "tanh"), Dense(4, 1, "sigmoid")], seed=5)
    weights, normaliser = network.packed.value.copy(), network.normaliser
    loaders = [
        minifw.load,
        lambda p: minifw.load_weights(network, p),
        lambda p: minifw.load_optimizer(p, network),
    ]
    if kind == "checkpoint":
        loaders.append(minifw.load_checkpoint)
    for load in loaders:
        with pytest.raises(ModelFileError, match=problem) as caught:
            load(path)
        assert str(path) in str(caught.value)
    assert np.array_equal(network.packed.value, weights) and network.normaliser is normaliser
    assert not (tmp_path / "ran").exists()  # nothing in the file was run


def test_the_marker_really_runs_when_unpickled(tmp_path):
    """The pickles above are live: loading them with pickle would have made the directory."""
    pickle.loads(pickle.dumps(Marker(tmp_path / "ran")))
    assert (tmp_path / "ran").is_dir()


def test_a_model_file_is_not_a_checkpoint(tmp_path):
    good_file(tmp_path / "model.npz")
    with pytest.raises(ModelFileError, match=r"model\.npz: it is a 'model' file, not a checkpoint"):
        minifw.load_checkpoint(tmp_path / "model.npz")


# A model with its data and loss history ----------------------------------------------


def test_a_model_keeps_its_data_source_and_history_for_figures(tmp_path):
    run = presets.blog("tanh", seed=3)
    result = run.fit(30)
    path = tmp_path / "m.npz"
    minifw.save(run.network, path, source=run.source, history=run.trainer.run_history)
    saved = minifw.load_saved(path)
    assert saved.history == {"loss": result.loss}
    assert saved.source == run.source  # the same target, domain, samples and seed
    for ours, theirs in zip(saved.source.arrays(), run.source.arrays(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(saved.network.packed.value, run.network.packed.value)


def test_an_array_source_is_saved_with_its_arrays(tmp_path):
    x = np.linspace(-1, 1, 12).reshape(-1, 1)
    source = ArraySource(x, x**2, validation=0.25, seed=4)
    network = Network([Dense(1, 3, "tanh"), Dense(3, 1, "identity")])
    minifw.save(network, tmp_path / "m.npz", source=source, history={"loss": [0.5, float("nan")]})
    saved = minifw.load_saved(tmp_path / "m.npz")
    np.testing.assert_array_equal(
        saved.source.validation_arrays()[1], source.validation_arrays()[1]
    )
    assert saved.history["loss"][0] == 0.5 and np.isnan(saved.history["loss"][1])


def test_load_saved_reads_a_checkpoint_and_a_bare_model(tmp_path):
    good_file(tmp_path / "model.npz")
    bare = minifw.load_saved(tmp_path / "model.npz")
    assert bare.source is None and bare.history is None
    good_file(tmp_path / "run.npz", kind="checkpoint")
    checkpoint = minifw.load_saved(tmp_path / "run.npz")
    assert isinstance(checkpoint.source, ArraySource) and len(checkpoint.history["loss"]) == 1


def test_a_source_that_cannot_be_saved_is_refused_before_writing(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(b"old")
    source = minifw.FunctionSource(np.sin, (0.0, 1.0))  # a plain function, not a named target
    with pytest.raises(ConfigError, match="a FunctionSource cannot be saved"):
        minifw.save(Network([Dense(1, 2), Dense(2, 1)]), path, source=source)
    assert path.read_bytes() == b"old"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda h, a: h.update(history="loss"), "'history' must be a list; got 'loss'"),
        (lambda h, a: h.update(history=[1]), "must list logs keys as text"),
        (lambda h, a: a.pop("history.loss"), "array 'history.loss' is missing"),
        (lambda h, a: h.update(source={"class": "csv"}), "unknown source class 'csv'"),
        (lambda h, a: h["source"].update(n=1), "FunctionSource.n must be a whole number >= 2"),
    ],
)
def test_a_bad_source_or_history_is_refused(tmp_path, change, problem):
    run = presets.blog("sigmoid")
    run.fit(2)
    path = tmp_path / "m.npz"
    minifw.save(run.network, path, source=run.source, history=run.trainer.run_history)
    header, arrays = contents(path)
    change(header, arrays)
    with open(path, "wb") as file:
        np.savez(file, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)
    with pytest.raises(ModelFileError, match=problem):
        minifw.load_saved(path)


# Bombs: members that claim far more than they hold ----------------------------------------


def npy_header(shape, descr="<f8"):
    """The .npy header of an array of ``shape``, as np.save writes it."""
    buffer = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def add_member(path, name, payload, declared):
    """Add ``payload`` to the archive at ``path`` as member ``name``, deflated (a megabyte of
    zeros is a kilobyte), declaring its uncompressed size as ``declared`` bytes (< 4 GiB)."""
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, payload)
    data = bytearray(path.read_bytes())
    encoded, at = name.encode(), 0
    while (at := data.find(b"PK\x01\x02", at + 1)) >= 0:  # the central directory's entries
        (length,) = struct.unpack_from("<H", data, at + 28)
        if bytes(data[at + 46 : at + 46 + length]) == encoded:
            (local,) = struct.unpack_from("<I", data, at + 42)
            struct.pack_into("<I", data, at + 24, declared)
            struct.pack_into("<I", data, local + 22, declared)
    path.write_bytes(bytes(data))


def forged_array(shape, descr="<f8"):
    """(payload, declared size) of an array member claiming ``shape``: its header, then only a
    megabyte of zeros, declared as large as that shape takes."""
    header = npy_header(shape, descr)
    size = len(header) + math.prod(shape) * np.dtype(descr).itemsize
    return header + bytes(2**20), size


def model_with_history(path):
    network = Network([Dense(1, 4, "tanh"), Dense(4, 1)], seed=0)
    minifw.save(network, path, history={"loss": [0.5, 0.25]})


def swapped(path, name, payload, declared):
    """The file at ``path`` with array ``name`` replaced by ``payload`` declared as ``declared``."""
    header, arrays = contents(path)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    del arrays[name]
    with open(path, "wb") as file:
        np.savez(file, **arrays)
    add_member(path, f"{name}.npy", payload, declared)


@pytest.mark.parametrize("kind", ["model", "checkpoint"])
def test_an_unused_member_claiming_4_gb_is_never_read(tmp_path, kind):
    # The bomb: 3.9 MB on disk, an unused 4 GB member; it took 27 s and 3.95 GB.
    path = tmp_path / "bomb.npz"
    good_file(path, kind)
    add_member(path, "unused.npy", *forged_array((499_000_000,)))
    assert path.stat().st_size < 2**20
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("unused.npy").file_size > 3.99e9
    began = time.perf_counter()
    network = minifw.load(path)
    saved = minifw.load_saved(path)
    if kind == "checkpoint":
        minifw.load_checkpoint(path)
    assert time.perf_counter() - began < 1.0
    assert network.packed.value.size == saved.network.packed.value.size == 13


def test_an_array_declaring_more_bytes_than_its_shape_takes_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    good_file(path)
    payload = npy_header((1, 4)) + bytes(32)  # the right shape, sound data...
    swapped(path, "layers.0.weights", payload, 3_000_000_000)  # ...declared as 3 GB
    with pytest.raises(ModelFileError, match=r"'layers.0.weights' declares 3,000,000,000 bytes"):
        minifw.load(path)


def test_a_loss_history_claiming_300_million_epochs_is_refused_before_it_is_read(tmp_path):
    # The issue's: 100 million entries took 7.1 GB and ended in MemoryError.
    path = tmp_path / "model.npz"
    model_with_history(path)
    swapped(path, "history.loss", *forged_array((300_000_000,)))
    minifw.load(path)  # the network alone does not need the history
    began = time.perf_counter()
    with pytest.raises(ModelFileError, match=r"claims 300,000,000 epochs; .* at most 10,000,000"):
        minifw.load_saved(path)
    assert time.perf_counter() - began < 1.0


def test_a_header_claiming_a_gigabyte_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    good_file(path)
    swapped(path, "header", *forged_array((10**9,), "|u1"))
    with pytest.raises(ModelFileError, match=r"header claims 1,000,000,000 bytes; .* at most 16"):
        minifw.load(path)


def test_a_data_set_no_memory_holds_is_refused_before_it_is_read(tmp_path, monkeypatch):
    import minifw.core.validation

    path = tmp_path / "model.npz"
    x = np.linspace(0, 1, 8).reshape(-1, 1)
    minifw.save(Network([Dense(1, 2), Dense(2, 1)]), path, source=ArraySource(x, x))
    swapped(path, "source.x", *forged_array((200_000_000, 1)))
    monkeypatch.setattr(minifw.core.validation, "machine_memory", lambda: 2**30)
    with pytest.raises(ModelFileError, match=r"data set of 200,000,000 samples would need about"):
        minifw.load_saved(path)


def test_an_array_source_with_validation_data_is_saved_with_it(tmp_path):
    x = np.linspace(-1, 1, 12).reshape(-1, 1)
    held = (np.array([[0.05], [0.55]]), np.array([[1.0], [2.0]]))
    source = ArraySource(x, x**2, validation_data=held)
    network = Network([Dense(1, 3, "tanh"), Dense(3, 1, "identity")])
    minifw.save(network, tmp_path / "m.npz", source=source)
    saved = minifw.load_saved(tmp_path / "m.npz").source
    for ours, theirs in zip(saved.validation_arrays(), held, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(saved.arrays()[0], x)


def test_a_checkpoint_keeps_the_trainers_metrics(tmp_path):
    x = np.linspace(-1, 1, 12).reshape(-1, 1)
    trainer = minifw.Trainer(
        Network([Dense(1, 3, "tanh"), Dense(3, 1)]), "mse", "sgd", metrics=["r2", "mae"]
    )
    trainer.fit(x, x**2, epochs=2)
    minifw.save_checkpoint(trainer, tmp_path / "run.npz")
    resumed = minifw.load_checkpoint(tmp_path / "run.npz")
    assert [m.key for m in resumed.metrics] == ["r2", "mae"]
    assert resumed.fit(resumed.source, 1).history["r2"] == [
        pytest.approx(trainer.fit(x, x**2, epochs=1).history["r2"][0])
    ]
