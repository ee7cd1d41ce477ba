"""Bad input and bad settings are refused up front, and a refused fit changes nothing."""

import math

import attrs
import numpy as np
import pytest

from minifw import (
    SGD,
    ArraySource,
    Callback,
    ConfigError,
    DataError,
    DataSource,
    Dense,
    LedgerError,
    ModelFileError,
    Network,
    Trainer,
)
from minifw.core.registry import unknown_parameters
from minifw.core.validation import checked, entry, is_a, is_finite, kinds_text

HOOKS = ["on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_train_end"]


class Recorder(Callback):
    """Remembers the name of every hook the trainer calls."""

    def __init__(self):
        self.calls = []

    def on_train_begin(self, trainer):
        self.calls.append("on_train_begin")

    def on_epoch_begin(self, trainer, epoch):
        self.calls.append("on_epoch_begin")

    def on_batch_end(self, trainer, batch, logs):
        self.calls.append("on_batch_end")

    def on_epoch_end(self, trainer, epoch, logs):
        self.calls.append("on_epoch_end")

    def on_train_end(self, trainer, logs):
        self.calls.append("on_train_end")


@attrs.frozen
class RawSource(DataSource):
    """Hands over x and y exactly as given, unchecked, so that ``fit`` has to check them."""

    x: np.ndarray
    y: np.ndarray

    def arrays(self):
        return self.x, self.y


def samples(n=8):
    x = np.linspace(-1, 1, n).reshape(-1, 1)
    return x, np.sin(x)


def with_value(array, value, row=3):
    array = array.copy()
    array[row, 0] = value
    return array


@attrs.define
class Setup:
    """A small network that has already trained for two epochs, and what it trained on."""

    network: Network
    trainer: Trainer
    recorder: Recorder
    source: DataSource

    @classmethod
    def trained(cls):
        network = Network([Dense(1, 3, "tanh"), Dense(3, 1)], seed=0)
        recorder = Recorder()
        trainer = Trainer(network, "mse", SGD(lr=0.1), batch_size=4, callbacks=[recorder])
        source = ArraySource(*samples())
        trainer.fit(source, 2)
        assert len(trainer.history.loss) == 2
        assert set(recorder.calls) == set(HOOKS)  # the recorder does see every hook
        recorder.calls.clear()
        return cls(network, trainer, recorder, source)

    def weight_bytes(self):
        return [p.value.tobytes() for p in self.network.parameters()]

    def assert_fit_refused(self, source, epochs, error, match):
        """fit(source, epochs) raises ``error`` and leaves weights, history and callbacks alone."""
        weights, loss = self.weight_bytes(), list(self.trainer.history.loss)
        with pytest.raises(error, match=match):
            self.trainer.fit(source, epochs)
        assert self.weight_bytes() == weights
        assert self.trainer.history.loss == loss
        assert self.recorder.calls == []
        assert self.trainer.source is self.source  # still the last source that trained


@pytest.fixture
def setup():
    return Setup.trained()


# --- fit refuses bad data ----------------------------------------------------------------

x_ok, y_ok = samples()

BAD_SOURCES = {
    "x with 2 features": (ArraySource(np.hstack([x_ok, x_ok]), y_ok), r"x has 2 inputs"),
    "y with 2 outputs": (ArraySource(x_ok, np.hstack([y_ok, y_ok])), r"y has 2 outputs"),
    "1-D x": (RawSource(x_ok.ravel(), y_ok), r"x must be 2-D.*x\.reshape\(-1, 1\)"),
    "1-D y": (RawSource(x_ok, y_ok.ravel()), r"y must be 2-D.*y\.reshape\(-1, 1\)"),
    "NaN in x": (RawSource(with_value(x_ok, np.nan), y_ok), "x must be finite; found nan at row 3"),
    "inf in x": (RawSource(with_value(x_ok, np.inf), y_ok), "x must be finite; found inf at row 3"),
    "NaN in y": (RawSource(x_ok, with_value(y_ok, np.nan)), "y must be finite; found nan at row 3"),
    "-inf in y": (RawSource(x_ok, with_value(y_ok, -np.inf)), "y must be finite; found -inf"),
    "fewer y than x": (RawSource(x_ok, y_ok[:-1]), "x has 8 samples but y has 7"),
    "fewer x than y": (RawSource(x_ok[:-2], y_ok), "x has 6 samples but y has 8"),
}


@pytest.mark.parametrize("case", BAD_SOURCES)
def test_fit_refuses_bad_data_and_changes_nothing(setup, case):
    source, message = BAD_SOURCES[case]
    setup.assert_fit_refused(source, 1, DataError, message)


