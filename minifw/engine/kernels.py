"""The compiled training loop: numba kernels that do what the numpy core does, batch by batch.

Importing this module imports numba (about 0.3 s), so only ``minifw.engine.loop`` does,
and only when a fit runs compiled. Every function is compiled once per dtype and cached
on disk (``cache=True``), so a second process loads it instead of compiling again.

The kernels follow the numpy reference operation for operation (the same formulas, the
same order of additions where numpy's is known, every constant rounded to the network's
dtype where numpy rounds it), so that a compiled run lands within rounding of the numpy
one. All arrays are flat and C-ordered; a matrix of ``rows`` by ``cols`` at offset ``o``
holds entry (i, j) at ``o + i * cols + j``.

The codes below are the contract with ``minifw.engine.support``, which builds the tables.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Activations.
IDENTITY, SIGMOID, TANH, RELU, LEAKY_RELU, ELU, SOFTPLUS, SILU = range(8)
# Losses.
MSE, MAE, HUBER, BCE = range(4)
# Optimizers.
SGD, MOMENTUM, NESTEROV, RMSPROP, ADAM = range(5)
# Columns of the layout table, one row per Dense layer.
N_IN, N_OUT, W_AT, B_AT, ACTIVATION, INPUT_AT, OUTPUT_AT = range(7)
# Entries of ``consts`` (in the network's dtype): 1, ½, and the sigmoid's input bounds.
ONE, HALF, EXP_LOW, EXP_HIGH = range(4)
# Entries of ``hyper`` (in the network's dtype, as numpy rounds the Python floats).
# SGD: momentum. RMSProp: rho, 1 - rho, epsilon. Adam: beta1, 1 - beta1, beta2, 1 - beta2,
# epsilon. Then, for every rule, weight decay.
H_WD = 5
# Entries of ``settings`` (float64, used as Python floats are): clip norm (0: off), beta1,
# beta2 (for Adam's bias corrections, computed in float64 as numpy's Python code does).
S_CLIP, S_BETA1, S_BETA2 = range(3)


@njit(cache=True, inline="always")
def _cast(scratch, value):
    """``value`` (a float64) rounded to the dtype of ``scratch``, as numpy rounds a Python float."""
    scratch[0] = value
    return scratch[0]


@njit(cache=True, inline="always")
def _sigmoid(x, consts):
    """u / (1 + u), u = e^x with x held to [EXP_LOW, EXP_HIGH]: Sigmoid.forward; NaN stays NaN."""
    if x < consts[EXP_LOW]:
        x = consts[EXP_LOW]
    elif x > consts[EXP_HIGH]:
        x = consts[EXP_HIGH]
    u = math.exp(x)
    return u / (u + consts[ONE])


@njit(cache=True, inline="always")
def _activate(code, alpha, z, out, start, stop, consts):
    """out[k] = f(z[k]) for k in [start, stop): each activation's ``forward``."""
    one = consts[ONE]
    zero = one - one
    if code == IDENTITY:
        for k in range(start, stop):
            out[k] = z[k]
    elif code == SIGMOID:
        for k in range(start, stop):
            out[k] = _sigmoid(z[k], consts)
    elif code == TANH:
        for k in range(start, stop):
            out[k] = math.tanh(z[k])
    elif code == RELU:
        for k in range(start, stop):
            x = z[k]
            out[k] = x if x > zero or x != x else zero  # np.maximum(x, 0) keeps NaN
    elif code == LEAKY_RELU:
        for k in range(start, stop):
            x = z[k]
            out[k] = x if x > zero else alpha * x
    elif code == ELU:
        for k in range(start, stop):
            x = z[k]
            out[k] = x if x > zero else alpha * math.expm1(x)
    elif code == SOFTPLUS:
        for k in range(start, stop):
            x = z[k]
            tail = -abs(x)
            if tail < consts[EXP_LOW]:
                tail = consts[EXP_LOW]
            out[k] = (x if x > zero else zero) + math.log1p(math.exp(tail))
    else:  # SILU
        for k in range(start, stop):
            held = z[k]
            if held < consts[EXP_LOW]:
                held = consts[EXP_LOW]
            out[k] = held * _sigmoid(held, consts)


