"""The "how to subclass" example in each base class's docstring runs and is correct."""

import contextlib
import io
import math
import textwrap
from typing import ClassVar

import attrs
import numpy as np
import pytest

import minifw
from minifw.core.losses import difference
from minifw.testing import check_component


def example_class(base):
    """Run the code block after '::' in ``base``'s docstring; return the class it defines."""
    doc = base.__doc__
    block = textwrap.dedent(doc[doc.index("::") + 2 :]).strip()
    namespace = {"__name__": f"docstring_of_{base.__name__}", "np": np, "attrs": attrs}
    namespace |= {"math": math, "ClassVar": ClassVar, "difference": difference}
    namespace |= {name: getattr(minifw, name) for name in minifw.__all__}
    before = set(namespace)
    exec(compile(block, f"<{base.__name__} docstring>", "exec"), namespace)
    (name,) = {n for n in namespace if not n.startswith("__")} - before
    cls = namespace[name]
    assert issubclass(cls, base)
    return cls


def test_activation_example():
    cube = example_class(minifw.Activation)()
    x = np.linspace(-2, 2, 9).reshape(3, 3)
    np.testing.assert_allclose(cube.forward(x), x**3)
    check_component(cube)  # its derivative against differences, and the rest of the contract
    assert isinstance(minifw.Activation.resolve("cube"), type(cube))  # registered by name


def test_initializer_example():
    half = example_class(minifw.Initializer)()
    np.testing.assert_array_equal(half((3, 4), np.random.default_rng(0)), np.full((3, 4), 0.5))
    check_component(half)
    assert minifw.Initializer.registry.get("half") is type(half)


def test_layer_example():
    layer = example_class(minifw.Layer)(3)
    layer.initialize(np.random.default_rng(0))
    layer.a.value[...] = 1.7
    rng = np.random.default_rng(1)
    x, c = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    layer.forward(x)
    np.testing.assert_allclose(layer.backward(c), 1.7 * c)
    np.testing.assert_allclose(layer.a.grad, [(c * x).sum()])
    check_component(layer)  # gradients against differences, stacks, dtypes, input_grad=False


def test_loss_example():
    loss = example_class(minifw.Loss)()
    rng = np.random.default_rng(2)
    pred, target = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    assert loss.value(pred, target) == pytest.approx(0.5 * np.sum((pred - target) ** 2))
    check_component(loss)  # its gradient against differences, stacks, shapes refused


def test_optimizer_example():
    optimizer = example_class(minifw.Optimizer)(lr=0.5)
    parameter = minifw.Parameter("w", np.array([1.0, 2.0, 3.0]))
    parameter.grad[...] = [-4.0, 0.0, 0.1]
    optimizer.step([parameter])
    np.testing.assert_array_equal(parameter.value, [1.5, 2.0, 2.5])
    check_component(optimizer)


def test_data_source_example():
    line = example_class(minifw.DataSource)()
    x, y = line.arrays()
    assert x.shape == y.shape == (10, 1)
    network = minifw.Network([minifw.Dense(1, 1)], seed=0)
    minifw.Trainer(network, "mse", minifw.SGD(lr=0.2), batch_size=2).fit(line, 500)
    np.testing.assert_allclose(network.predict([[0.5]]), [[2.0]], atol=1e-4)
    check_component(line)


def test_callback_example():
    printer = example_class(minifw.Callback)()
    network = minifw.Network([minifw.Dense(1, 1)], seed=0)
    trainer = minifw.Trainer(network, "mse", "sgd", callbacks=[printer])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = trainer.fit(example_class(minifw.DataSource)(), 201)
    lines = out.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == ["0", "100", "200"]
    assert float(lines[-1].split()[1]) == result.loss[200]
    with contextlib.redirect_stdout(io.StringIO()):
        check_component(printer)


def test_target_example():
    from minifw.core.targets import Target

    saddle = example_class(Target)()
    x, y = saddle.source(5).arrays()
    assert x.shape == (25, 2)
    np.testing.assert_allclose(y[:, 0], x[:, 0] ** 2 - x[:, 1] ** 2)
    assert isinstance(Target.resolve("saddle"), type(saddle))
    check_component(saddle)