@pytest.mark.parametrize("epochs", [-1, 1.5, "3", None, True])
def test_fit_refuses_a_bad_epoch_count_and_changes_nothing(setup, epochs):
    setup.assert_fit_refused(setup.source, epochs, ConfigError, "epochs must be a whole number")


def test_a_refused_fit_leaves_the_trainer_usable(setup):
    setup.assert_fit_refused(RawSource(x_ok, y_ok[:-1]), 3, DataError, "samples")
    weights = setup.weight_bytes()
    result = setup.trainer.fit(setup.source, 3)
    assert result.epochs == 3
    assert setup.weight_bytes() != weights
    assert setup.recorder.calls.count("on_epoch_end") == 3


# --- bad settings are refused where they are written -------------------------------------


@pytest.mark.parametrize("lr", [0, -1, math.nan, math.inf, "0.1"])
def test_sgd_refuses_a_bad_learning_rate(lr):
    with pytest.raises(ConfigError, match=r"SGD\.lr must be a finite number > 0"):
        SGD(lr=lr)


def test_sgd_refuses_a_bad_learning_rate_set_later():
    optimizer = SGD(lr=0.1)
    with pytest.raises(ConfigError, match=r"SGD\.lr must be a finite number > 0; got 0"):
        optimizer.lr = 0
    assert optimizer.lr == 0.1


@pytest.mark.parametrize("batch_size", [0, -4, 2.5])
def test_trainer_refuses_a_bad_batch_size(batch_size):
    network = Network([Dense(1, 3, "tanh"), Dense(3, 1)])
    with pytest.raises(ConfigError, match=r"Trainer\.batch_size must be a whole number >= 1"):
        Trainer(network, "mse", SGD(), batch_size=batch_size)


def test_dense_refuses_an_unknown_activation_and_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown activation 'mish'") as info:
        Dense(1, 3, "mish")
    for name in ["identity", "relu", "sigmoid", "tanh"]:
        assert name in str(info.value)


# --- predict refuses bad input ------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.zeros((4, 2)), r"x has 2 inputs per sample; expected 1"),
        (np.zeros(4), r"x\.reshape\(-1, 1\)"),
        (with_value(np.zeros((4, 1)), np.nan, row=2), "x must be finite; found nan at row 2"),
    ],
    ids=["2 features", "1-D", "NaN"],
)
def test_predict_refuses_bad_input(x, message):
    network = Network([Dense(1, 3, "tanh"), Dense(3, 1)])
    with pytest.raises(DataError, match=message):
        network.predict(x)


# Integers too large for a float ----------------------------------------------------------

HUGE = "1" + "0" * 400  # 1e400 written as a whole number: Python reads it as an int


# Values for the parameters some components cannot do without (a schedule's steps).
REQUIRED = {"step_size": 10, "decay_steps": 10, "rate": 0.5}


def numeric_parameters():
    """(family, spec) for every numeric parameter of every registered component, set to HUGE
    (and the component's required parameters, if any, to sound values)."""
    import inspect

    import minifw

    cases = []
    families = [minifw.Activation, minifw.Initializer, minifw.Loss, minifw.Optimizer]
    for family in [*families, minifw.Schedule]:
        for name in family.registry.names():
            signature = inspect.signature(family.registry.get(name)).parameters
            required = {k: REQUIRED[k] for k, p in signature.items() if p.default is p.empty}
            for key, parameter in signature.items():
                # Floats only: a count (StepDecay's step_size) may be any whole number.
                if type(parameter.default) is float or key in ("decay_steps", "rate"):
                    values = {**required, key: HUGE}
                    spec = ",".join(f"{k}={v}" for k, v in values.items())
                    cases.append((family, f"{name}:{spec}"))
    return cases


@pytest.mark.parametrize(
    ("family", "spec"),
    numeric_parameters(),
    ids=lambda v: v.replace(HUGE, "1e400-as-digits") if isinstance(v, str) else "",
)
def test_an_integer_too_large_for_a_float_in_a_spec_is_a_config_error(family, spec):
    # math.isfinite(10**400) raises OverflowError; the spec's reader must not let it through.
    with pytest.raises(ConfigError, match="too large for a float") as caught:
        family.resolve(spec)
    (huge,) = [item.split("=")[0] for item in spec.split(":")[1].split(",") if HUGE in item]
    assert f".{huge} must be a finite number" in str(caught.value)  # names the parameter
    assert HUGE not in str(caught.value)  # its size, not its 400 digits


def test_is_finite_answers_for_any_value_and_shown_writes_any_integer():
    from minifw.core.validation import is_finite, shown

    for value in [1, 1.5, -(10**300), 2**1023]:
        assert is_finite(value)
    for value in [10**400, -(10**400), math.inf, math.nan, True, "1", None, 1j]:
        assert not is_finite(value)
    assert shown(0.5) == "0.5"
    assert "about 10001 digits" in shown(10**10000)  # repr would refuse past 4300 digits
    assert shown(-(10**400)).startswith("a negative whole number of about 401 digits")


