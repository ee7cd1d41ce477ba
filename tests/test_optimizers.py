"""Optimizers: each rule against its published formula, and the machinery they share.

The expected values are computed here with plain numpy, step by step from the
papers' equations, independently of minifw's code.
"""

import gc
import math
import weakref

import attrs
import numpy as np
import pytest

from minifw import (
    MSE,
    SGD,
    Adam,
    ArraySource,
    ConfigError,
    Dense,
    Network,
    Optimizer,
    Parameter,
    RMSProp,
    StepDecay,
    Trainer,
)

THETA = np.array([[0.5, -1.0], [2.0, 0.0]])
GRADS = [
    np.array([[0.1, -0.2], [0.3, 0.0]]),
    np.array([[0.4, 0.1], [-0.3, 0.05]]),
    np.array([[-0.2, 0.3], [0.1, -1.0]]),
]


def parameter(value=THETA, name="w"):
    return Parameter(name, np.array(value, dtype=np.float64))


def run(optimizer, grads=GRADS, value=THETA):
    """The values of one parameter after each step of ``optimizer`` with ``grads``."""
    p = parameter(value)
    values = []
    for g in grads:
        p.grad[...] = g
        optimizer.step([p])
        values.append(p.value.copy())
    return values


# --- references, from the published equations -------------------------------------------


def sgd_reference(theta, grads, lr, momentum=0.0, nesterov=False):
    """torch.optim.SGD's documented algorithm (dampening 0): b_t = μ b_{t-1} + g_t, b_1 = g_1."""
    values, b = [], None
    for g in grads:
        if momentum:
            b = g.copy() if b is None else momentum * b + g
            g = g + momentum * b if nesterov else b
        theta = theta - lr * g
        values.append(theta)
    return values


def rmsprop_reference(theta, grads, lr, rho, eps):
    """Tieleman & Hinton (2012), lecture 6e: E[g²]_t = ρ E[g²]_{t-1} + (1 - ρ) g_t²."""
    values, mean_square = [], np.zeros_like(theta)
    for g in grads:
        mean_square = rho * mean_square + (1 - rho) * g**2
        theta = theta - lr * g / (np.sqrt(mean_square) + eps)
        values.append(theta)
    return values


def adam_reference(theta, grads, lr, beta1, beta2, eps):
    """Kingma & Ba (2015), Algorithm 1."""
    values, m, v = [], np.zeros_like(theta), np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        values.append(theta)
    return values


RULES = [
    (SGD(lr=0.1), lambda: sgd_reference(THETA, GRADS, 0.1)),
    (SGD(lr=0.1, momentum=0.9), lambda: sgd_reference(THETA, GRADS, 0.1, 0.9)),
    (SGD(0.1, 0.9, True), lambda: sgd_reference(THETA, GRADS, 0.1, 0.9, nesterov=True)),
    (RMSProp(), lambda: rmsprop_reference(THETA, GRADS, 0.001, 0.9, 1e-7)),
    (
        RMSProp(lr=0.05, rho=0.5, epsilon=0.01),
        lambda: rmsprop_reference(THETA, GRADS, 0.05, 0.5, 0.01),
    ),
    (Adam(), lambda: adam_reference(THETA, GRADS, 0.001, 0.9, 0.999, 1e-8)),
    (Adam(0.1, 0.5, 0.8, 0.01), lambda: adam_reference(THETA, GRADS, 0.1, 0.5, 0.8, 0.01)),
]