@njit(cache=True, inline="always")
def _slope(code, alpha, z, y, grad, delta, start, stop, consts):
    """delta[k] = f'(z[k]) · grad[k]: each activation's ``derivative``, times the gradient."""
    one = consts[ONE]
    zero = one - one
    if code == IDENTITY:
        for k in range(start, stop):
            delta[k] = grad[k]
    elif code == SIGMOID:
        for k in range(start, stop):
            delta[k] = y[k] * (one - y[k]) * grad[k]
    elif code == TANH:
        for k in range(start, stop):
            delta[k] = (one - y[k]) * (one + y[k]) * grad[k]
    elif code == RELU:
        for k in range(start, stop):
            delta[k] = (one if z[k] > zero else zero) * grad[k]
    elif code == LEAKY_RELU:
        for k in range(start, stop):
            delta[k] = (one if z[k] > zero else alpha) * grad[k]
    elif code == ELU:
        for k in range(start, stop):
            delta[k] = (one if z[k] > zero else y[k] + alpha) * grad[k]
    elif code == SOFTPLUS:
        for k in range(start, stop):
            delta[k] = _sigmoid(z[k], consts) * grad[k]
    else:  # SILU
        for k in range(start, stop):
            s = _sigmoid(z[k], consts)
            delta[k] = (s + y[k] * (one - s)) * grad[k]


@njit(cache=True, inline="always")
def _loss(code, pred, target, grad, start, size, lc, consts, scratch):
    """The batch's loss (a float64) and dL/dpred into grad[start:start + size]: ``Loss``.

    ``lc`` holds the loss's constants in the dtype: Huber's δ and ½δ, BCE's ε and 1 - ε.
    """
    one, half = consts[ONE], consts[HALF]
    total = half - half  # summed in the dtype, as numpy sums the dtype's array
    if code == MSE:
        scale = _cast(scratch, 2.0 / size)
        for k in range(size):
            d = pred[start + k] - target[k]
            total += d * d
            grad[start + k] = d * scale
        return float(total) / size
    inverse = _cast(scratch, size)  # MeanLoss divides the slopes by the entry count
    if code == MAE:
        for k in range(size):
            d = pred[start + k] - target[k]
            total += abs(d)
            grad[start + k] = (one if d > 0 else (-one if d < 0 else d - d)) / inverse
        return float(total) / size
    if code == HUBER:
        delta, half_delta = lc[0], lc[1]
        for k in range(size):
            d = pred[start + k] - target[k]
            magnitude = abs(d)
            total += half * d * d if magnitude <= delta else delta * (magnitude - half_delta)
            clipped = -delta if d < -delta else (delta if d > delta else d)
            grad[start + k] = clipped / inverse
        return float(total) / size
    low, high = lc[0], lc[1]  # BCE
    for k in range(size):
        p = pred[start + k]
        p = low if p < low else (high if p > high else p)
        t = target[k]
        total += -(t * math.log(p) + (one - t) * math.log1p(-p))
        grad[start + k] = (p - t) / (p * (one - p)) / inverse
    return float(total) / size


@njit(cache=True, inline="always")
def _adjusted(grad, value, factor, clipping, wd, decay):
    """``Optimizer._adjusted``: g · scale where the clip scaled it, then + wd · θ."""
    if clipping:
        grad = grad * factor
    if decay:
        grad = grad + wd * value
    return grad