def test_a_normaliser_range_too_large_for_a_float_is_a_data_error():
    from minifw import Normaliser

    with pytest.raises(DataError, match="Normaliser source range must be finite"):
        Normaliser((0, 10**400), (0.0, 1.0))


# Sizes no memory holds -----------------------------------------------------------------------

GIB = 2**30


@pytest.fixture
def machine_of(monkeypatch):
    """Make this machine seem to have the given bytes of memory."""
    import minifw.core.validation

    def set_memory(size):
        monkeypatch.setattr(minifw.core.validation, "machine_memory", lambda: size)

    return set_memory


def test_machine_memory_is_the_page_size_times_the_pages():
    import os

    from minifw.core.validation import machine_memory

    assert machine_memory() == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") > GIB


def test_the_estimate_of_a_run_is_near_what_one_is_measured_to_take():
    from minifw.core.validation import memory_needed

    # The blog's 1-5-1 network on 10 million uniform points: 2.15 GB peak resident memory
    # measured (minifw train --samples 10000000 --sampling uniform --epochs 1 --no-plot).
    assert 1.8e9 < memory_needed((1, 5, 1), 10_000_000) < 2.4e9
    assert memory_needed((1, 5, 1), copies=100) == 100 * memory_needed((1, 5, 1))
    assert memory_needed((10**200, 1)) > 10**200  # exact: no size overflows


@pytest.mark.parametrize(
    ("make", "phrases"),
    [
        (lambda: Dense(10**6, 10**6), ["Dense layer of 1,000,000 x 1,000,000", "TiB"]),
        (lambda: Dense(1, 10**400), ["1 x ~10^400 weights", "2^1335 bytes"]),
        (lambda: Dense(3, 4, copies=10**13), ["stacked 10,000,000,000,000 times"]),
    ],
    ids=["a trillion weights", "10^400 units", "a stack of 10^13"],
)
def test_a_layer_no_memory_holds_is_refused_at_once(make, phrases):
    import time

    began = time.perf_counter()
    with pytest.raises(ConfigError, match=r"would need about .* of memory") as caught:
        make()
    assert time.perf_counter() - began < 0.5  # refused before numpy allocates anything
    for phrase in [*phrases, "this machine has", "use a smaller layer"]:
        assert phrase in str(caught.value)


def test_a_billion_unit_layer_is_refused_on_a_machine_of_16_gib(machine_of):
    machine_of(16 * GIB)
    with pytest.raises(ConfigError, match=r"would need about 119 GiB .* this machine has 16 GiB"):
        Dense(1, 10**9)
    Dense(1, 10**6)  # 75 MiB: fine


def test_a_network_of_layers_that_each_fit_but_not_together_is_refused(machine_of):
    machine_of(GIB)
    layers = [Dense(1, 3000), *(Dense(3000, 3000) for _ in range(4)), Dense(3000, 1)]
    with pytest.raises(ConfigError, match=r"network of layer sizes 1, 3,000, .* would need"):
        Network(layers)


def test_ten_million_uniform_points_are_refused_where_they_do_not_fit(machine_of):
    from minifw import FunctionSource, target_from

    machine_of(512 * 2**20)
    with pytest.raises(ConfigError, match=r"10,000,000 points .* 512 MiB in all; use fewer"):
        FunctionSource(target_from("sin"), n=10**7, sampling="uniform")
    FunctionSource(target_from("sin"), n=10**5, sampling="uniform").arrays()


@pytest.mark.parametrize("n", [10**12, 10**400, 10**5000], ids=["10^12", "10^400", "10^5000"])
def test_a_function_source_no_memory_holds_is_refused_at_once(n):
    from minifw import FunctionSource, target_from

    with pytest.raises(ConfigError, match="would need about"):
        FunctionSource(target_from("sin"), n=n, sampling="uniform")


@pytest.mark.parametrize("sampling", ["grid", "uniform"])
def test_a_count_past_4300_digits_is_refused_in_words_not_with_pythons_valueerror(sampling):
    # Python refuses to write out an int of more than 4300 digits: a message that did would
    # raise ValueError instead of the ConfigError it was writing.
    from minifw import FunctionSource, target_from

    for make in [
        lambda: FunctionSource(target_from("sin"), n=10**5000, sampling=sampling),
        lambda: Dense(-(10**5000), 1),
        lambda: Trainer(Network([Dense(1, 1)]), "mse", "sgd", batch_size=-(10**5000)),
    ]:
        with pytest.raises(ConfigError, match=r"~10\^5000|about 5001 digits"):
            make()


