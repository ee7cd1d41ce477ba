"""Numerical safety across the whole input range, in float32 and float64.

This extends tests/test_activations.py (float64 grid and any finite float64; float32 only
at a few extremes; finite differences on [-20, 20]) and tests/test_losses.py (binary
cross-entropy at 0 and 1): here every built-in activation and loss is run under
``np.errstate(all="raise")`` across [-1e4, 1e4] in both dtypes, derivatives are checked
against central differences across that whole range, the output activation's target range
is checked for bounds the activation only reaches at infinity, and a diverging run is
checked for what it leaves behind.

Underflow (a result below the smallest normal float rounding to a subnormal or 0) is the
right answer for these functions, and minifw.core.numerics.tolerate_underflow keeps numpy from
raising it; the tests below feed inputs that make every built-in function underflow.
"""

import math

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import BUILT_IN_ACTIVATIONS, built_in, examples
from hypothesis import given, settings
from hypothesis import strategies as st

import minifw
import minifw.core.activations
import minifw.run.experiment as experiment_module
from minifw import (
    MAE,
    MSE,
    SGD,
    Activation,
    Adam,
    ArraySource,
    BinaryCrossEntropy,
    ConfigError,
    Dense,
    Huber,
    LambdaCallback,
    Network,
    RMSProp,
    TerminateOnNaN,
    Trainer,
    TrainingDiverged,
    presets,
)
from minifw.core.numerics import tolerate_underflow

DTYPES = [np.float32, np.float64]

# minifw's own activations. Other test modules register activations of their own (a
# user's Softplus) that promise nothing about floating-point flags.
BUILT_IN = built_in(Activation, minifw.core.activations)


def make(name):
    """The built-in activation registered as ``name``, with its default hyperparameters."""
    return Activation.registry.get(name)()


def test_the_built_in_activations_are_all_here():
    assert set(BUILT_IN) >= BUILT_IN_ACTIVATIONS


# --- Activations: finite, silent and in range on [-1e4, 1e4], both dtypes ------------------


def saturation_points(dtype):
    """Where each activation's arithmetic changes regime in ``dtype``, both signs.

    The clamp minifw puts on exp's argument (708 in float64, 87 in float32), where e^x
    itself overflows (709.8, 88.7) and underflows to 0 (745.1, 103.9), where sigmoid
    rounds to 1 (36.8, 16.7), tanh to 1 (19.1, 9.0), ELU to -α (37, 17), and SiLU's
    minimum (-1.278); each with a neighbour on either side.
    """
    info = np.finfo(dtype)
    clamp = math.floor(-math.log(float(info.smallest_normal)))
    overflow = math.log(float(info.max))
    underflow = -math.log(float(info.smallest_subnormal))
    rounds_to_one = -math.log(float(info.eps) / 2)  # sigmoid's 1 - y falls under half an ulp
    tanh_one = math.atanh(1 - float(info.eps) / 2)
    points = [clamp, overflow, underflow, rounds_to_one, tanh_one, 1.2784645427610738]
    near = [p * f for p in points for f in (1 - 1e-6, 1.0, 1 + 1e-6)]
    return [*near, *(-p for p in near)]


def dense_grid(dtype):
    """[-1e4, 1e4] densely: even steps, sizes from the smallest normal float up, both signs,
    and the points the brief names (±1e4, ±710, ±89, 0, ±tiny) and the saturation points."""
    tiny = float(np.finfo(dtype).smallest_normal)
    sizes = np.geomspace(tiny, 1e4, 800)
    named = [1e4, -1e4, 710.0, -710.0, 89.0, -89.0, 0.0, tiny, -tiny]
    values = np.concatenate(
        [np.linspace(-1e4, 1e4, 4001), sizes, -sizes, named, saturation_points(dtype)]
    )
    grid = np.unique(values.astype(dtype))
    assert np.isfinite(grid).all() and grid.min() == -1e4 and grid.max() == 1e4
    return grid


