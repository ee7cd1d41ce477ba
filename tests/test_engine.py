"""The compiled engine trains as the numpy engine does: the same numbers, callbacks and state."""

import itertools
import subprocess
import sys
import warnings

import numpy as np
import pytest
from helpers import HeldOut, built_in
from test_gradcheck import ACTIVATIONS, BIASES, LOSSES, build

import minifw.core.activations
import minifw.core.layers
import minifw.core.losses
import minifw.core.optimizers
from minifw import (
    SGD,
    Activation,
    Adam,
    ArraySource,
    Callback,
    ConfigError,
    CosineDecay,
    Dense,
    EarlyStopping,
    Layer,
    Loss,
    Network,
    Optimizer,
    RMSProp,
    Sigmoid,
    StepDecay,
    TerminateOnNaN,
    Trainer,
    TrainingDiverged,
    load_checkpoint,
    presets,
    save_checkpoint,
    stack,
)
from minifw.engine import support
from minifw.engine.support import EngineFallback, EngineSwitch

# "The same numbers": float64 runs agree to this, relative, in every epoch's loss and the
# final weights. Rounding differs (numpy's BLAS and exp against the kernels' loops and
# libm), by about 1e-16 per operation; 1e-12 leaves room for it to grow over the updates.
SAME = 1e-12
# float32 runs round differently in ~1e-7 steps, which a few hundred updates grow.
SAME_FLOAT32 = 1e-4

OPTIMIZERS = {
    "sgd": lambda: SGD(0.05),
    "momentum": lambda: SGD(0.02, momentum=0.5),
    "nesterov": lambda: SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "rmsprop": lambda: RMSProp(0.01, clip_norm=0.5),
    "adam": lambda: Adam(0.01, weight_decay=1e-2, schedule=StepDecay(7, 0.5)),
    "adam cosine clipped": lambda: Adam(0.02, clip_norm=0.1, schedule=CosineDecay(40)),
}


