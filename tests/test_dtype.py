"""float32 and float64 networks: the chosen dtype holds end to end, with no upcast in the loop."""

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
    CosineDecay,
    Dense,
    Huber,
    Network,
    RMSProp,
    Trainer,
    presets,
    stack,
    unstack,
)
from minifw.cli import main

OPTIMIZERS = [
    SGD(lr=0.1),
    SGD(lr=0.1, momentum=0.9, nesterov=True),
    RMSProp(lr=0.01, weight_decay=1e-3),
    Adam(lr=0.01, clip_norm=1.0, schedule=CosineDecay(100)),
]
LOSSES = [MSE(), MAE(), Huber(delta=0.5), BinaryCrossEntropy()]


class Spy:
    """Records the dtype of every array a layer, loss or optimizer produces or receives."""

    def __init__(self, monkeypatch):
        self.seen = set()
        spy = self

        def watch(cls, name):
            original = getattr(cls, name)

            def wrapped(self, *args, **kwargs):
                out = original(self, *args, **kwargs)
                for value in (*args, out, *(out if isinstance(out, tuple) else ())):
                    if isinstance(value, np.ndarray):
                        spy.seen.add((f"{cls.__name__}.{name}", value.dtype.name))
                return out

            monkeypatch.setattr(cls, name, wrapped)

        watch(Dense, "forward")
        watch(Dense, "backward")
        for loss in LOSSES:
            watch(type(loss), "value_and_gradient")
        for optimizer in OPTIMIZERS:
            watch(type(optimizer), "update")


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda o: type(o).__name__)
@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: type(loss).__name__)
def test_a_float32_network_computes_everything_in_float32(monkeypatch, optimizer, loss):
    spy = Spy(monkeypatch)
    x = np.linspace(-1, 1, 24).reshape(-1, 1)
    network = Network([Dense(1, 6, "tanh"), Dense(6, 1, "sigmoid")], dtype="float32")
    optimizer = attrs.evolve(optimizer)  # a fresh one
    # The numpy engine's calls are what the spy sees (tests/test_engine.py: float32 compiled).
    trainer = Trainer(network, loss, optimizer, batch_size=5, engine="numpy")
    trainer.fit(ArraySource(x, (x + 1) / 2), 3)
    assert spy.seen and {dtype for _, dtype in spy.seen} == {"float32"}, sorted(spy.seen)
    states = [v for s in optimizer._progress.states.values() for v in s.values()]
    assert all(v.dtype == np.float32 for v in states if isinstance(v, np.ndarray))
    assert network.packed.value.dtype == network.packed.grad.dtype == np.float32


def test_float32_learns_what_float64_learns():
    runs = {dtype: presets.experiment(dtype=dtype) for dtype in ("float32", "float64")}
    results = {dtype: run.fit(300) for dtype, run in runs.items()}
    np.testing.assert_allclose(results["float32"].loss, results["float64"].loss, rtol=2e-3)
    np.testing.assert_allclose(
        runs["float32"].network.packed.value, runs["float64"].network.packed.value, atol=1e-4
    )
    assert runs["float32"].network.packed.value.dtype == np.float32


def test_the_same_seed_draws_the_same_weights_in_either_dtype():
    a = Network([Dense(2, 5, "tanh"), Dense(5, 1)], seed=3, dtype=np.float32)
    b = Network([Dense(2, 5, "tanh"), Dense(5, 1)], seed=3)
    np.testing.assert_array_equal(a.packed.value, b.packed.value.astype(np.float32))


def test_a_float32_stack_ends_where_each_network_does_alone():
    runs = [presets.experiment(dtype="float32", seed=s) for s in range(3)]
    optimizer = runs[0].trainer.optimizer
    stacked = stack([r.network for r in runs])
    trainer = Trainer(stacked, MSE(), attrs.evolve(optimizer), batch_size=4, shuffle=False)
    trainer.fit(runs[0].source, 100)
    for run, mine in zip(runs, unstack(trainer.network), strict=True):
        run.fit(100)
        np.testing.assert_array_equal(mine.packed.value, run.network.packed.value)
        assert mine.dtype == np.float32


def test_save_and_load_keep_the_dtype(tmp_path):
    network = Network([Dense(1, 3, "tanh"), Dense(3, 1)], dtype="float32")
    minifw.save(network, tmp_path / "m.npz")
    loaded = minifw.load(tmp_path / "m.npz")
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded.packed.value, network.packed.value)


@pytest.mark.parametrize("dtype", ["float16", "int32", "complex128", "fp32", None])
def test_other_dtypes_are_refused(dtype):
    with pytest.raises(ConfigError, match=f"dtype must be float32 or float64; got {dtype!r}"):
        Network([Dense(1, 1)], dtype=dtype)


def test_the_command_line_trains_in_float32(tmp_path, capsys):
    assert (
        main(["train", "--dtype", "float32", "--epochs", "50", "--no-plot", "--save", "m.npz"]) == 0
    )
    assert minifw.load(tmp_path / "m.npz").dtype == np.float32
    with pytest.raises(SystemExit):
        main(["train", "--dtype", "float16"])
    assert "invalid choice: 'float16'" in capsys.readouterr().err