def check_silent_finite_in_range(activation, x):
    """forward and derivative of ``x`` under errstate(all="raise"): finite, dtype kept, in range."""
    with np.errstate(all="raise"):
        y = activation.forward(x)
        dy = activation.derivative(x, y)
    assert y.dtype == dy.dtype == x.dtype
    assert y.shape == dy.shape == x.shape
    assert np.isfinite(y).all(), x[~np.isfinite(y)]
    assert np.isfinite(dy).all(), x[~np.isfinite(dy)]
    low, high = activation.output_range
    outside = (y < low) | (y > high)
    assert not outside.any(), f"outside {activation.output_range}: x={x[outside]}, y={y[outside]}"
    return y, dy


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("name", BUILT_IN)
def test_activation_is_finite_silent_and_in_range_on_a_dense_grid(name, dtype):
    check_silent_finite_in_range(make(name), dense_grid(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("name", BUILT_IN)
@settings(max_examples=examples(40), deadline=None)
@given(data=st.data())
def test_activation_is_finite_silent_and_in_range_for_any_input_up_to_1e4(name, dtype, data):
    # float32 subnormals have a test of their own, below.
    elements = st.floats(
        -1e4,
        1e4,
        width=np.dtype(dtype).itemsize * 8,
        allow_subnormal=dtype is np.float64,
    )
    x = data.draw(
        hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), elements=elements)
    )
    check_silent_finite_in_range(make(name), x)


# numpy's float32 exp reports an underflow for a subnormal input (its SIMD kernel does on
# x86-64, although e^x rounds to 1 there); Sigmoid, Softplus and SiLU's derivative take exp
# of their input, and minifw.core.numerics.tolerate_underflow keeps them silent.
@pytest.mark.parametrize("name", BUILT_IN)
def test_float32_subnormal_inputs_are_silent_too(name):
    info = np.finfo(np.float32)
    sizes = [float(info.smallest_subnormal), 1e-45, 1e-40, 5e-39, float(info.smallest_normal) / 2]
    x = np.array([*sizes, *(-s for s in sizes)], dtype=np.float32)
    activation = make(name)
    y, _ = check_silent_finite_in_range(activation, x)
    # The float64 answer, to within the smallest normal float32 (minifw's underflow floors).
    np.testing.assert_allclose(y, activation.forward(x.astype(np.float64)), rtol=1e-6, atol=1e-37)


# Where the slope jumps: a central difference across them averages two slopes.
KINKS = {"relu": [0.0], "leaky_relu": [0.0]}


def relative_step(x):
    """A central-difference step of a millionth of |x| (at least 1e-6): small enough for the
    curvature, large enough that x ± h differ from x at |x| = 1e4."""
    return 1e-6 * np.maximum(1.0, np.abs(x))


@pytest.mark.parametrize("name", BUILT_IN)
def test_derivative_matches_a_central_difference_across_the_range(name):
    activation = make(name)
    x = dense_grid(np.float64)
    h = relative_step(x)
    smooth = np.ones(x.shape, dtype=bool)
    for kink in KINKS.get(name, []):
        smooth &= np.abs(x - kink) > 2 * h
    x, h = x[smooth], h[smooth]
    up, down = x + h, x - h
    with np.errstate(all="raise"):  # minifw's part: silent
        y_up, y_down = activation.forward(up), activation.forward(down)
        analytic = activation.derivative(x, activation.forward(x))
    with np.errstate(under="ignore"):  # the test's part: e^-708 / 1e-3 may underflow
        numeric = (y_up - y_down) / (up - down)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", BUILT_IN)