def data(network, loss, samples=11, seed=1):
    """``samples`` points for ``network``: targets in (0, 1), so that every loss takes them."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(samples, network.n_inputs))
    y = rng.uniform(0.05, 0.95, size=(samples, network.n_outputs))
    return ArraySource(x, y)


def both(make_network, loss, optimizer, source, epochs, **settings):
    """The same run on each engine: {engine: (trainer, FitResult)}."""
    runs = {}
    for engine in ("numpy", "compiled"):
        trainer = Trainer(make_network(), loss, optimizer(), engine=engine, **settings)
        runs[engine] = trainer, trainer.fit(source, epochs)
    return runs


def relative(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def assert_same(runs, tolerance=SAME):
    (numpy_trainer, numpy_fit), (compiled_trainer, compiled_fit) = runs["numpy"], runs["compiled"]
    assert compiled_fit.epochs == numpy_fit.epochs
    losses = np.array(compiled_fit.loss), np.array(numpy_fit.loss)
    assert np.all(np.abs(losses[0] - losses[1]) <= tolerance * np.abs(losses[1])), losses
    weights = compiled_trainer.network.packed.value, numpy_trainer.network.packed.value
    assert relative(*weights) <= tolerance
    assert compiled_trainer.optimizer.iterations == numpy_trainer.optimizer.iterations
    assert np.array_equal(compiled_trainer.optimizer.current_lr, numpy_trainer.optimizer.current_lr)


@pytest.mark.parametrize(
    ("activation", "loss", "bias"), list(itertools.product(ACTIVATIONS, LOSSES, BIASES))
)
def test_every_activation_loss_and_bias_trains_to_the_same_numbers(activation, loss, bias):
    # The gradcheck matrix's networks (two layers here), 11 samples in batches of 4 (the
    # last batch short), shuffled: the same permutations, the same weights and losses.
    network = build(activation, loss, bias, depth=2)
    runs = both(
        lambda: build(activation, loss, bias, depth=2),
        LOSSES[loss],
        OPTIMIZERS["momentum"],
        data(network, loss),
        epochs=15,
        batch_size=4,
        shuffle=True,
        seed=3,
    )
    assert_same(runs)
    assert np.array_equal(runs["numpy"][0]._order, runs["compiled"][0]._order)
    numpy_rng, compiled_rng = (runs[e][0]._rng.bit_generator.state for e in runs)
    assert numpy_rng == compiled_rng


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("depth", [1, 3])
def test_every_optimizer_with_decay_clipping_and_schedules_trains_to_the_same_numbers(
    optimizer, depth
):
    runs = both(
        lambda: build("tanh", "mse", "bias", depth),
        LOSSES["mse"],
        OPTIMIZERS[optimizer],
        data(build("tanh", "mse", "bias", depth), "mse"),
        epochs=40,
        batch_size=3,
        shuffle=False,
    )
    assert_same(runs)
    states = [
        runs[e][0].optimizer.export_state({"packed": runs[e][0].network.packed}) for e in runs
    ]
    assert states[0].keys() == states[1].keys()
    assert states[0]["states"].keys() == states[1]["states"].keys() == {"packed"}
    for key, value in states[0]["states"]["packed"].items():
        assert relative(states[1]["states"]["packed"][key], value) <= SAME, key


def test_the_blog_trains_to_the_same_numbers_for_3000_epochs():
    runs = {}
    for engine in ("numpy", "compiled"):
        run = presets.blog("sigmoid")
        run.trainer.engine = engine
        runs[engine] = run.trainer, run.fit(3000)
    assert_same(runs)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_float32_runs_agree_to_float32_rounding(optimizer):
    runs = both(
        lambda: Network([Dense(2, 6, "tanh"), Dense(6, 1, "sigmoid")], dtype=np.float32),
        LOSSES["mse"],
        OPTIMIZERS[optimizer],
        data(Network([Dense(2, 1)]), "mse"),
        epochs=30,
        batch_size=4,
    )
    assert runs["compiled"][0].network.packed.value.dtype == np.float32
    assert_same(runs, SAME_FLOAT32)


class Recorder(Callback):
    """Every hook call, with the epoch's loss and a fingerprint of the weights it saw."""

    def __init__(self, batches=False):
        self.calls, self.batches = [], batches

    def listens_to(self, hook):
        return hook != "on_batch_end" or self.batches

    def on_epoch_begin(self, trainer, epoch):
        self.calls.append(("begin", epoch, float(trainer.network.packed.value.sum())))

    def on_batch_end(self, trainer, batch, logs):
        self.calls.append(
            ("batch", batch, logs["loss"], float(trainer.network.packed.value.flat[0]))
        )

    def on_epoch_end(self, trainer, epoch, logs):
        self.calls.append(("end", epoch, logs["loss"], float(trainer.network.packed.value.flat[0])))


@pytest.mark.parametrize("batches", [False, True], ids=["epoch hooks", "batch hooks"])
def test_hooks_see_what_the_numpy_loop_shows_them(batches):
    calls = {}
    for engine in ("numpy", "compiled"):
        recorder = Recorder(batches)
        trainer = Trainer(
            build("relu", "mse", "bias", 2), "mse", SGD(0.1), batch_size=4, engine=engine,
            callbacks=[recorder], shuffle=True,
        )  # fmt: skip
        trainer.fit(data(trainer.network, "mse"), 6)
        calls[engine] = recorder.calls
    assert [c[:2] for c in calls["compiled"]] == [c[:2] for c in calls["numpy"]]
    for mine, theirs in zip(calls["compiled"], calls["numpy"], strict=True):
        assert np.allclose(mine[2:], theirs[2:], rtol=SAME, atol=0), (mine, theirs)


def test_validation_loss_and_early_stopping_agree():
    network = build("tanh", "mse", "bias", 2)
    train, held = data(network, "mse").arrays(), data(network, "mse", seed=9).arrays()
    stops = {}
    for engine in ("numpy", "compiled"):
        stopping = EarlyStopping("val_loss", patience=3, min_delta=1e-4, restore_best=True)
        trainer = Trainer(
            build("tanh", "mse", "bias", 2), "mse", SGD(0.3), batch_size=2, engine=engine,
            callbacks=[stopping],
        )  # fmt: skip
        result = trainer.fit(HeldOut(train, held), 200)
        stops[engine] = stopping.stopped_epoch, result, trainer.network.packed.value
    assert stops["numpy"][0] is not None and stops["compiled"][0] == stops["numpy"][0]
    assert np.allclose(stops["compiled"][1].val_loss, stops["numpy"][1].val_loss, rtol=SAME)
    assert relative(stops["compiled"][2], stops["numpy"][2]) <= SAME