@njit(cache=True, inline="always")
def _step(w, g, opt, hyper, settings, lr, state1, state2, counters, scratch):
    """One optimizer step on the packed parameters: ``Optimizer.step`` and its ``update``."""
    size = w.size
    clip = settings[S_CLIP]
    scale = 1.0
    if clip > 0.0:  # the global L2 norm, summed in the dtype as np.vdot sums it
        squares = g[0] - g[0]
        for i in range(size):
            squares += g[i] * g[i]
        norm = math.sqrt(float(squares))
        if norm > clip:
            scale = clip / norm
    clipping = scale < 1.0
    factor = _cast(scratch, scale)
    wd = hyper[H_WD]
    decay = wd != 0
    first = second = factor  # Adam's bias corrections; the other rules never read them
    if opt == ADAM:
        counters[0] += 1
        t = counters[0]
        first = _cast(scratch, 1.0 - settings[S_BETA1] ** t)
        second = _cast(scratch, 1.0 - settings[S_BETA2] ** t)
    # One loop per rule, the rule chosen outside it; g_i = (g · scale if clipped) + wd · θ.
    if opt == SGD:
        for i in range(size):
            grad = _adjusted(g[i], w[i], factor, clipping, wd, decay)
            w[i] -= lr * grad
    elif opt in (MOMENTUM, NESTEROV):
        momentum = hyper[0]
        nesterov = opt == NESTEROV
        for i in range(size):
            grad = _adjusted(g[i], w[i], factor, clipping, wd, decay)
            velocity = state1[i] * momentum + grad
            state1[i] = velocity
            w[i] -= lr * (grad + momentum * velocity if nesterov else velocity)
    elif opt == RMSPROP:
        for i in range(size):
            grad = _adjusted(g[i], w[i], factor, clipping, wd, decay)
            s = state1[i] * hyper[0] + hyper[1] * grad * grad
            state1[i] = s
            w[i] -= lr * grad / (math.sqrt(s) + hyper[2])
    else:  # ADAM
        for i in range(size):
            grad = _adjusted(g[i], w[i], factor, clipping, wd, decay)
            m = state1[i] * hyper[0] + hyper[1] * grad
            v = state2[i] * hyper[2] + hyper[3] * grad * grad
            state1[i], state2[i] = m, v
            w[i] -= lr * (m / first) / (math.sqrt(v / second) + hyper[4])


@njit(cache=True, inline="always")
def _batch(w, g, layout, alphas, consts, x, y, rows, row0, order, shuffled, target,
           acts, zs, grads, loss, lc, scratch):  # fmt: skip
    """Forward and backward over one batch of ``rows`` samples from row ``row0``: its loss.

    ``acts`` holds the batch's inputs, then each layer's outputs; ``zs`` and ``grads`` the
    pre-activations and dL/d(output) at the same offsets. Leaves every parameter's
    gradient in ``g``, as ``Network.backward`` does.
    """
    layers = layout.shape[0]
    zero = consts[ONE] - consts[ONE]
    n_in0 = layout[0, N_IN]
    n_out = layout[layers - 1, N_OUT]
    for i in range(rows):  # gather the batch: the shuffled order's rows, or the next ones
        r = order[row0 + i] if shuffled else row0 + i
        for k in range(n_in0):
            acts[i * n_in0 + k] = x[r, k]
        for k in range(n_out):
            target[i * n_out + k] = y[r, k]
    for layer in range(layers):
        n_i, n_o = layout[layer, N_IN], layout[layer, N_OUT]
        w_at, b_at = layout[layer, W_AT], layout[layer, B_AT]
        a_at, o_at = layout[layer, INPUT_AT], layout[layer, OUTPUT_AT]
        for i in range(rows):  # z = x W (+ b), each sum from k = 0 up, as the BLAS kernels do
            xi, zi = a_at + i * n_i, o_at + i * n_o
            for j in range(n_o):
                total = zero
                for k in range(n_i):
                    total += acts[xi + k] * w[w_at + k * n_o + j]
                zs[zi + j] = total + w[b_at + j] if b_at >= 0 else total
        _activate(layout[layer, ACTIVATION], alphas[layer], zs, acts, o_at, o_at + rows * n_o,
                  consts)  # fmt: skip
    out_at = layout[layers - 1, OUTPUT_AT]
    value = _loss(loss, acts, target, grads, out_at, rows * n_out, lc, consts, scratch)
    for layer in range(layers - 1, -1, -1):
        n_i, n_o = layout[layer, N_IN], layout[layer, N_OUT]
        w_at, b_at = layout[layer, W_AT], layout[layer, B_AT]
        a_at, o_at = layout[layer, INPUT_AT], layout[layer, OUTPUT_AT]
        # delta = f'(z) · dL/dy, written over dL/dy (nothing else reads it)
        _slope(layout[layer, ACTIVATION], alphas[layer], zs, acts, grads, grads, o_at,
               o_at + rows * n_o, consts)  # fmt: skip
        for k in range(n_i):  # dL/dW = xᵀ delta, summed over the samples from the first
            for j in range(n_o):
                total = zero
                for i in range(rows):
                    total += acts[a_at + i * n_i + k] * grads[o_at + i * n_o + j]
                g[w_at + k * n_o + j] = total
        if b_at >= 0:  # dL/db = Σ_samples delta
            for j in range(n_o):
                g[b_at + j] = grads[o_at + j]
            for i in range(1, rows):
                for j in range(n_o):
                    g[b_at + j] += grads[o_at + i * n_o + j]
        if layer > 0:  # dL/dx = delta Wᵀ, into the previous layer's output gradient
            for i in range(rows):
                di = o_at + i * n_o
                for k in range(n_i):
                    wk = w_at + k * n_o
                    total = grads[di] * w[wk]
                    for j in range(1, n_o):
                        total += grads[di + j] * w[wk + j]
                    grads[a_at + i * n_i + k] = total
    return value