def test_float32_derivative_matches_float64(name):
    # float32 keeps its own dtype all the way through; its derivative is the float64 one to
    # float32 precision (a few float32 steps of y, where the slope is 1 - y or y(1 - s)).
    activation = make(name)
    x32 = dense_grid(np.float32)
    x64 = x32.astype(np.float64)
    with np.errstate(all="raise"):
        dy32 = activation.derivative(x32, activation.forward(x32))
    dy64 = activation.derivative(x64, activation.forward(x64))
    np.testing.assert_allclose(dy32, dy64, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("name", BUILT_IN)
def test_at_and_beyond_saturation_the_slope_is_zero_or_one_and_the_output_settles(name, dtype):
    # Far out, every built-in activation is flat (slope 0, at a bound) or the identity
    # (slope 1): nothing in the clamps lets a slope jump, go negative or grow.
    activation = make(name)
    x = np.array([-1e4, -800.0, -120.0, -90.0, 90.0, 120.0, 800.0, 1e4], dtype=dtype)
    _, dy = check_silent_finite_in_range(activation, x)
    # (e^-90 and the like count as 0: sigmoid's slope at -90 is 8e-40.)
    allowed = np.array([0.0, 1.0, getattr(activation, "alpha", 0.0)], dtype=dtype)
    nearest = np.abs(dy[:, None] - allowed[None, :]).min(axis=1)
    assert np.all(nearest <= 1e-30), dy


# --- Losses: finite and silent for predictions and targets in [-1e4, 1e4] ------------------

# The built-in losses and the predictions and targets each takes: anything in [-1e4, 1e4],
# except binary cross-entropy's targets, which are probabilities.
LOSSES = {
    "mse": (MSE(), (-1e4, 1e4)),
    "mae": (MAE(), (-1e4, 1e4)),
    "huber": (Huber(), (-1e4, 1e4)),
    "huber_0.3": (Huber(delta=0.3), (-1e4, 1e4)),
    "binary_cross_entropy": (BinaryCrossEntropy(), (0.0, 1.0)),
}

# Predictions at every size that matters: the ends, exp-like limits, 0, 1, just outside
# [0, 1], and small sizes down to (but not below) 1e-100; tiny ones are tested apart.
PREDICTIONS = np.array(
    [
        -1e4,
        -710.0,
        -89.0,
        -1.0,
        -0.5,
        -1e-7,
        -1e-100,
        0.0,
        1e-100,
        1e-9,
        1e-7,
        0.3,
        0.5,
        1 - 1e-9,
        1.0,
        1 + 1e-9,
        2.0,
        89.0,
        710.0,
        1e4,
    ]
)


def check_loss(loss, pred, target):
    """value_and_gradient, value and gradient under errstate(all="raise"): finite, agreeing."""
    with np.errstate(all="raise"):
        value, gradient = loss.value_and_gradient(pred, target)
        alone_value, alone_gradient = loss.value(pred, target), loss.gradient(pred, target)
    assert np.isfinite(value).all() and np.all(np.asarray(value) >= 0)
    assert gradient.shape == pred.shape and np.isfinite(gradient).all()
    np.testing.assert_array_equal(alone_value, value)
    np.testing.assert_array_equal(alone_gradient, gradient)


@pytest.mark.parametrize("case", LOSSES)
def test_loss_is_finite_and_silent_on_every_pair_of_a_dense_grid(case):
    loss, (low, high) = LOSSES[case]
    grid = PREDICTIONS
    targets = grid[(grid >= low) & (grid <= high)]
    pred, target = (a.reshape(-1, 1) for a in np.meshgrid(PREDICTIONS, targets))
    check_loss(loss, pred, target)
    # The same entries as a (samples, 3) batch, whose mean divides by a size that is not a
    # power of two (every division then rounds), and as a stack of two networks.
    rows = pred.size // 3 * 3
    check_loss(loss, pred[:rows].reshape(-1, 3), target[:rows].reshape(-1, 3))
    check_loss(loss, np.stack([pred, pred[::-1]]), target)


@st.composite
def loss_cases(draw):
    """(case, pred, target): one loss and arrays of one shape, entries in its ranges, each
    entry 0 or at least 1e-100 in size (sizes below that have their own test)."""
    case = draw(st.sampled_from(list(LOSSES)))
    _, (low, high) = LOSSES[case]
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=2, max_side=5))

    def values(lo, hi):
        size = st.floats(lo, hi).filter(lambda v: v == 0 or abs(v) >= 1e-100)
        return hnp.arrays(np.float64, shape, elements=size)

    return case, draw(values(-1e4, 1e4)), draw(values(low, high))


@settings(max_examples=examples(300), deadline=None)
@given(loss_case=loss_cases())
def test_loss_is_finite_and_silent_for_any_pair_up_to_1e4(loss_case):
    case, pred, target = loss_case
    check_loss(LOSSES[case][0], pred, target)


TINY = [5e-324, 1e-310, 2.2e-308, 1e-300, 1e-200, 1e-160]