@pytest.mark.parametrize("check", ["epoch", "batch"])
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_divergence_is_caught_with_the_same_diagnosis_and_weights(check):
    found = {}
    for engine in ("numpy", "compiled"):
        guard = TerminateOnNaN(raise_error=True, check=check)
        trainer = Trainer(
            build("identity", "mse", "bias", 3), "mse", SGD(0.2), batch_size=3,
            engine=engine, callbacks=[guard],
        )  # fmt: skip
        with pytest.raises(TrainingDiverged) as raised:
            trainer.fit(data(trainer.network, "mse"), 50)
        found[engine] = raised.value, trainer
    (numpy_error, numpy_trainer), (compiled_error, compiled_trainer) = (
        found["numpy"],
        found["compiled"],
    )
    numpy_report, compiled_report = numpy_error.args[0], compiled_error.args[0]
    assert (compiled_report.epoch, compiled_report.batch) == (
        numpy_report.epoch,
        numpy_report.batch,
    )
    assert compiled_report.weights_finite == numpy_report.weights_finite
    # The last forward's pre-activations, as large as numpy's where finite (past overflow,
    # inf against nan depends on the order of the additions, which BLAS chooses).
    for mine, theirs in zip(
        compiled_report.largest_pre_activation, numpy_report.largest_pre_activation, strict=True
    ):
        assert mine == pytest.approx(theirs, rel=1e-9) or not (
            np.isfinite(mine) or np.isfinite(theirs)
        )
    weights = compiled_trainer.network.packed.value
    assert np.isfinite(weights).all()
    assert relative(weights, numpy_trainer.network.packed.value) <= SAME
    assert compiled_trainer.run_history["loss"][:-1] == pytest.approx(
        numpy_trainer.run_history["loss"][:-1], rel=SAME
    )


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_a_block_that_diverges_midway_keeps_the_generator_where_numpy_leaves_it():
    # The default guard (check="epoch") in a block: the permutations drawn for the epochs
    # after the bad one are given back, so a checkpoint would hold numpy's generator.
    found = {}
    for engine in ("numpy", "compiled"):
        trainer = Trainer(
            build("identity", "mse", "bias", 3), "mse", SGD(0.2), batch_size=3,
            engine=engine, shuffle=True,
        )  # fmt: skip
        with pytest.raises(TrainingDiverged):
            trainer.fit(data(trainer.network, "mse"), 500)
        found[engine] = trainer
    assert found["compiled"].epochs_done == found["numpy"].epochs_done < 500
    assert found["compiled"]._rng.bit_generator.state == found["numpy"]._rng.bit_generator.state
    assert np.array_equal(found["compiled"]._order, found["numpy"]._order)


def test_a_checkpoint_records_its_engine_and_a_resume_on_the_other_says_so(tmp_path):
    first = Trainer(build("tanh", "mse", "bias", 2), "mse", SGD(0.1), batch_size=4)
    source = data(first.network, "mse")
    first.fit(source, 5)
    assert first.trained_on == "compiled"  # auto, the default, chose it
    save_checkpoint(first, tmp_path / "run.npz")
    resumed = load_checkpoint(tmp_path / "run.npz", source)
    assert resumed.trained_on == "compiled"
    resumed.engine = "numpy"
    with pytest.warns(EngineSwitch) as said:
        resumed.fit(source, 2)
        resumed.fit(source, 2)  # on numpy since the last fit: nothing more to say
    assert [str(w.message) for w in said] == [
        "this run trained on the compiled engine so far and continues on the numpy engine: "
        "the same numbers to rounding (1e-12 relative in float64)"
    ]
    assert resumed.trained_on == "numpy"


def test_a_checkpoint_moves_from_the_compiled_engine_to_numpy(tmp_path):
    def run(engine):
        return Trainer(
            build("sigmoid", "mse", "bias unit", 2), "mse", Adam(0.01), batch_size=4,
            engine=engine, shuffle=True, seed=5,
        )  # fmt: skip

    source = data(run("numpy").network, "mse")
    reference = run("numpy")
    reference.fit(source, 1300)
    first = run("compiled")
    first.fit(source, 1000)
    save_checkpoint(first, tmp_path / "run.npz")
    resumed = load_checkpoint(tmp_path / "run.npz", source)
    resumed.engine = "numpy"
    with pytest.warns(EngineSwitch, match="continues on the numpy engine"):
        resumed.fit(source, 300)
    assert relative(resumed.network.packed.value, reference.network.packed.value) <= SAME
    assert resumed.run_history["loss"] == pytest.approx(reference.run_history["loss"], rel=SAME)