@njit(cache=True)
def compose(order, permutations, orders):
    """orders[e] = orders[e - 1][permutations[e]], from ``order``; ``order`` ends as the last.

    The numpy trainer's ``order[...] = order[rng.permutation(n)]``, epoch after epoch.
    """
    n = order.size
    for e in range(permutations.shape[0]):
        for i in range(n):
            orders[e, i] = order[permutations[e, i]]
        for i in range(n):
            order[i] = orders[e, i]


@njit(cache=True)
def train(w, g, layout, alphas, consts, x, y, orders, batch_size, first, stop, epochs,
          loss, lc, opt, hyper, settings, lrs, state1, state2, counters,
          acts, zs, grads, target, prev, guard, totals, last):  # fmt: skip
    """Train ``epochs`` epochs of batches [first, stop); totals[e] = Σ batch loss · batch size.

    ``orders`` holds each epoch's shuffled order (no rows: the data's own order). ``lrs``
    the rate of each update in turn (one entry: every update's). With ``guard``, each
    epoch's weights are first copied to ``prev``, and an epoch whose loss or weights end
    non-finite is the last one run. last[0] is the last batch's loss. Returns the number
    of epochs run.
    """
    n = x.shape[0]
    scratch = np.empty(1, w.dtype)
    shuffled = orders.shape[0] > 0
    no_order = np.empty(0, np.int64)
    update = 0
    for e in range(epochs):
        if guard:
            prev[:] = w
        order = orders[e] if shuffled else no_order
        total = 0.0
        for b in range(first, stop):
            row0 = b * batch_size
            rows = min(batch_size, n - row0)
            value = _batch(w, g, layout, alphas, consts, x, y, rows, row0, order, shuffled,
                           target, acts, zs, grads, loss, lc, scratch)  # fmt: skip
            lr = lrs[update] if lrs.size > 1 else lrs[0]
            _step(w, g, opt, hyper, settings, lr, state1, state2, counters, scratch)
            update += 1
            total += value * rows
            last[0] = value
        totals[e] = total
        if guard:
            weights = w[0] - w[0]  # summed in the dtype, as np.add.reduce sums it
            for i in range(w.size):
                weights += w[i]
            if not (math.isfinite(total) and math.isfinite(weights)):
                return e + 1
    return epochs