# Each of these underflows somewhere unless minifw.core.numerics.tolerate_underflow catches it:
# MSE's d * (2 / N) for a subnormal d, Huber's ½d² (np.where evaluates both branches) for
# |d| < 1.5e-154, binary cross-entropy's t·log p for a subnormal t.
@pytest.mark.parametrize("case", ["mse", "mae", "huber", "binary_cross_entropy"])
def test_loss_is_silent_for_tiny_predictions_and_targets(case):
    # Sizes from the smallest subnormal float up to 1e-160: an entry, a difference, or a
    # product of them near the bottom of the float range must round quietly to 0.
    loss, (low, high) = LOSSES[case]
    tiny = np.array(TINY)
    pred = np.concatenate([tiny, -tiny, np.zeros(tiny.size), np.full(tiny.size, 0.5)])
    target = np.concatenate([np.zeros(2 * tiny.size), tiny, tiny])
    assert low <= target.min() and target.max() <= high
    check_loss(loss, pred.reshape(-1, 3), target.reshape(-1, 3))


# MSE's stacked value (rows @ rows.mT) and Huber's ½d² underflow for |d| < 1.5e-154.
@pytest.mark.parametrize("case", ["mse", "mae", "huber"])
def test_stacked_loss_is_silent_for_tiny_differences(case):
    loss, _ = LOSSES[case]
    d = np.array(TINY).reshape(-1, 3)
    check_loss(loss, np.stack([d, -d]), np.zeros_like(d))


# --- The output activation's target range -----------------------------------------------


def asymptotic_bounds(activation):
    """The finite ends of ``output_range`` that the activation approaches only as |x| -> inf:
    taken at no x in [-10, 10], and within 1e-12 of the output at x = -1e4 or 1e4."""
    moderate = activation.forward(np.linspace(-10.0, 10.0, 20001))
    far = activation.forward(np.array([-1e4, 1e4]))
    return {
        bound
        for bound in activation.output_range
        if math.isfinite(bound)
        and not np.any(moderate == bound)
        and np.any(np.abs(far - bound) <= 1e-12)
    }


def test_which_bounds_are_only_reached_at_infinity():
    found = {name: asymptotic_bounds(make(name)) for name in BUILT_IN}
    assert {name: bounds for name, bounds in found.items() if bounds} == {
        "sigmoid": {0.0, 1.0},
        "tanh": {-1.0, 1.0},
        "softplus": {0.0},
        "elu": {-1.0},
    }
    # ReLU's 0 is taken by every x <= 0; SiLU's low end is its minimum, at x = -1.278.


def says_so(name, caught):
    """Whether minifw says that targets may sit on a bound ``name`` reaches only at infinity:
    a warning when the run is built, or the normaliser's (or experiment's) docstring."""
    words = ("infinity", "asymptot", "never reach", "only reach")
    texts = [str(w.message) for w in caught]
    texts += [experiment_module._normaliser.__doc__ or "", presets.experiment.__doc__ or ""]
    return any(word in text.lower() for text in texts for word in words)


ASYMPTOTIC = {name for name in BUILT_IN if asymptotic_bounds(make(name))}


@pytest.mark.parametrize("target", ["sin", "sinc"])
@pytest.mark.parametrize("name", BUILT_IN)
def test_normalised_targets_keep_off_bounds_reached_only_at_infinity(name, target):
    # sin has a known range, [-1, 1], which is mapped; sinc has none, so its sampled
    # extremes are. Either way no target should be one the network can only approach.
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = presets.experiment(target=target, activation="tanh", output_activation=name)
    normaliser = run.network.normaliser
    bounds = asymptotic_bounds(make(name))
    if normaliser is None:  # unbounded on both sides: targets are left as they are
        assert not bounds
        return
    _, y = run.source.arrays()
    mapped = normaliser.forward(y)
    ends = np.concatenate([np.ravel(end) for end in normaliser.target])
    low, high = float(ends.min()), float(ends.max())
    on_a_bound = [
        b for b in bounds if low <= b <= high and (b in (low, high) or np.any(mapped == b))
    ]
    assert not on_a_bound or says_so(name, caught), (
        f"{name}: targets mapped onto [{low}, {high}], which ends on {sorted(on_a_bound)}; "
        f"training targets on them: {int(np.isin(mapped, on_a_bound).sum())} of {mapped.size}"
    )


# --- Divergence: what a run that blows up leaves behind -----------------------------------

EPOCHS = 50