@pytest.mark.parametrize(("optimizer", "reference"), RULES, ids=[repr(o) for o, _ in RULES])
def test_three_steps_follow_the_published_rule(optimizer, reference):
    optimizer = attrs.evolve(optimizer)  # a fresh copy, with no state from another test
    for got, expected in zip(run(optimizer), reference(), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_plain_sgd_is_exactly_value_minus_lr_times_grad():
    p = parameter()
    p.grad[...] = GRADS[0]
    value = p.value
    SGD(lr=0.3).step([p])
    assert p.value is value  # in place: a network's layers hold views into this array
    np.testing.assert_array_equal(p.value, THETA - 0.3 * GRADS[0])


def test_momentum_and_nesterov_by_hand():
    # θ = 1, g = 1 three times, lr = 0.1, μ = 0.5. Velocity v = 1, 1.5, 1.75.
    # Plain momentum steps by v: θ = 0.9, 0.75, 0.575.
    # Nesterov steps by g + μv = 1.5, 1.75, 1.875: θ = 0.85, 0.675, 0.4875.
    ones = [np.ones(1)] * 3
    plain = run(SGD(lr=0.1, momentum=0.5), ones, value=[1.0])
    nesterov = run(SGD(lr=0.1, momentum=0.5, nesterov=True), ones, value=[1.0])
    np.testing.assert_allclose(np.ravel(plain), [0.9, 0.75, 0.575], rtol=1e-14)
    np.testing.assert_allclose(np.ravel(nesterov), [0.85, 0.675, 0.4875], rtol=1e-14)


def test_adam_first_step_is_lr_times_the_sign_of_the_gradient():
    # Bias correction makes m̂ = g and v̂ = g² at t = 1, so the first step is lr · g / (|g| + ε),
    # whatever the gradient's scale.
    grad = np.array([[1e-3, -50.0], [2.0, -0.01]])
    (after,) = run(Adam(lr=0.01, epsilon=1e-12), [grad])
    np.testing.assert_allclose(after, THETA - 0.01 * np.sign(grad), rtol=1e-8)


@pytest.mark.parametrize("make", [SGD, RMSProp, Adam], ids=lambda c: c.__name__)
def test_every_rule_updates_in_place(make):
    p = parameter()
    value = p.value
    for g in GRADS:
        p.grad[...] = g
        make().step([p])
    assert p.value is value
    assert not np.array_equal(value, THETA)


# --- weight decay and clipping, shared by every rule --------------------------------------


@pytest.mark.parametrize(
    ("make", "reference"),
    [
        (lambda **kw: SGD(lr=0.1, momentum=0.9, **kw), lambda g: sgd_reference(THETA, g, 0.1, 0.9)),
        (
            lambda **kw: Adam(lr=0.1, **kw),
            lambda g: adam_reference(THETA, g, 0.1, 0.9, 0.999, 1e-8),
        ),
    ],
    ids=["sgd", "adam"],
)
def test_weight_decay_adds_wd_theta_to_the_gradient(make, reference):
    # Coupled L2: the rule runs on g + wd · θ, so the decay also goes through the momentum
    # or the moments. Each step's decayed gradient depends on θ after the steps before it.
    wd = 0.1
    optimizer, p = make(weight_decay=wd), parameter()
    decayed, theta = [], THETA
    for g in GRADS:
        p.grad[...] = g
        optimizer.step([p])
        decayed.append(g + wd * theta)
        theta = reference(decayed)[-1]
        np.testing.assert_allclose(p.value, theta, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(p.grad, g)
    assert not np.allclose(theta, reference(GRADS)[-1])


def two_parameters():
    """A (2,) and a (1, 2) parameter whose gradients (3, 0) and (0, 4) have global norm 5."""
    a, b = parameter([1.0, 1.0], "a"), parameter([[1.0, 1.0]], "b")
    a.grad[...] = [3.0, 0.0]
    b.grad[...] = [[0.0, 4.0]]
    return a, b


def test_clipping_rescales_by_the_global_norm_and_leaves_grad_alone():
    a, b = two_parameters()
    SGD(lr=1.0, clip_norm=1.0).step([a, b])
    # Both scaled by 1/5, the global norm's factor; each alone (norms 3 and 4) would differ.
    np.testing.assert_allclose(a.value, [1.0 - 0.6, 1.0], rtol=1e-15)
    np.testing.assert_allclose(b.value, [[1.0, 1.0 - 0.8]], rtol=1e-15)
    np.testing.assert_array_equal(a.grad, [3.0, 0.0])
    np.testing.assert_array_equal(b.grad, [[0.0, 4.0]])


def test_clipping_leaves_a_gradient_within_the_norm_as_it_is():
    a, b = two_parameters()
    SGD(lr=1.0, clip_norm=5.0).step([a, b])  # norm 5 is not above 5: no change
    np.testing.assert_array_equal(a.value, [-2.0, 1.0])
    np.testing.assert_array_equal(b.value, [[1.0, -3.0]])


def test_clipping_comes_before_weight_decay_and_neither_touches_grad():
    # g' = g · (1/5) + wd · θ, as with torch.nn.utils.clip_grad_norm_ before a decaying step.
    a, b = two_parameters()
    SGD(lr=1.0, clip_norm=1.0, weight_decay=0.5).step([a, b])
    np.testing.assert_allclose(a.value, [1.0 - 0.6 - 0.5, 1.0 - 0.5], atol=1e-15)
    np.testing.assert_allclose(b.value, [[1.0 - 0.5, 1.0 - 0.8 - 0.5]], atol=1e-15)
    np.testing.assert_array_equal(a.grad, [3.0, 0.0])
    np.testing.assert_array_equal(b.grad, [[0.0, 4.0]])


@attrs.define(eq=False)
class GradientSpy(Optimizer):
    """Moves nothing; records each gradient it is handed and whether it is ``p.grad`` itself."""

    seen: list = attrs.Factory(list)

    def update(self, value, grad, state, lr):
        self.seen.append(grad)


@pytest.mark.parametrize(
    ("options", "copied"),
    [
        ({}, False),
        ({"clip_norm": 100.0}, False),
        ({"clip_norm": 0.1}, True),
        ({"weight_decay": 0.1}, True),
    ],
)
def test_the_gradient_is_copied_only_when_it_must_change(options, copied):
    p = parameter()
    p.grad[...] = GRADS[0]
    spy = GradientSpy(**options)
    spy.step([p])
    (grad,) = spy.seen
    assert (grad is not p.grad) == copied
    np.testing.assert_array_equal(p.grad, GRADS[0])


# --- state: per parameter, per optimizer ------------------------------------------------


def test_two_optimizers_on_the_same_parameter_keep_separate_state():
    p = parameter()
    first, second = Adam(lr=0.1), Adam(lr=0.1)
    p.grad[...] = GRADS[0]
    first.step([p])
    first.step([p])
    before = p.value.copy()
    second.step([p])
    # second's first step is a fresh Adam's first step (lr · sign g), untouched by first's moments.
    np.testing.assert_allclose(p.value, before - 0.1 * np.sign(GRADS[0]), rtol=1e-7)
    assert (first.iterations, second.iterations) == (2, 1)


@pytest.mark.parametrize(
    "make", [lambda: SGD(lr=0.1, momentum=0.9), RMSProp, Adam], ids=["sgd", "rmsprop", "adam"]
)
def test_state_is_kept_per_parameter(make):
    # Gradients of different signs over time give each parameter its own moments: stepping
    # both together must match stepping each alone.
    other_grads = [-g[::-1] for g in GRADS]
    together, a, b = make(), parameter(name="a"), parameter(name="b")
    for g, h in zip(GRADS, other_grads, strict=True):
        a.grad[...], b.grad[...] = g, h
        together.step([a, b])
    np.testing.assert_allclose(a.value, run(make())[-1], rtol=1e-14)
    np.testing.assert_allclose(b.value, run(make(), other_grads)[-1], rtol=1e-14)
    assert not np.allclose(a.value, b.value)


def test_state_is_forgotten_with_its_parameter():
    # An optimizer reused on network after network must not keep the old ones' moments alive.
    # (Reads the private state: nothing public shows memory.)
    adam = Adam()
    kept, dropped = parameter(name="kept"), parameter(name="dropped")
    adam.step([kept, dropped])
    (moments,) = [state["m"] for key, state in adam._progress.states.items() if key == id(dropped)]
    moments_ref = weakref.ref(moments)
    del dropped, moments
    gc.collect()
    assert moments_ref() is None
    assert list(adam._progress.states) == [id(kept)]


def test_evolve_makes_a_fresh_optimizer():
    adam = Adam(lr=0.1)
    run(adam)
    copy = attrs.evolve(adam, lr=0.2)
    assert (adam.iterations, copy.iterations) == (3, 0)
    np.testing.assert_allclose(run(copy)[0], THETA - 0.2 * np.sign(GRADS[0]), rtol=1e-6)


# --- learning rate and count -------------------------------------------------------------


def test_a_schedule_sets_the_rate_of_each_step():
    optimizer = SGD(lr=1.0, schedule=StepDecay(2, gamma=0.5))
    assert (optimizer.current_lr, optimizer.iterations) == (1.0, 0)
    p = parameter([0.0])
    p.grad[...] = 1.0
    rates, moves = [], []
    for _ in range(5):
        before = p.value[0]
        optimizer.step([p])
        rates.append(optimizer.current_lr)
        moves.append(before - p.value[0])
    assert rates == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert moves == rates  # each step moved θ by its rate times the gradient 1
    assert optimizer.iterations == 5


def test_current_lr_without_a_schedule_is_lr_and_follows_changes_before_the_first_step():
    optimizer = Adam()
    assert optimizer.current_lr == 0.001
    optimizer.lr = 0.02
    assert optimizer.current_lr == 0.02
    run(optimizer)
    assert optimizer.current_lr == 0.02 and optimizer.iterations == 3


# --- bad hyperparameters -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "field", "bad"),
    [
        (SGD, "lr", [0, -0.1, math.inf, math.nan, "0.1", None]),
        (SGD, "momentum", [-0.1, math.nan, "0.9"]),
        (SGD, "weight_decay", [-1e-4, math.inf]),
        (RMSProp, "clip_norm", [0, -1.0, math.nan]),
        (RMSProp, "rho", [1.0, 1.5, -0.1]),
        (RMSProp, "epsilon", [0, -1e-7]),
        (Adam, "beta1", [1.0, -0.1, 2]),
        (Adam, "beta2", [1.0, 1.001, math.nan]),
        (Adam, "epsilon", [0.0, math.inf]),
        (Adam, "schedule", ["step", 0.5, lambda lr, t: lr]),
    ],
)
def test_bad_hyperparameters_are_refused_by_name(cls, field, bad):
    for value in bad:
        with pytest.raises(ConfigError, match=rf"^{cls.__name__}\.{field} must"):
            cls(**{field: value})
        optimizer = cls()
        with pytest.raises(ConfigError, match=rf"^{cls.__name__}\.{field} must"):
            setattr(optimizer, field, value)


def test_nesterov_needs_momentum():
    with pytest.raises(
        ConfigError, match=r"^SGD\.nesterov=True needs momentum > 0; got momentum 0"
    ):
        SGD(nesterov=True)
    optimizer = SGD()
    with pytest.raises(ConfigError, match=r"^SGD\.nesterov=True needs momentum > 0"):
        optimizer.nesterov = True
    optimizer.momentum = 0.9
    optimizer.nesterov = True
    assert optimizer.nesterov


@pytest.mark.parametrize("bad", ["maybe", "false", 1, None])
def test_nesterov_must_be_a_bool(bad):
    # A truthy string such as "false" would otherwise switch Nesterov on.
    with pytest.raises(ConfigError, match=r"^SGD\.nesterov must be True or False"):
        SGD(momentum=0.9, nesterov=bad)


def test_optimizers_are_registered_by_name():
    assert isinstance(Optimizer.resolve("adam", lr=0.1), Adam)
    assert isinstance(Optimizer.resolve("RMSProp"), RMSProp)
    assert Optimizer.resolve("sgd", momentum=0.5).momentum == 0.5
    assert Optimizer.resolve("adam", lr=0.1).lr == 0.1


# --- training ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "optimizer",
    [
        SGD(lr=0.1),
        SGD(lr=0.05, momentum=0.9, nesterov=True),
        RMSProp(lr=0.01),
        Adam(lr=0.01),
        Adam(lr=0.01, weight_decay=1e-4, clip_norm=1.0, schedule=StepDecay(1000, 0.5)),
    ],
    ids=repr,
)
def test_training_lowers_the_loss_tenfold(optimizer):
    x = np.linspace(-3, 3, 64).reshape(-1, 1)
    y = np.sin(x)
    network = Network([Dense(1, 8, "tanh"), Dense(8, 1)], seed=0)
    before = MSE().value(network.predict(x), y)
    Trainer(network, "mse", attrs.evolve(optimizer), batch_size=8).fit(ArraySource(x, y), 200)
    after = MSE().value(network.predict(x), y)
    assert after < before / 10