class UserCube(Activation):
    output_range = (-np.inf, np.inf)

    def forward(self, x):
        return x**3

    def derivative(self, x, y):
        return 3 * x**2


def test_compiled_refuses_a_users_own_component_naming_it():
    network = Network([Dense(1, 3, UserCube()), Dense(3, 1)])
    with pytest.raises(
        ConfigError, match=r"layer 0's activation test_engine.UserCube has no kernel"
    ):
        Trainer(network, "mse", "sgd", engine="compiled")
    with pytest.raises(ConfigError, match="engine must be one of"):
        Trainer(network, "mse", "sgd", engine="fast")


def test_auto_falls_back_to_numpy_and_says_why_once(monkeypatch):
    # Once a process, under any warning filter: a sweep's hundred trainers say it once.
    monkeypatch.setattr(support, "_SAID", set())
    source = ArraySource(np.linspace(0, 1, 8)[:, None], np.linspace(0, 1, 8)[:, None])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            trainer = Trainer(Network([Dense(1, 3, UserCube()), Dense(3, 1)]), "mse", SGD(0.01))
            trainer.fit(source, 2)
            trainer.fit(source, 2)
    messages = [str(w.message) for w in caught if w.category is EngineFallback]
    assert len(messages) == 1 and "UserCube" in messages[0] and "numpy" in messages[0]
    assert trainer.engine == "auto" and trainer.trained_on == "numpy"


def test_auto_uses_numpy_when_numba_is_missing_and_compiled_says_so(monkeypatch):
    monkeypatch.setattr(support, "numba_missing", lambda: "numba is not installed")
    network = Network([Dense(1, 3, "tanh"), Dense(3, 1)])
    with pytest.warns(EngineFallback, match="numba is not installed"):
        assert not support.compiled(Trainer(network, "mse", "sgd", engine="auto"))
    with pytest.raises(ConfigError, match="numba is not installed"):
        Trainer(network, "mse", "sgd", engine="compiled")


def test_auto_leaves_a_network_past_the_kernels_size_to_numpy(monkeypatch):
    # 1-32-32-1 in batches of 32: 32 x (32 + 1024 + 32) = 34,816 multiply-adds a batch.
    monkeypatch.setattr(support, "_SAID", set())
    network = Network([Dense(1, 32, "tanh"), Dense(32, 32, "tanh"), Dense(32, 1)])
    assert support.work(Trainer(network, "mse", "sgd", batch_size=18)) == 19584
    assert support.compiled(Trainer(network, "mse", "sgd", batch_size=18))
    with pytest.warns(EngineFallback, match="34,816 multiply-adds, past the 20,000"):
        assert not support.compiled(Trainer(network, "mse", "sgd", batch_size=32))
    assert support.compiled(Trainer(network, "mse", "sgd", batch_size=32, engine="compiled"))


def test_auto_trains_a_stack_of_any_size_on_the_kernels(monkeypatch):
    # The size limit is each network's (support.AUTO_LIMIT's comment has the measurements):
    # 300 blog networks stacked are 300 times the work of one, and still compiled.
    monkeypatch.setattr(support, "_SAID", set())
    networks = stack([Network([Dense(1, 5, "sigmoid"), Dense(5, 1, "sigmoid")], seed=s)
                      for s in range(300)])  # fmt: skip
    trainer = Trainer(networks, "mse", "sgd", batch_size=4)
    assert support.work(trainer) == 4 * (5 + 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EngineFallback)
        assert support.compiled(trainer)


def test_auto_leaves_numpy_errstate_raising_to_numpy():
    trainer = Trainer(Network([Dense(1, 3, "tanh"), Dense(3, 1)]), "mse", "sgd", engine="auto")
    assert support.compiled(trainer)
    with np.errstate(over="raise"), pytest.warns(EngineFallback, match="over"):
        assert not support.compiled(trainer)