class LastFinite:
    """Records, as a LambdaCallback, the weights after the latest batch whose loss and
    weights were finite, and after the latest epoch whose loss and weights were finite.
    List it before any guard of your own, so that it sees the weights before a restore."""

    def __init__(self):
        self.batch = self.epoch = None
        self.epochs = 0
        self.callback = LambdaCallback(
            on_batch_end=self.on_batch_end, on_epoch_end=self.on_epoch_end
        )

    def on_batch_end(self, trainer, batch, logs):
        weights = trainer.network.packed.value
        if np.isfinite(logs["loss"]).all() and np.isfinite(weights).all():
            self.batch = weights.copy()

    def on_epoch_end(self, trainer, epoch, logs):
        weights = trainer.network.packed.value
        if np.isfinite(logs["loss"]).all() and np.isfinite(weights).all():
            self.epoch, self.epochs = weights.copy(), epoch + 1


def diverging_run(*callbacks, dtype="float64", seed=0):
    """The brief's run: tanh hidden units, an identity output, SGD at lr = 10 on the MSE.
    Its loss grows ~1e32-fold an epoch and overflows in epoch 10 (float64)."""
    return presets.experiment(
        activation="tanh",
        output_activation="identity",
        lr=10,
        dtype=dtype,
        seed=seed,
        callbacks=callbacks,
    )


