"""Schedules: values against Keras's formulas, never increasing, usable by every optimizer."""

import itertools
import math

import numpy as np
import pytest
from helpers import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from test_docstring_examples import example_class

from minifw import (
    SGD,
    Adam,
    ConfigError,
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    Optimizer,
    Parameter,
    RMSProp,
    Schedule,
    StepDecay,
)
from minifw.testing import check_component

# (schedule, t, expected lr_t for base lr 2), each worked out by hand from the formula.
VALUES = [
    # lr · γ^⌊t / step_size⌋
    (StepDecay(3), 0, 2.0),
    (StepDecay(3), 2, 2.0),
    (StepDecay(3), 3, 0.2),
    (StepDecay(3), 8, 0.02),
    (StepDecay(2, gamma=0.5), 5, 0.5),
    # lr · rate^(t / decay_steps)
    (ExponentialDecay(10, 0.5), 0, 2.0),
    (ExponentialDecay(10, 0.5), 5, 2.0 * math.sqrt(0.5)),
    (ExponentialDecay(10, 0.5), 10, 1.0),
    (ExponentialDecay(10, 0.5), 30, 0.25),
    # lr / (1 + rate · t / decay_steps)
    (InverseTimeDecay(10, 1.0), 0, 2.0),
    (InverseTimeDecay(10, 1.0), 10, 1.0),
    (InverseTimeDecay(10, 0.5), 20, 1.0),
    (InverseTimeDecay(4, 3.0), 2, 0.8),
    # lr · ((1 - α) · ½(1 + cos(π · min(t, T) / T)) + α)
    (CosineDecay(100), 0, 2.0),
    (CosineDecay(100), 50, 1.0),
    (CosineDecay(100), 100, 0.0),
    (CosineDecay(100), 250, 0.0),
    (CosineDecay(100, alpha=0.1), 50, 2.0 * (0.9 * 0.5 + 0.1)),
    (CosineDecay(100, alpha=0.1), 100, 0.2),
    (CosineDecay(100, alpha=0.1), 1000, 0.2),
    (CosineDecay(60), 20, 2.0 * 0.75),  # cos(π/3) = ½
]


@pytest.mark.parametrize(("schedule", "t", "expected"), VALUES, ids=repr)
def test_values_follow_the_formula(schedule, t, expected):
    assert schedule(2.0, t) == pytest.approx(expected, rel=1e-14, abs=1e-15)


schedules = st.one_of(
    st.builds(StepDecay, st.integers(1, 50), st.floats(0.01, 1.0)),
    st.builds(ExponentialDecay, st.floats(0.5, 1000), st.floats(0.01, 1.0)),
    st.builds(InverseTimeDecay, st.floats(0.5, 1000), st.floats(0.0, 10.0)),
    st.builds(CosineDecay, st.floats(1, 1000), st.floats(0.0, 1.0)),
)


@settings(max_examples=examples(200), deadline=None)
@given(schedule=schedules, lr=st.floats(1e-6, 10.0))
def test_every_decay_starts_at_lr_and_never_increases(schedule, lr):
    rates = [schedule(lr, t) for t in range(0, 3000, 7)]
    assert rates[0] == pytest.approx(lr, rel=1e-15)
    assert all(later <= earlier for earlier, later in itertools.pairwise(rates))
    assert all(rate >= 0 for rate in rates)


@pytest.mark.parametrize("make", [SGD, RMSProp, Adam], ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "schedule",
    [StepDecay(2, 0.5), ExponentialDecay(2, 0.5), InverseTimeDecay(1, 1.0), CosineDecay(4)],
    ids=repr,
)
def test_any_optimizer_follows_any_schedule(make, schedule):
    optimizer = make(lr=0.5, schedule=schedule)
    p = Parameter("w", np.zeros(3))
    p.grad[...] = 1.0
    assert optimizer.current_lr == 0.5
    for t in range(5):
        optimizer.step([p])
        assert optimizer.current_lr == schedule(0.5, t)
    assert optimizer.current_lr < 0.5


def test_one_schedule_serves_several_optimizers_independently():
    # A schedule keeps no count; each optimizer passes its own.
    schedule = StepDecay(1, 0.5)
    ahead, behind = SGD(lr=1.0, schedule=schedule), SGD(lr=1.0, schedule=schedule)
    p = Parameter("w", np.zeros(1))
    for _ in range(3):
        ahead.step([p])
    behind.step([p])
    assert (ahead.current_lr, behind.current_lr) == (0.25, 1.0)


@pytest.mark.parametrize(
    ("make", "field", "bad"),
    [
        (lambda v: StepDecay(v), "StepDecay.step_size", [0, -1, 2.5, "3"]),
        (lambda v: StepDecay(10, gamma=v), "StepDecay.gamma", [0, -0.1, 1.5, math.nan]),
        (lambda v: ExponentialDecay(v, 0.5), "ExponentialDecay.decay_steps", [0, -5, math.inf]),
        (lambda v: ExponentialDecay(10, v), "ExponentialDecay.rate", [0, 1.01, math.nan]),
        (lambda v: InverseTimeDecay(v, 1.0), "InverseTimeDecay.decay_steps", [0, math.nan]),
        (lambda v: InverseTimeDecay(10, v), "InverseTimeDecay.rate", [-1.0, math.inf]),
        (lambda v: CosineDecay(v), "CosineDecay.decay_steps", [0, -100]),
        (lambda v: CosineDecay(100, alpha=v), "CosineDecay.alpha", [-0.1, 1.1, "0"]),
    ],
)
def test_bad_hyperparameters_are_refused_by_name(make, field, bad):
    for value in bad:
        with pytest.raises(ConfigError, match=rf"^{field} must"):
            make(value)


@pytest.mark.parametrize(
    ("name", "params", "cls"),
    [
        ("step", {"step_size": 10}, StepDecay),
        ("exponential", {"decay_steps": 10, "rate": 0.5}, ExponentialDecay),
        ("inverse_time", {"decay_steps": 10, "rate": 0.5}, InverseTimeDecay),
        ("cosine", {"decay_steps": 10}, CosineDecay),
    ],
)
def test_schedules_are_registered_by_name(name, params, cls):
    assert Schedule.resolve(name, **params) == cls(**params)


def test_schedule_example_in_its_docstring():
    warmup = example_class(Schedule)(steps=4)
    assert [warmup(2.0, t) for t in range(6)] == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    optimizer = SGD(lr=2.0, schedule=warmup)
    assert optimizer.current_lr == 0.5
    assert Schedule.registry.get("linear_warmup") is type(warmup)
    assert isinstance(Optimizer.resolve("sgd", schedule=warmup).schedule, type(warmup))
    check_component(warmup)