# --- One checker for plain data read from files (a model file, a ledger line, a TOML table) --

NULL = type(None)


def test_is_a_counts_a_bool_as_a_bool_only():
    assert is_a(3, int) and is_a(3, (int, NULL)) and is_a(2.5, (int, float))
    assert not is_a(True, int) and not is_a(False, (int, float)) and not is_a(np.True_, int)
    assert is_a(True, bool) and is_a(np.False_, (bool, NULL)) and is_a(True, (int, bool))
    assert not is_a(1, bool) and not is_a("1", int)


@pytest.mark.parametrize(
    ("kinds", "words"),
    [
        (str, "text"),
        ((int, NULL), "a whole number or null"),
        ((int, float, NULL), "a number or null"),  # a number covers the whole numbers
        (bool, "true or false"),
        ((dict, NULL), "a JSON object or null"),
        (list, "a list"),
    ],
)
def test_kinds_are_named_in_a_files_words(kinds, words):
    assert kinds_text(kinds) == words


def test_a_missing_key_is_named_with_the_file_and_what_was_expected():
    with pytest.raises(ModelFileError) as caught:
        entry(
            {"seed": 0},
            "layers",
            list,
            name="header 'network.layers'",
            where="cannot load m.npz",
            error=ModelFileError,
        )
    assert (
        str(caught.value)
        == "cannot load m.npz: header 'network.layers' is missing; expected a list"
    )
    with pytest.raises(LedgerError, match=r"^runs/ledger\.jsonl, line 2: time is missing"):
        entry(
            ["not", "a", "table"], "time", str, where="runs/ledger.jsonl, line 2", error=LedgerError
        )


def test_a_value_of_the_wrong_kind_says_what_was_found_and_expected():
    with pytest.raises(ConfigError) as caught:
        entry({"lr": "fast"}, "lr", (int, float), name="training.lr", where="run.toml")
    assert str(caught.value) == "run.toml: training.lr must be a number; got 'fast'"
    with pytest.raises(ConfigError, match=r"^run\.toml: lr must be a finite number; got 'x'$"):
        checked("x", float, name="lr", where="run.toml", expected="a finite number")


@pytest.mark.parametrize("flag", [True, False, np.True_])
def test_a_bool_given_for_a_whole_number_is_refused_by_name(flag):
    with pytest.raises(LedgerError) as caught:
        entry({"seed": flag}, "seed", (int, NULL), where="ledger.jsonl, line 7", error=LedgerError)
    message = str(caught.value)
    assert message.startswith("ledger.jsonl, line 7: seed must be a whole number or null; got ")
    assert message.endswith(repr(flag))


def test_a_flag_takes_a_bool_and_refuses_a_one():
    assert entry({"shuffle": False}, "shuffle", bool) is False
    with pytest.raises(ConfigError, match=r"^shuffle must be true or false; got 1$"):
        entry({"shuffle": 1}, "shuffle", bool)


def test_a_default_stands_in_for_a_missing_key_only():
    assert entry({}, "dtype", str, default="float64") == "float64"
    assert entry({"dtype": "float32"}, "dtype", str, default="float64") == "float32"
    with pytest.raises(ConfigError, match="dtype must be text; got 32"):
        entry({"dtype": 32}, "dtype", str, default="float64")


def test_a_test_refuses_a_value_of_the_right_kind_in_the_same_words():
    huge = 10**400  # JSON's whole numbers have no bound; no float holds this one
    with pytest.raises(ModelFileError) as caught:
        entry({"lr": huge}, "lr", (int, float), where="m.npz", error=ModelFileError, test=is_finite)
    assert str(caught.value) == (
        "m.npz: lr must be a number; got a whole number of about 401 digits, too large for a "
        "float (~1.8e308)"
    )


def test_a_long_value_is_shortened_in_the_message():
    with pytest.raises(ConfigError) as caught:
        entry({"history": list(range(10**5))}, "history", dict, where="run.npz")
    assert len(str(caught.value)) < 120 and "got [0, 1, 2, 3, 4, 5, ...]" in str(caught.value)


@pytest.mark.parametrize(
    ("unknown", "takes", "message"),
    [
        (["beta"], ["lr", "beta1", "beta2"],
         "optimizer 'adam': unknown parameter 'beta'; it takes: lr, beta1, beta2; "
         "did you mean 'beta1' or 'beta2'?"),
        (["a", "b"], ["lr"], "optimizer 'adam': unknown parameters 'a', 'b'; it takes: lr"),
        (["alpha"], [], "optimizer 'adam': unknown parameter 'alpha'; it takes: no parameters"),
    ],
)  # fmt: skip
def test_one_message_for_unknown_parameters(unknown, takes, message):
    assert unknown_parameters("optimizer 'adam'", unknown, takes) == message