def check_diagnosis(diagnosis, step):
    text = str(diagnosis)
    where = f"epoch {diagnosis.epoch}" + ("" if step == "epoch" else f", batch {diagnosis.batch}")
    for expected in [
        f"training diverged at {where} (learning rate 10)",
        "layer 0 (Dense 1->5, Tanh)",
        "layer 1 (Dense 5->1, Identity)",
        f"the weights are back to those after the previous {step}",
        "lower the learning rate (now 10) by 10x, to 1",
    ]:
        assert expected in text, text


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("raise_error", [False, True])
def test_terminate_on_nan_stops_a_preset_run_with_its_last_finite_weights(raise_error, dtype):
    record, guard = LastFinite(), TerminateOnNaN(raise_error=raise_error)
    run = diverging_run(record.callback, guard, dtype=dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        if raise_error:
            with pytest.raises(TrainingDiverged) as info:
                run.fit(EPOCHS)
            assert info.value.diagnosis is guard.diagnosis
        else:
            result = run.fit(EPOCHS)
            assert result.epochs < EPOCHS and run.trainer.stop_training
    diagnosis = guard.diagnosis
    assert diagnosis is not None and diagnosis.lr == 10
    assert 0 < diagnosis.epoch < EPOCHS  # it trained a while, then stopped
    weights = run.network.packed.value
    assert weights.dtype == np.dtype(dtype) and np.isfinite(weights).all()
    np.testing.assert_array_equal(weights, record.batch)
    if diagnosis.batch == 0:  # failed on an epoch's first batch: the last finite epoch's weights
        assert record.epochs == diagnosis.epoch
        np.testing.assert_array_equal(weights, record.epoch)
    check_diagnosis(diagnosis, "batch")


def test_the_preset_run_diverges_at_epoch_10_batch_0_in_float64():
    # Pins the run the tests here rely on: its failure lands on an epoch's first batch, so
    # the guard's last finite batch is also the end of the last finite epoch.
    guard = TerminateOnNaN()
    with np.errstate(over="ignore", invalid="ignore"):
        diverging_run(guard).fit(EPOCHS)
    assert (guard.diagnosis.epoch, guard.diagnosis.batch) == (10, 0)
    assert not guard.diagnosis.weights_finite


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_without_a_guard_of_its_own_divergence_raises_with_the_last_finite_epochs_weights(dtype):
    # "Divergence never leaves NaN weights behind silently: training stops or raises with the
    # diagnosis, and the network holds its last finite weights." No TerminateOnNaN is given.
    record = LastFinite()
    run = diverging_run(record.callback, dtype=dtype)
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(TrainingDiverged) as info:
        run.fit(EPOCHS)
    weights = run.network.packed.value
    assert np.isfinite(weights).all(), f"{np.isnan(weights).sum()} of {weights.size} weights NaN"
    np.testing.assert_array_equal(weights, record.epoch)
    diagnosis = info.value.diagnosis
    assert diagnosis.epoch == record.epochs and diagnosis.batch is None
    check_diagnosis(diagnosis, "epoch")
    # The diverged epoch is not counted: the history agrees with the weights the network holds
    # (its non-finite loss is in the diagnosis).
    assert len(run.trainer.run_history["loss"]) == record.epochs == run.trainer.epochs_done
    assert np.isfinite(run.trainer.run_history["loss"]).all()
    assert not math.isfinite(diagnosis.loss)


def test_stop_on_divergence_false_is_the_one_way_to_train_on_through_nan():
    run = diverging_run()
    trainer = Trainer(
        run.network,
        "mse",
        run.trainer.optimizer,
        batch_size=4,
        shuffle=False,
        stop_on_divergence=False,
    )
    assert not any(isinstance(c, TerminateOnNaN) for c in trainer.callbacks)
    with np.errstate(over="ignore", invalid="ignore"):
        result = trainer.fit(run.source, 20)
    assert result.epochs == 20 and np.isnan(run.network.packed.value).all()


def diverging_stack():
    """Two of the diverging runs' networks stacked, with a trainer as a user would write it."""
    runs = [diverging_run(seed=seed) for seed in (0, 1)]
    network = minifw.stack([run.network for run in runs])
    return network, runs[0].source


def test_a_stack_goes_on_when_one_of_its_networks_diverges_and_its_losses_say_which():
    """By design a stack has no guard: its networks are independent, and one that diverges
    must not stop the others (a sweep records it as a diverged row)."""
    runs = [diverging_run(seed=seed) for seed in (0, 1)]
    network = minifw.stack([run.network for run in runs])
    rates = np.array([[10.0], [0.01]])  # the first diverges, the second does not
    trainer = Trainer(network, "mse", SGD(lr=rates), batch_size=4, shuffle=False)
    with np.errstate(over="ignore", invalid="ignore"):
        result = trainer.fit(runs[0].source, 30)
    wild, calm = network.packed.value
    assert not np.isfinite(result.loss[-1][0]) and np.isfinite(result.loss[-1][1])
    assert not np.isfinite(wild).all() and np.isfinite(calm).all()


@pytest.mark.parametrize("check", ["batch", "epoch"])
def test_terminate_on_nan_on_a_stack_guards_it_or_refuses_it_with_config_error(check):
    network, source = diverging_stack()
    guard = TerminateOnNaN(check=check)
    try:
        trainer = Trainer(
            network, "mse", SGD(lr=10), batch_size=4, shuffle=False, callbacks=[guard]
        )
        with np.errstate(over="ignore", invalid="ignore"):
            trainer.fit(source, 30)
    except ConfigError as error:  # refused: fine, if it says what to do instead
        assert "stack" in str(error)
        return
    except TrainingDiverged:
        pass
    assert guard.diagnosis is not None
    assert np.isfinite(network.packed.value).all()


# --- After divergence: the optimizer's state goes back with the weights ------------------

OPTIMIZERS = ["sgd:momentum=0.9", "adam", "rmsprop"]


def optimizer_state(trainer):
    """The optimizer's update count and its state for the packed weights, copied."""
    exported = trainer.optimizer.export_state({"packed": trainer.network.packed})
    return exported["iterations"], exported["states"].get("packed", {})


def assert_same_state(a, b):
    (count_a, state_a), (count_b, state_b) = a, b
    assert count_a == count_b and state_a.keys() == state_b.keys()
    for key, value in state_a.items():
        np.testing.assert_array_equal(value, state_b[key], err_msg=key)


def blown_up(optimizer, dtype, *callbacks):
    """A run trained 5 epochs at a sound rate, then at one so large (1e300, or 1e30 in
    float32) that it diverges within an epoch, leaving its optimizer state non-finite unless
    it is put back; the run and its TrainingDiverged."""
    run = presets.experiment(
        activation="tanh", output_activation="identity", optimizer=optimizer, lr=0.01,
        dtype=dtype, callbacks=list(callbacks),
    )  # fmt: skip
    run.fit(5)
    run.trainer.optimizer.lr = 1e300 if dtype == "float64" else 1e30
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged) as info:
        run.fit(5)
    return run, info.value


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_a_diverged_run_gets_back_the_optimizer_state_of_its_last_finite_epoch(optimizer, dtype):
    kept = []  # after each epoch that ended finite (listed after the guard: it never sees others)
    record = LambdaCallback(
        on_epoch_end=lambda trainer, e, logs: kept.append(optimizer_state(trainer))
    )
    run, _ = blown_up(optimizer, dtype, record)
    iterations, state = optimizer_state(run.trainer)
    assert all(np.isfinite(value).all() for value in state.values()), state
    assert state and iterations == 5 * 8  # five epochs of 8 batches, none of the diverged one
    assert_same_state((iterations, state), kept[-1])
    assert run.trainer.epochs_done == 5 == len(run.trainer.run_history["loss"])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_after_divergence_training_on_with_a_smaller_rate_works(optimizer, dtype):
    # errors.md's advice. With the non-finite moments left in place it diverged at once.
    run, error = blown_up(optimizer, dtype)
    assert "lower the learning rate" in str(error)
    run.trainer.optimizer.lr = 0.01
    with np.errstate(over="raise", invalid="raise"):
        result = run.fit(5)
    assert np.isfinite(result.loss).all() and run.trainer.epochs_done == 10
    assert result.loss[-1] < run.trainer.run_history["loss"][0]  # it went on learning


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_a_batch_wise_guard_puts_back_the_state_after_the_last_finite_batch(optimizer):
    states = []  # after every batch, the diverged one too (listed before the guard)
    record = LambdaCallback(
        on_batch_end=lambda trainer, b, logs: states.append(optimizer_state(trainer))
    )
    guard = TerminateOnNaN(raise_error=True)
    run, error = blown_up(optimizer, "float64", record, guard)
    assert error.diagnosis is guard.diagnosis and guard.diagnosis.batch is not None
    assert_same_state(optimizer_state(run.trainer), states[-2])
    assert run.trainer.epochs_done == 5  # the cut-short epoch is not counted


