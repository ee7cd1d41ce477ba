"""The compiled training loop: numba kernels that do what the numpy core does, batch by batch.

Importing this module imports numba (about 0.35 s), so only ``minifw.engine.loop`` does,
and only when a fit runs compiled. Every function is compiled once per dtype (about 3.7 s
of CPU) and cached on disk (``cache=True``),
so a later process loads it instead (about 0.3 s, most of it numba setting up its
compiler's tables, which it does before loading anything) on top of importing numba.
What keeps the compile short: one kernel signature per dtype; the small helpers called,
not inlined by numba (its IR inlining copies them into every caller, and took 1.5x as long);
loops instead of whole-array statements (``a[:] = b`` alone costs numba ~2 s to compile).

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


# Every kernel: cached on disk; numpy's error model (x / 0 is inf or nan, as in numpy, not
# ZeroDivisionError, and no checks for it to compile); the GIL released, so that a stack's
# networks train on every core from Python threads. The helpers work on one number each
# and are left to LLVM to inline: numba's own inlining copies their IR into every caller,
# which made the first compile several times slower.
KERNEL = {"cache": True, "error_model": "numpy", "nogil": True}
# The batch and the step, called once each per update, are inlined by numba into ``train``:
# compiled apart, each costs a module of its own to optimise and link (the first compile
# took 4.7 s of CPU, against 3.7 s so); the per-layer and per-number helpers stay calls.
INLINED = {**KERNEL, "inline": "always"}


@njit(**KERNEL)
def _cast(scratch, value):
    """``value`` (a float64) rounded to the dtype of ``scratch``, as numpy rounds a Python float."""
    scratch[0] = value
    return scratch[0]


@njit(**KERNEL)
def _sigmoid(x, consts):
    """u / (1 + u), u = e^x with x held to [EXP_LOW, EXP_HIGH]: Sigmoid.forward; NaN stays NaN."""
    if x < consts[EXP_LOW]:
        x = consts[EXP_LOW]
    elif x > consts[EXP_HIGH]:
        x = consts[EXP_HIGH]
    u = math.exp(x)
    return u / (u + consts[ONE])


@njit(**KERNEL)
def _activate(code, alpha, z, out, start, stop, consts):
    """out[k] = f(z[k]) for k in [start, stop): each activation's ``forward``.

    One loop per activation, chosen outside it: a call per number would cost more than
    the number's arithmetic, and LLVM does not inline a helper with eight branches.
    """
    one = consts[ONE]
    zero = one - one
    low = consts[EXP_LOW]
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
            out[k] = (x if x > zero else zero) + math.log1p(math.exp(low if tail < low else tail))
    else:  # SILU
        for k in range(start, stop):
            held = z[k]
            if held < low:
                held = low
            out[k] = held * _sigmoid(held, consts)


@njit(**KERNEL)
def _slope(code, alpha, z, y, grad, start, stop, consts):
    """grad[k] = f'(z[k]) · grad[k], given y = f(z): each activation's ``derivative``."""
    one = consts[ONE]
    zero = one - one
    if code == IDENTITY:
        return
    if code == SIGMOID:
        for k in range(start, stop):
            grad[k] = y[k] * (one - y[k]) * grad[k]
    elif code == TANH:
        for k in range(start, stop):
            grad[k] = (one - y[k]) * (one + y[k]) * grad[k]
    elif code == RELU:
        for k in range(start, stop):
            grad[k] = (one if z[k] > zero else zero) * grad[k]
    elif code == LEAKY_RELU:
        for k in range(start, stop):
            grad[k] = (one if z[k] > zero else alpha) * grad[k]
    elif code == ELU:
        for k in range(start, stop):
            grad[k] = (one if z[k] > zero else y[k] + alpha) * grad[k]
    elif code == SOFTPLUS:
        for k in range(start, stop):
            grad[k] = _sigmoid(z[k], consts) * grad[k]
    else:  # SILU
        for k in range(start, stop):
            s = _sigmoid(z[k], consts)
            grad[k] = (s + y[k] * (one - s)) * grad[k]


@njit(**KERNEL)
def _pointwise(code, p, t, lc, consts):
    """One entry's loss and its slope dL/dp, before the mean: each ``Loss``'s formula.

    ``lc`` holds the loss's constants in the dtype: Huber's δ and ½δ, BCE's ε and 1 - ε.
    """
    one, half = consts[ONE], consts[HALF]
    if code == MSE:
        d = p - t
        return d * d, d
    if code == MAE:
        d = p - t
        return abs(d), (one if d > 0 else (-one if d < 0 else d - d))
    if code == HUBER:
        delta, half_delta = lc[0], lc[1]
        d = p - t
        magnitude = abs(d)
        value = half * d * d if magnitude <= delta else delta * (magnitude - half_delta)
        return value, (-delta if d < -delta else (delta if d > delta else d))
    low, high = lc[0], lc[1]  # BCE
    p = low if p < low else (high if p > high else p)
    return -(t * math.log(p) + (one - t) * math.log1p(-p)), (p - t) / (p * (one - p))


@njit(**KERNEL)
def _loss(code, pred, target, grad, start, size, lc, consts, scratch):
    """The batch's loss (a float64) and dL/dpred into grad[start:start + size]: ``Loss``."""
    total = consts[HALF] - consts[HALF]  # summed in the dtype, as numpy sums the dtype's array
    scale = _cast(scratch, 2.0 / size)  # MSE scales its slopes by 2/n
    inverse = _cast(scratch, float(size))  # MeanLoss divides the slopes by the entry count
    for k in range(size):
        value, slope = _pointwise(code, pred[start + k], target[k], lc, consts)
        total += value
        grad[start + k] = slope * scale if code == MSE else slope / inverse
    return float(total) / size