def test_the_built_ins_without_a_kernel_are_exactly_these():
    # A new built-in activation, loss, optimizer or layer must get a kernel, or be listed
    # here on purpose: the compiled engine would otherwise skip it silently (auto's numpy).
    families = [
        (Activation, minifw.core.activations, support.ACTIVATION_KERNELS),
        (Loss, minifw.core.losses, support.LOSS_KERNELS),
        (Optimizer, minifw.core.optimizers, support.OPTIMIZER_KERNELS),
    ]
    missing = set()
    for family, module, kernels in families:
        names = built_in(family, module)
        assert names  # the filter found the built-ins
        missing |= {n for n in names if family.registry.get(n) not in kernels}
    layers = {
        cls.__name__
        for cls in vars(minifw.core.layers).values()
        if isinstance(cls, type) and issubclass(cls, Layer) and cls is not Layer
    }
    missing |= {
        name for name in layers if getattr(minifw.core.layers, name) not in support.LAYER_KERNELS
    }
    # lbfgs steps on the whole data through SciPy, never batch by batch: no kernel to write.
    assert missing == {"lbfgs"}


def test_import_minifw_does_not_import_numba_and_a_second_process_loads_the_kernels():
    # Each process: numba is imported by the first compiled fit only; the kernel it runs is
    # compiled (or loaded) then. The second process must load it from numba's disk cache,
    # which the first left filled: no compiling in any process after the first.
    code = (
        "import sys, minifw\n"
        "t = minifw.presets.blog('sigmoid')\n"
        "before = 'numba' in sys.modules\n"
        "t.trainer.engine = 'compiled'; t.fit(1)\n"
        "from minifw.engine import kernels\n"
        "stats = kernels.train.stats\n"
        "print(before, 'numba' in sys.modules, sum(stats.cache_hits.values()),"
        " sum(stats.cache_misses.values()), t.trainer.compile_seconds)"
    )
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
    # One load, by the fit's loop.ready before its clock: the fit itself then found its
    # kernel ready (a second hit would mean it needed another signature), compiling nothing.
    assert out.stdout.split() == ["False", "True", "1", "0", "None"]


def test_a_fit_finds_the_kernel_ready_made_before_its_clock_started():
    # loop.ready compiles (or loads) through a one-weight network; every fit, shuffled or
    # not, one network or a stack, must use that same signature, or it would compile on the
    # clock. A fit that compiled nothing says so with compile_seconds None.
    from minifw.engine import kernels, loop

    loop.ready(np.float64)
    loop.ready(np.float64, stacked=True)
    signatures = list(kernels.train.signatures), list(kernels.train_lanes.signatures)
    runs = [presets.blog("sigmoid"), presets.blog("tanh", batch_size=3)]
    runs[1].trainer.shuffle = True
    for run in runs:
        run.trainer.engine = "compiled"
        run.fit(2)
        assert run.trainer.compile_seconds is None and run.trainer.trained_on == "compiled"
    stacked = Trainer(stack([Network([Dense(1, 3, "tanh"), Dense(3, 1)], seed=s) for s in (1, 2)]),
                      "mse", SGD(0.1), batch_size=4, engine="compiled")  # fmt: skip
    stacked.fit(np.linspace(-1, 1, 10).reshape(-1, 1), np.zeros((10, 1)), epochs=2)
    assert stacked.compile_seconds is None
    assert (list(kernels.train.signatures), list(kernels.train_lanes.signatures)) == signatures


STACKED = {
    "momentum, a rate per network": lambda: SGD(np.array([[0.02], [0.05], [0.1]]), momentum=0.5),
    "adam, rates scheduled": lambda: Adam(
        np.array([[0.005], [0.01], [0.02]]), weight_decay=1e-3, schedule=StepDecay(7, 0.5)
    ),
}


@pytest.mark.parametrize("optimizer", list(STACKED))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_stack_trains_to_the_numpy_stacks_numbers(optimizer, dtype):
    # Three networks, each its own initial weights and rate, shuffled, the last batch short:
    # the stack's kernel trains them side by side; each epoch's loss is an array of three.
    def make():
        return stack([
            Network([Dense(2, 4, "tanh"), Dense(4, 1, "sigmoid")], seed=s, dtype=dtype)
            for s in range(3)
        ])  # fmt: skip

    runs = both(make, "mse", STACKED[optimizer], data(make(), "mse"), 25, batch_size=4)
    compiled, numpy_run = runs["compiled"][1], runs["numpy"][1]
    assert np.shape(compiled.loss) == np.shape(numpy_run.loss) == (25, 3)
    assert np.asarray(compiled.loss).dtype == np.asarray(numpy_run.loss).dtype == dtype
    assert_same(runs, SAME if dtype == "float64" else SAME_FLOAT32)
    assert support.problems(runs["compiled"][0]) == []