def test_a_guard_that_stops_without_raising_leaves_histories_that_agree_with_the_weights():
    guard, later = TerminateOnNaN(), minifw.LossHistory()  # a history listed after the guard
    run = presets.experiment(
        activation="tanh", output_activation="identity", lr=0.01, callbacks=[guard, later]
    )
    run.fit(3)
    run.trainer.optimizer.lr = 1e300
    with np.errstate(all="ignore"):
        result = run.fit(5)
    assert guard.diagnosis is not None and result.epochs == 0 == len(later.loss)
    assert run.trainer.epochs_done == 3 and np.isfinite(run.trainer.run_history["loss"]).all()


# --- Underflow: never an error, neither in a function nor in training ----------------------


def test_tolerate_underflow_retries_an_underflow_quietly_and_lets_other_errors_through():
    calls = []

    @tolerate_underflow
    def tiny_product(x):
        calls.append(x)
        return x * x

    with np.errstate(all="raise"):
        assert tiny_product(np.array([1e-200, 3.0])).tolist() == [0.0, 9.0]
        assert len(calls) == 2  # the first call raised, the second ran with underflow ignored
        with pytest.raises(FloatingPointError, match="overflow"):
            tiny_product(np.array([1e200]))
    assert len(calls) == 3  # an overflow is not retried
    # Without errstate(under="raise") there is nothing to catch: one call.
    assert tiny_product(np.array([1e-200])).tolist() == [0.0] and len(calls) == 4


