"""Stacked networks: N networks trained as one computation end exactly where each would alone."""

import attrs
import numpy as np
import pytest
from helpers import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from minifw import (
    MSE,
    SGD,
    Adam,
    ConfigError,
    Dense,
    Huber,
    Network,
    Trainer,
    presets,
    stack,
    unstack,
)
from minifw.core.schedules import CosineDecay


def blog_runs(activation, seeds):
    return [presets.blog(activation, seed=s) for s in seeds]


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_a_stack_of_blog_networks_ends_bit_for_bit_where_each_does_alone(activation):
    runs = blog_runs(activation, range(6))
    optimizer = runs[0].trainer.optimizer
    rates = np.array([[optimizer.lr * f] for f in (0.5, 1.0, 1.5, 0.5, 1.0, 1.5)])
    trainer = Trainer(
        stack([r.network for r in runs]), MSE(), attrs.evolve(optimizer, lr=rates),
        batch_size=4, shuffle=False,
    )  # fmt: skip
    result = trainer.fit(runs[0].source, 300)
    for i, (run, single) in enumerate(zip(runs, unstack(trainer.network), strict=True)):
        run.trainer.optimizer = attrs.evolve(optimizer, lr=float(rates[i, 0]))
        alone = run.fit(300)
        np.testing.assert_array_equal(single.packed.value, run.network.packed.value)
        # The losses too: each network's loss is summed as the 2-D case sums it.
        np.testing.assert_array_equal([epoch[i] for epoch in result.loss], alone.loss)


def test_adam_with_a_schedule_and_a_deep_network_stack_exactly():
    def run(seed, lr):
        network = Network(
            [Dense(1, 8, "tanh"), Dense(8, 8, "tanh"), Dense(8, 1, "identity")], seed=seed
        )
        return network, Adam(lr=lr, schedule=CosineDecay(400))

    x = np.linspace(-2, 2, 24).reshape(-1, 1)
    from minifw import ArraySource

    source = ArraySource(x, np.sin(2 * x))
    singles = [run(seed, lr) for seed, lr in [(0, 0.01), (1, 0.003), (2, 0.02)]]
    stacked = stack([net for net, _ in singles])
    rates = np.array([[o.lr] for _, o in singles])
    Trainer(stacked, Huber(), Adam(lr=rates, schedule=CosineDecay(400)), batch_size=5,
            shuffle=False).fit(source, 50)  # fmt: skip
    for (net, optimizer), mine in zip(singles, unstack(stacked), strict=True):
        Trainer(net, Huber(), optimizer, batch_size=5, shuffle=False).fit(source, 50)
        np.testing.assert_array_equal(mine.packed.value, net.packed.value)


@settings(max_examples=examples(30), deadline=None)
@given(
    copies=st.integers(1, 5),
    sizes=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    bias=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_stack_then_unstack_gives_the_networks_back(copies, sizes, bias, seed):
    def network(i):
        layers = [
            Dense(a, b, "tanh", bias=bias) for a, b in zip([2, *sizes], [*sizes, 1], strict=True)
        ]
        return Network(layers, seed=seed + i)

    networks = [network(i) for i in range(copies)]
    stacked = stack(networks)
    assert stacked.copies == copies and stacked.packed.value.shape[0] == copies
    x = np.random.default_rng(seed).normal(size=(7, 2))
    outputs = stacked.predict(x)
    for i, (original, back) in enumerate(zip(networks, unstack(stacked), strict=True)):
        np.testing.assert_array_equal(back.packed.value, original.packed.value)
        np.testing.assert_array_equal(outputs[i], original.predict(x))  # the same forward pass


def test_a_stack_layer_keeps_its_views_into_the_packed_vector():
    stacked = stack([Network([Dense(1, 3), Dense(3, 1)], seed=s) for s in range(4)])
    stacked.packed.value[...] = 0.0
    for layer in stacked.layers:
        assert not layer.weights.any() and not layer.bias.any()


def test_unlike_networks_do_not_stack():
    a = Network([Dense(1, 3, "tanh"), Dense(3, 1)])
    with pytest.raises(ConfigError, match="network 1 has other layers"):
        stack([a, Network([Dense(1, 4, "tanh"), Dense(4, 1)])])
    with pytest.raises(ConfigError, match="network 1 has other layers"):
        stack([a, Network([Dense(1, 3, "relu"), Dense(3, 1)])])
    with pytest.raises(ConfigError, match="at least one network"):
        stack([])
    with pytest.raises(ConfigError, match="needs a stacked network"):
        unstack(a)


def test_a_learning_rate_array_must_be_positive_and_finite():
    with pytest.raises(ConfigError, match="finite numbers > 0, one per stacked network"):
        SGD(lr=np.array([[0.1], [-0.1]]))
    with pytest.raises(ConfigError, match="finite numbers > 0"):
        SGD(lr=np.array([[np.nan]]))
