"""JAX, the strongest peer for many small networks at once: the contenders of benchmarks/run.py.

Each function trains from minifw's own initial weights, in float64, and returns its wall
seconds with JAX's compile included (a new ``jit`` each call: what a script pays once) and
what to compare at the end:

- ``blog_stack(runs, epochs)``: N blog networks (2-5-1 sigmoid, bias unit, no output bias,
  MSE, SGD, batches of 4 in order) as ``jit(vmap(scan))``: the scan over epochs, each a
  loop over the batches, vmapped over the networks; each network's last epoch's loss;
- ``mlp_scan(network, x, y, lr, batch, epochs)``: one network of Dense tanh layers and an
  identity output (1-64-64-1 in the table), SGD on MSE, as ``jit(scan)``; the final weights.

The gradients are JAX's (``jax.grad`` of the batch's mean loss), the sigmoid minifw's
(u / (1 + u), u = e^z with z held to [-708, 708]).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def _jax() -> Any:
    import jax

    jax.config.update("jax_enable_x64", True)  # minifw's float64
    return jax


def _sigmoid(jnp: Any, z: Any) -> Any:
    u = jnp.exp(jnp.clip(z, -708.0, 708.0))
    return u / (u + 1.0)


def blog_stack(runs: list[Any], epochs: int) -> tuple[float, np.ndarray]:
    """Train the blog runs ``runs`` (minifw Experiments, untrained) together in JAX."""
    jax = _jax()
    jnp = jax.numpy
    first = runs[0]
    x, y = first.source.arrays()
    y = first.network.normaliser.forward(y)
    batch, lr = first.trainer.batch_size, first.trainer.optimizer.lr
    xb = jnp.asarray(x.reshape(-1, batch, x.shape[1]))
    yb = jnp.asarray(y.reshape(-1, batch, y.shape[1]))
    layers = [run.network.layers for run in runs]
    w1 = jnp.asarray(np.stack([hidden.weights for hidden, _ in layers]))
    b1 = jnp.asarray(np.stack([hidden.bias for hidden, _ in layers]))
    w2 = jnp.asarray(np.stack([output.weights for _, output in layers]))

    def loss(params: Any, xs: Any, ys: Any) -> Any:
        w1, b1, w2 = params
        out = _sigmoid(jnp, _sigmoid(jnp, xs @ w1 + b1) @ w2)
        return jnp.mean((out - ys) ** 2)

    def train(w1: Any, b1: Any, w2: Any) -> Any:
        def step(params: Any, data: Any) -> Any:
            value, grads = jax.value_and_grad(loss)(params, *data)
            return tuple(p - lr * g for p, g in zip(params, grads, strict=True)), value

        def epoch(params: Any, _: Any) -> Any:
            params, values = jax.lax.scan(step, params, (xb, yb))
            return params, jnp.mean(values)

        _, losses = jax.lax.scan(epoch, (w1, b1, w2), None, length=epochs)
        return losses[-1]

    start = time.perf_counter()
    last = jax.jit(jax.vmap(train))(w1, b1, w2).block_until_ready()
    return time.perf_counter() - start, np.asarray(last)


def mlp_scan(
    network: Any, x: np.ndarray, y: np.ndarray, lr: float, batch: int, epochs: int
) -> tuple[float, np.ndarray]:
    """Train a copy of ``network``'s weights (Dense layers with biases) in JAX."""
    jax = _jax()
    jnp = jax.numpy
    params = tuple(
        (jnp.asarray(layer.weights), jnp.asarray(layer.bias)) for layer in network.layers
    )
    xb = jnp.asarray(x.reshape(-1, batch, x.shape[1]))
    yb = jnp.asarray(y.reshape(-1, batch, y.shape[1]))

    def loss(params: Any, xs: Any, ys: Any) -> Any:
        for i, (w, b) in enumerate(params):
            xs = xs @ w + b
            xs = jnp.tanh(xs) if i < len(params) - 1 else xs
        return jnp.mean((xs - ys) ** 2)

    def step(params: Any, data: Any) -> Any:
        grads = jax.grad(loss)(params, *data)
        return jax.tree.map(lambda p, g: p - lr * g, params, grads), None

    def train(params: Any) -> Any:
        def epoch(params: Any, _: Any) -> Any:
            return jax.lax.scan(step, params, (xb, yb))[0], None

        return jax.lax.scan(epoch, params, None, length=epochs)[0]

    start = time.perf_counter()
    trained = jax.block_until_ready(jax.jit(train)(params))
    seconds = time.perf_counter() - start
    return seconds, np.concatenate([np.ravel(a) for layer in trained for a in layer])