def dead_input_run(optimizer, errors):
    """A 2-3-1 network trained one epoch, then 300 epochs (1,200 steps) on data whose second
    input is always 0, under np.errstate(all=errors): from then on that input's weights get
    zero gradients, and their running averages halve every step (rho, betas = 0.5) until they
    underflow to 0. Returns the network and the optimizer's state after each of the two fits."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 2))
    y = np.sin(x[:, :1])
    network = Network([Dense(2, 3, "tanh"), Dense(3, 1, "identity")], seed=0)
    # The numpy engine: errstate is what is tested, and the compiled engine ignores it.
    trainer = Trainer(network, MSE(), optimizer, batch_size=4, shuffle=False, engine="numpy")

    def state():
        exported = trainer.optimizer.export_state({"p": network.packed})["states"]["p"]
        return np.concatenate([np.ravel(v) for v in exported.values() if np.ndim(v) > 0])

    trainer.fit(ArraySource(x, y), 1)
    before = state()
    with np.errstate(all=errors):
        trainer.fit(ArraySource(x * [1.0, 0.0], y), 300)
    return network, before, state()


@pytest.mark.parametrize(
    "make_optimizer",
    [lambda: RMSProp(lr=0.01, rho=0.5), lambda: Adam(lr=0.01, beta1=0.5, beta2=0.5)],
    ids=["rmsprop", "adam"],
)
def test_training_under_errstate_raise_lets_a_dead_weights_running_averages_underflow(
    make_optimizer,
):
    # errstate(all="raise") is how people catch NaN early; before Trainer.fit ignored
    # underflow, every RMSProp or Adam run with a unit that died stopped with
    # "underflow encountered in multiply" a few thousand steps later.
    network, before, after = dead_input_run(make_optimizer(), "raise")
    assert np.all(before != 0)
    assert np.any(after == 0)  # nonzero to 0 by halving: an inexact result below 5e-324
    # Ignoring the underflow changed no number: the same run without errstate, bit for bit.
    quiet_network, _, quiet_after = dead_input_run(make_optimizer(), "ignore")
    np.testing.assert_array_equal(network.packed.value, quiet_network.packed.value)
    np.testing.assert_array_equal(after, quiet_after)


@pytest.mark.parametrize("check", ["epoch", "batch"])
def test_under_errstate_raise_numpys_overflow_becomes_training_diverged_with_the_diagnosis(check):
    # numpy stops the diverging batch itself, from deep inside a layer; the guard (the
    # default one, or one of the user's own that would only stop) turns that into the
    # diagnosis and the last finite weights, with numpy's error as the cause.
    record = LastFinite()
    guard = [] if check == "epoch" else [TerminateOnNaN(check="batch")]
    run = diverging_run(record.callback, *guard)
    with np.errstate(all="raise"), pytest.raises(TrainingDiverged) as info:
        run.fit(EPOCHS)
    cause = info.value.__cause__
    assert isinstance(cause, FloatingPointError) and "overflow" in str(cause)
    diagnosis = info.value.diagnosis
    check_diagnosis(diagnosis, check)
    # The epoch guard's diagnosis names the batch in numpy's part (epoch 10's first, as
    # with NaN above); the batch guard's says "batch 0" where it always does.
    where = ", in batch 0)" if check == "epoch" else ")"
    assert f"numpy raised FloatingPointError ({cause}{where}, as np.errstate asked" in str(
        diagnosis
    )
    assert diagnosis.numpy_error is not None and math.isnan(diagnosis.loss)
    weights = run.network.packed.value
    np.testing.assert_array_equal(weights, record.epoch if check == "epoch" else record.batch)
    assert run.trainer.epochs_done == record.epochs == diagnosis.epoch


def test_under_errstate_raise_without_a_guard_numpys_error_passes_through():
    run = diverging_run()
    trainer = Trainer(
        run.network, "mse", run.trainer.optimizer, batch_size=4, shuffle=False,
        stop_on_divergence=False,
    )  # fmt: skip
    with np.errstate(all="raise"), pytest.raises(FloatingPointError, match="overflow"):
        trainer.fit(run.source, EPOCHS)


def test_predict_layer_outputs_and_gradcheck_ignore_underflow_too():
    # A subnormal input times a weight underflows in the first matmul; -2000 saturates the
    # sigmoids, whose tiny slopes underflow in backpropagation.
    network = Network([Dense(1, 3, "sigmoid"), Dense(3, 1, "sigmoid")], seed=0)
    x = np.array([[-2000.0], [1e-310], [0.5]])
    y = np.array([[0.2], [0.4], [0.6]])
    expected = network.predict(x), network.layer_outputs(x)
    with np.errstate(all="raise"):
        with pytest.raises(FloatingPointError, match="underflow"):
            network.forward(x)  # the unchecked layer-level call: the caller's errstate holds
        answers = network.predict(x), network.layer_outputs(x)
        report = minifw.gradcheck(network, MSE(), x, y)
        assert np.geterr()["under"] == "raise"  # and is back once they return
    np.testing.assert_array_equal(answers[0], expected[0])
    for got, want in zip(answers[1], expected[1], strict=True):
        np.testing.assert_array_equal(got, want)
    assert report.ok, report