@njit(**INLINED)
def _step(w, g, opt, hyper, settings, lr, state1, state2, counters, scratch):
    """One optimizer step on the packed parameters: ``Optimizer.step`` and its ``update``.

    g_i = (g · scale where the clip scaled it) + wd · θ (``Optimizer._adjusted``), then the rule.
    """
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
    h0, h1, h2, h3, h4 = hyper[0], hyper[1], hyper[2], hyper[3], hyper[4]
    for i in range(size):
        grad = g[i] * factor if clipping else g[i]
        if decay:
            grad = grad + wd * w[i]
        if opt == SGD:
            w[i] -= lr * grad
        elif opt in (MOMENTUM, NESTEROV):
            velocity = state1[i] * h0 + grad
            state1[i] = velocity
            w[i] -= lr * (grad + h0 * velocity if opt == NESTEROV else velocity)
        elif opt == RMSPROP:
            s = state1[i] * h0 + h1 * grad * grad
            state1[i] = s
            w[i] -= lr * grad / (math.sqrt(s) + h2)
        else:  # ADAM
            m = state1[i] * h0 + h1 * grad
            v = state2[i] * h2 + h3 * grad * grad
            state1[i], state2[i] = m, v
            w[i] -= lr * (m / first) / (math.sqrt(v / second) + h4)


@njit(**INLINED)
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
        code, alpha = layout[layer, ACTIVATION], alphas[layer]
        # z = x W (+ b), each sum from k = 0 up, as the BLAS kernels do: a row of W at a
        # time, so that the innermost loop runs along rows of W and z, which LLVM vectorises.
        for i in range(rows):
            xi, zi = a_at + i * n_i, o_at + i * n_o
            for j in range(n_o):
                zs[zi + j] = zero
            for k in range(n_i):
                x_ik, wk = acts[xi + k], w_at + k * n_o
                for j in range(n_o):
                    zs[zi + j] += x_ik * w[wk + j]
            if b_at >= 0:
                for j in range(n_o):
                    zs[zi + j] += w[b_at + j]
        _activate(code, alpha, zs, acts, o_at, o_at + rows * n_o, consts)
    out_at = layout[layers - 1, OUTPUT_AT]
    value = _loss(loss, acts, target, grads, out_at, rows * n_out, lc, consts, scratch)
    for layer in range(layers - 1, -1, -1):
        n_i, n_o = layout[layer, N_IN], layout[layer, N_OUT]
        w_at, b_at = layout[layer, W_AT], layout[layer, B_AT]
        a_at, o_at = layout[layer, INPUT_AT], layout[layer, OUTPUT_AT]
        # delta = f'(z) · dL/dy, written over dL/dy (nothing else reads it)
        code, alpha = layout[layer, ACTIVATION], alphas[layer]
        _slope(code, alpha, zs, acts, grads, o_at, o_at + rows * n_o, consts)
        for k in range(n_i):  # dL/dW = xᵀ delta, summed over the samples from the first
            wk = w_at + k * n_o
            for j in range(n_o):
                g[wk + j] = zero
            for i in range(rows):
                x_ik, di = acts[a_at + i * n_i + k], o_at + i * n_o
                for j in range(n_o):
                    g[wk + j] += x_ik * grads[di + j]
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


@njit(**KERNEL)
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


@njit(**KERNEL)
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
        if guard:  # a loop: numba compiles prev[:] = w's broadcasting machinery for ~2 s
            for i in range(w.size):
                prev[i] = w[i]
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