# The rules a stack trains with on the kernels (clipping sends a stack to numpy), each
# taking the learning rate: one network's, or a stack's (N, 1) array of them.
LANE_RULES = {
    "sgd": lambda lr: SGD(lr),
    "momentum": lambda lr: SGD(lr, momentum=0.5),
    "nesterov, decay": lambda lr: SGD(lr, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "rmsprop": lambda lr: RMSProp(lr / 5),
    "adam, decay, scheduled": lambda lr: Adam(
        lr / 5, weight_decay=1e-2, schedule=StepDecay(7, 0.5)
    ),
}
# Two hidden activations and a loss per case: every built-in activation and loss, and every
# kind of bias, in four networks.
LANE_NETWORKS = {
    "tanh, elu, mse": ("tanh", "elu", "identity", "mse"),
    "softplus, silu, mae": ("softplus", "silu", "identity", "mae"),
    "relu, leaky relu, huber": ("relu", "leaky_relu", "tanh", "huber"),
    "identity, sigmoid, bce": ("identity", "sigmoid", "sigmoid", "binary_cross_entropy"),
}
RATES = [0.02, 0.05, 0.1, 0.03, 0.07]


@pytest.mark.parametrize("rule", list(LANE_RULES))
@pytest.mark.parametrize("case", list(LANE_NETWORKS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_stacked_network_trains_bit_for_bit_as_it_trains_alone(rule, case, dtype, monkeypatch):
    # The stack's kernel trains its networks side by side, a network's number in each lane
    # of a vector instruction, in groups of at most LANES (2 here: three groups, shared out
    # to the threads, however little work). Each lane's arithmetic is the one-network
    # kernel's, in its order, so each network ends exactly where it ends trained alone: a
    # sweep's row does not depend on what it was stacked with.
    from minifw.engine import loop

    monkeypatch.setattr(loop, "LANES", 2)
    monkeypatch.setattr(loop, "THREADED", 0)
    first, second, out, loss = LANE_NETWORKS[case]

    def network(seed):
        layers = [
            Dense(2, 9, first, bias_unit=True),  # wide: the one-network kernel's other loops
            Dense(9, 3, second, bias_initializer="glorot_uniform"),
            Dense(3, 1, out, bias=False),
        ]
        return Network(layers, seed=seed, dtype=dtype)

    source = data(network(0), loss)
    make = LANE_RULES[rule]
    stacked = Trainer(stack([network(s) for s in range(len(RATES))]), loss,
                      make(np.array(RATES)[:, None]), batch_size=4, engine="compiled")  # fmt: skip
    together = np.asarray(stacked.fit(source, 15).loss)
    assert together.shape == (15, len(RATES))
    for i, lr in enumerate(RATES):
        alone = Trainer(network(i), loss, make(lr), batch_size=4, engine="compiled")
        losses = alone.fit(source, 15).loss
        assert np.array_equal(stacked.network.packed.value[i], alone.network.packed.value)
        assert np.array_equal(together[:, i], np.array(losses, dtype))


def test_a_stack_with_batch_hooks_and_validation_agrees_call_for_call():
    network = build("tanh", "mse", "bias", 2)
    train, held = data(network, "mse").arrays(), data(network, "mse", seed=9).arrays()
    calls, results = {}, {}
    for engine in ("numpy", "compiled"):
        recorder = Recorder(batches=True)
        trainer = Trainer(
            stack([build("tanh", "mse", "bias", 2) for _ in range(2)]), "mse",
            SGD(np.array([[0.1], [0.3]])), batch_size=4, engine=engine, callbacks=[recorder],
        )  # fmt: skip
        results[engine] = trainer.fit(HeldOut(train, held), 4)
        calls[engine] = recorder.calls
    assert [c[:2] for c in calls["compiled"]] == [c[:2] for c in calls["numpy"]]
    for mine, theirs in zip(calls["compiled"], calls["numpy"], strict=True):
        assert np.allclose(np.hstack(mine[2:]), np.hstack(theirs[2:]), rtol=SAME, atol=0)
    assert np.allclose(results["compiled"].val_loss, results["numpy"].val_loss, rtol=SAME)


def test_a_stack_clipped_by_its_joint_norm_is_left_to_numpy_with_the_reason():
    # The numpy engine clips a stack by the norm of every network's gradients together;
    # kernels that each hold one network cannot, so auto says why and compiled refuses.
    stacked = stack([Network([Dense(1, 2, Sigmoid())], seed=s) for s in range(2)])
    reasons = support.problems(Trainer(stacked, "mse", SGD(0.1, clip_norm=1.0)))
    assert reasons == ["the optimizer clips a stack of 2 networks by their joint norm"]
    with pytest.raises(ConfigError, match="joint norm"):
        Trainer(stacked, "mse", SGD(0.1, clip_norm=1.0), engine="compiled")


def test_the_command_line_takes_engine_and_trains_the_same_run(tmp_path, monkeypatch, capsys):
    from minifw.cli import main

    monkeypatch.chdir(tmp_path)
    lines = {}
    for engine in ("numpy", "compiled"):
        flags = ["train", "--epochs", "40", "--no-plot", "--no-record", "--engine", engine]
        assert main(flags) == 0
        lines[engine] = capsys.readouterr().out.splitlines()[0]
    assert "loss" in lines["numpy"] and lines["compiled"] == lines["numpy"].replace(
        lines["numpy"].split()[-1], lines["compiled"].split()[-1]
    )  # the same stats line, but for the time it took
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--engine", "fast"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'fast'" in capsys.readouterr().err


def test_the_ledger_records_the_engine_that_trained_not_auto(tmp_path, monkeypatch, capsys):
    from minifw import Ledger
    from minifw.cli import main

    monkeypatch.chdir(tmp_path)
    for flags in ([], ["--engine", "numpy"]):
        assert main(["train", "--epochs", "5", "--no-plot", *flags]) == 0
    out = capsys.readouterr().out
    # auto is the blog's default: only the run that asked for numpy names an engine
    assert out.count("engine=") == out.count("engine=numpy") == 1
    engines = [run.config["training"]["engine"] for run in Ledger("runs").records()]
    assert engines == ["compiled", "numpy"]


def test_a_silent_progress_bar_lets_the_compiled_engine_train_in_blocks(monkeypatch):
    # No terminal, no bar: it does not listen at epoch ends, so the kernel runs the fit in
    # one call, where a listening callback would make it one call per epoch.
    from minifw import ProgressBar
    from minifw.engine import loop

    calls = []
    run = loop._Plan.run
    loop.ready(np.float64)  # its own call of the kernel, if this process had none yet
    monkeypatch.setattr(loop._Plan, "run", lambda plan, *a: calls.append(a) or run(plan, *a))
    bar = ProgressBar(enabled=False)
    assert bar.listens_to("on_epoch_end")  # before a fit, it cannot know
    trainer = Trainer(build("tanh", "mse", "bias", 2), "mse", SGD(0.1), callbacks=[bar])
    trainer.fit(data(trainer.network, "mse"), 20)
    assert len(calls) == 1 and trainer.epochs_done == 20


def test_metrics_are_logged_every_epoch_on_either_engine_alike():
    # No validation data and no hook but the history: the compiled engine would record the
    # epochs in bulk; with metrics it ends each epoch as numpy does, measuring them.
    network = build("tanh", "mse", "bias", 2)
    source = data(network, "mse", samples=12)
    runs = both(
        lambda: build("tanh", "mse", "bias", 2), "mse", lambda: SGD(0.2), source, 30,
        batch_size=4, metrics=["mae", "r2"],
    )  # fmt: skip
    assert_same(runs)
    numpy_fit, compiled_fit = runs["numpy"][1], runs["compiled"][1]
    assert list(compiled_fit.history) == ["loss", "mae", "r2"]
    for key in ("mae", "r2"):
        assert len(compiled_fit.history[key]) == 30
        np.testing.assert_allclose(compiled_fit.history[key], numpy_fit.history[key], rtol=1e-10)
