"""The compiled training loop: numba kernels that do what the numpy core does, batch by batch.

``train`` trains one network; ``train_lanes`` a group of a stack's networks side by side.
Importing this module imports numba (about 0.35 s), so only ``minifw.engine.loop`` does,
and only when a fit runs compiled. Each kernel is compiled once per dtype (``train`` about
5.5 s of CPU, ``train_lanes`` 4.7 s, only when a stack first trains) and cached on disk
(``cache=True``), so a later process loads it instead (about 0.3 s, most of it numba
setting up its compiler's tables, which it does before loading anything) on top of
importing numba. What keeps the compile short: one kernel signature per dtype; the
activations called, not inlined by numba (its IR inlining copies them into every caller:
inlining all the helpers took 1.5x as long); loops instead of whole-array statements
(``a[:] = b`` alone costs numba ~2 s to compile).

The kernels follow the numpy reference operation for operation (the same formulas, the
same order of additions where numpy's is known, every constant rounded to the network's
dtype where numpy rounds it), so that a compiled run lands within rounding of the numpy
one. ``train``'s arrays are flat and C-ordered: a matrix of ``rows`` by ``cols`` at offset
``o`` holds entry (i, j) at ``o + i * cols + j``. ``train_lanes``' are (entries, lanes).

The codes below are the contract with ``minifw.engine.support``, which builds the tables.
"""

from __future__ import annotations

import math

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
# Layers narrower than this sum each output in a register, one output after another; wider
# ones a row at a time, which LLVM vectorises but which costs a loop's setup per row.
WIDE = 8


# Every kernel: cached on disk; numpy's error model (x / 0 is inf or nan, as in numpy, not
# ZeroDivisionError, and no checks for it to compile); the GIL released, so that a stack's
# networks train on every core from Python threads; and no reference counting (numba's
# ``_nrt`` off): with it, every array handed to a helper or to an inlined function was
# counted up and down by two atomic instructions, about 100 per update, a quarter of the
# blog task's time. The kernels allocate nothing (the caller makes every buffer, numba
# refuses to compile an allocation without it), so nothing needs counting. The helpers
# that work on one number each are left to LLVM to inline: numba's own inlining copies
# their IR into every caller, which made the first compile several times slower.
KERNEL = {"cache": True, "error_model": "numpy", "nogil": True, "_nrt": False}
# Inlined by numba into ``train``: the batch and the step (compiled apart, each costs a
# module of its own to optimise and link: 4.7 s of CPU against 3.7 s), and the loss and
# the activations' slopes (called, once per layer and batch with ten arguments, they cost
# 8% of the blog task's time, against 0.5 s more compiling, once); the activations stay
# calls, the largest of the helpers (inlined too: 0.6 s more compiling, no gain measured).
INLINED = {**KERNEL, "inline": "always"}


@njit(**INLINED)
def _cast(scratch, value):
    """``value`` (a float64) rounded to the dtype of ``scratch``, as numpy rounds a Python float."""
    scratch[0] = value
    return scratch[0]


@njit(**KERNEL)
def _sigmoid(x, one, low, high):
    """u / (1 + u), u = e^x with x held to [low, high]: Sigmoid.forward; NaN stays NaN."""
    if x < low:
        x = low
    elif x > high:
        x = high
    u = math.exp(x)
    return u / (u + one)


@njit(**KERNEL)
def _activate(code, alpha, z, out, start, stop, one, low, high):
    """out[k] = f(z[k]) for k in [start, stop): each activation's ``forward``.

    One loop per activation, chosen outside it: a call per number would cost more than
    the number's arithmetic, and LLVM does not inline a helper with eight branches.
    """
    zero = one - one
    # Slices, indexed from 0: an index numba cannot prove positive (start + k) gets a
    # negative-index check inside the loop, which stops LLVM vectorising it.
    z, out = z[start:stop], out[start:stop]
    if code == IDENTITY:
        for k in range(z.size):
            out[k] = z[k]
    elif code == SIGMOID:
        for k in range(z.size):
            out[k] = _sigmoid(z[k], one, low, high)
    elif code == TANH:
        for k in range(z.size):
            out[k] = math.tanh(z[k])
    elif code == RELU:
        for k in range(z.size):
            x = z[k]
            out[k] = x if x > zero or x != x else zero  # np.maximum(x, 0) keeps NaN
    elif code == LEAKY_RELU:
        for k in range(z.size):
            x = z[k]
            out[k] = x if x > zero else alpha * x
    elif code == ELU:
        for k in range(z.size):
            x = z[k]
            out[k] = x if x > zero else alpha * math.expm1(x)
    elif code == SOFTPLUS:
        for k in range(z.size):
            x = z[k]
            tail = -abs(x)
            out[k] = (x if x > zero else zero) + math.log1p(math.exp(low if tail < low else tail))
    else:  # SILU
        for k in range(z.size):
            held = z[k]
            if held < low:
                held = low
            out[k] = held * _sigmoid(held, one, low, high)


@njit(**INLINED)
def _slope(code, alpha, z, y, grad, start, stop, one, low, high):
    """grad[k] = f'(z[k]) · grad[k], given y = f(z): each activation's ``derivative``."""
    zero = one - one
    if code == IDENTITY:
        return
    z, y, grad = z[start:stop], y[start:stop], grad[start:stop]  # as in ``_activate``
    if code == SIGMOID:
        for k in range(z.size):
            grad[k] = y[k] * (one - y[k]) * grad[k]
    elif code == TANH:
        for k in range(z.size):
            grad[k] = (one - y[k]) * (one + y[k]) * grad[k]
    elif code == RELU:
        for k in range(z.size):
            grad[k] = (one if z[k] > zero else zero) * grad[k]
    elif code == LEAKY_RELU:
        for k in range(z.size):
            grad[k] = (one if z[k] > zero else alpha) * grad[k]
    elif code == ELU:
        for k in range(z.size):
            grad[k] = (one if z[k] > zero else y[k] + alpha) * grad[k]
    elif code == SOFTPLUS:
        for k in range(z.size):
            grad[k] = _sigmoid(z[k], one, low, high) * grad[k]
    else:  # SILU
        for k in range(z.size):
            s = _sigmoid(z[k], one, low, high)
            grad[k] = (s + y[k] * (one - s)) * grad[k]


@njit(**KERNEL)
def _pointwise(code, p, t, lc0, lc1, one, half):
    """One entry's loss and its slope dL/dp, before the mean: each ``Loss``'s formula.

    ``lc`` holds the loss's constants in the dtype: Huber's δ and ½δ, BCE's ε and 1 - ε.
    """
    if code == MSE:
        d = p - t
        return d * d, d
    if code == MAE:
        d = p - t
        return abs(d), (one if d > 0 else (-one if d < 0 else d - d))
    if code == HUBER:
        delta, half_delta = lc0, lc1
        d = p - t
        magnitude = abs(d)
        value = half * d * d if magnitude <= delta else delta * (magnitude - half_delta)
        return value, (-delta if d < -delta else (delta if d > delta else d))
    low, high = lc0, lc1  # BCE
    p = low if p < low else (high if p > high else p)
    return -(t * math.log(p) + (one - t) * math.log1p(-p)), (p - t) / (p * (one - p))


@njit(**INLINED)
def _loss(code, pred, target, grad, start, size, lc0, lc1, one, half, scale, inverse):
    """The batch's loss (a float64) and dL/dpred into grad[start:start + size]: ``Loss``.

    MSE scales its slopes by ``scale`` (2/n), the others divide them by ``inverse`` (n, as
    MeanLoss divides by the entry count), both in the dtype.
    """
    total = half - half  # summed in the dtype, as numpy sums the dtype's array
    if code == MSE:  # the loop chosen once, outside: MSE's own, then the others'
        for k in range(size):
            d = pred[start + k] - target[k]
            total += d * d
            grad[start + k] = d * scale
        return float(total) / size
    for k in range(size):
        value, slope = _pointwise(code, pred[start + k], target[k], lc0, lc1, one, half)
        total += value
        grad[start + k] = slope / inverse
    return float(total) / size


@njit(**KERNEL)
def _adjusted(grad, weight, clipping, factor, decay, wd):
    """One gradient as the rule sees it: ``Optimizer._adjusted``, clipped then decayed."""
    if clipping:
        grad = grad * factor
    return grad + wd * weight if decay else grad


@njit(**INLINED)
def _preamble(opt, hyper, settings, counters, scratch):
    """What every step reads before its rule: the weight decay, whether there is any, and
    Adam's bias corrections 1 - β₁ᵗ and 1 - β₂ᵗ (counting the step; the other rules never
    read them), computed in float64 as numpy's Python code does, then rounded."""
    wd = hyper[H_WD]
    first = second = wd
    if opt == ADAM:
        counters[0] += 1
        t = counters[0]
        first = _cast(scratch, 1.0 - settings[S_BETA1] ** t)
        second = _cast(scratch, 1.0 - settings[S_BETA2] ** t)
    return wd, wd != 0, first, second


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
    wd, decay, first, second = _preamble(opt, hyper, settings, counters, scratch)
    h0, h1, h2, h3, h4 = hyper[0], hyper[1], hyper[2], hyper[3], hyper[4]
    # One loop per rule, chosen once per step: a choice per number costs more than its sum.
    if opt == SGD:
        for i in range(size):
            w[i] -= lr * _adjusted(g[i], w[i], clipping, factor, decay, wd)
    elif opt == MOMENTUM:
        for i in range(size):
            velocity = state1[i] * h0 + _adjusted(g[i], w[i], clipping, factor, decay, wd)
            state1[i] = velocity
            w[i] -= lr * velocity
    elif opt == NESTEROV:
        for i in range(size):
            grad = _adjusted(g[i], w[i], clipping, factor, decay, wd)
            velocity = state1[i] * h0 + grad
            state1[i] = velocity
            w[i] -= lr * (grad + h0 * velocity)
    elif opt == RMSPROP:
        for i in range(size):
            grad = _adjusted(g[i], w[i], clipping, factor, decay, wd)
            s = state1[i] * h0 + h1 * grad * grad
            state1[i] = s
            w[i] -= lr * grad / (math.sqrt(s) + h2)
    else:  # ADAM
        for i in range(size):
            grad = _adjusted(g[i], w[i], clipping, factor, decay, wd)
            m = state1[i] * h0 + h1 * grad
            v = state2[i] * h2 + h3 * grad * grad
            state1[i], state2[i] = m, v
            w[i] -= lr * (m / first) / (math.sqrt(v / second) + h4)


@njit(**INLINED)
def _matrix(flat, at, rows, cols):
    """The rows x cols matrix at offset ``at`` of a flat array, as a 2-D view. Indexed by loop
    counters, which numba knows are not negative, the loops over it carry no negative-index
    checks (a computed offset into the flat array does), which would stop LLVM vectorising."""
    return flat[at : at + rows * cols].reshape(rows, cols)


@njit(**KERNEL)
def _wide_forward(row, w, acts, zs, rows, zero):
    """z = x W (+ b) for a layer of WIDE outputs or more, each sum from k = 0 up, as the
    BLAS kernels do: a row of W at a time, along which the innermost loop runs, vectorised
    (one call a layer, not inlined: it would slow the narrow layers' loops around it)."""
    n_i, n_o, b_at = row[N_IN], row[N_OUT], row[B_AT]
    x, z = _matrix(acts, row[INPUT_AT], rows, n_i), _matrix(zs, row[OUTPUT_AT], rows, n_o)
    weights = _matrix(w, row[W_AT], n_i, n_o)
    bias = w[b_at : b_at + n_o] if b_at >= 0 else w[0:0]
    for i in range(rows):
        z_i, x_i = z[i], x[i]
        for j in range(n_o):
            z_i[j] = zero
        for k in range(n_i):
            x_ik, w_k = x_i[k], weights[k]
            for j in range(n_o):
                z_i[j] += x_ik * w_k[j]
        for j in range(bias.size):  # no bias: empty
            z_i[j] += bias[j]


@njit(**KERNEL)
def _wide_backward(row, w, g, acts, grads, rows, zero, inputs):
    """dL/dW = xᵀ delta and, if ``inputs``, dL/dx = delta Wᵀ for a wide layer, each sum in
    the narrow loops' order (over the samples, then the outputs, from the first), many
    sums side by side along contiguous rows, so that LLVM vectorises them."""
    n_i, n_o, w_at = row[N_IN], row[N_OUT], row[W_AT]
    x, delta = _matrix(acts, row[INPUT_AT], rows, n_i), _matrix(grads, row[OUTPUT_AT], rows, n_o)
    weights, dw = _matrix(w, w_at, n_i, n_o), _matrix(g, w_at, n_i, n_o)
    for k in range(n_i):
        dw_k = dw[k]
        for j in range(n_o):
            dw_k[j] = zero
        for i in range(rows):
            x_ik, d_i = x[i, k], delta[i]
            for j in range(n_o):
                dw_k[j] += x_ik * d_i[j]
    if not inputs:
        return
    dx = _matrix(grads, row[INPUT_AT], rows, n_i)
    for i in range(rows):
        dx_i, d_i = dx[i], delta[i]
        for k in range(n_i):
            dx_i[k] = d_i[0] * weights[k, 0]
        for j in range(1, n_o):
            d_ij = d_i[j]
            for k in range(n_i):
                dx_i[k] += d_ij * weights[k, j]


@njit(**INLINED)
def _batch(w, g, layout, alphas, consts, x, y, rows, row0, order, shuffled, target,
           acts, zs, grads, loss, lc, scratch):  # fmt: skip
    """Forward and backward over one batch of ``rows`` samples from row ``row0``: its loss.

    ``acts`` holds the batch's inputs, then each layer's outputs; ``zs`` and ``grads`` the
    pre-activations and dL/d(output) at the same offsets. Leaves every parameter's
    gradient in ``g``, as ``Network.backward`` does.
    """
    layers = layout.shape[0]
    one, half, low, high = consts[ONE], consts[HALF], consts[EXP_LOW], consts[EXP_HIGH]
    zero = one - one
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
        # z = x W (+ b), each sum from k = 0 up, as the BLAS kernels do.
        if n_o >= WIDE:  # a row of W at a time, vectorised
            _wide_forward(layout[layer], w, acts, zs, rows, zero)
        else:  # each sum in a register: no loop too short to pay
            for i in range(rows):
                xi, zi = a_at + i * n_i, o_at + i * n_o
                for j in range(n_o):
                    total = zero
                    for k in range(n_i):
                        total += acts[xi + k] * w[w_at + k * n_o + j]
                    zs[zi + j] = total + w[b_at + j] if b_at >= 0 else total
        _activate(code, alpha, zs, acts, o_at, o_at + rows * n_o, one, low, high)
    out_at = layout[layers - 1, OUTPUT_AT]
    size = rows * n_out
    scale, inverse = _cast(scratch, 2.0 / size), _cast(scratch, float(size))
    value = _loss(loss, acts, target, grads, out_at, size, lc[0], lc[1], one, half, scale, inverse)
    for layer in range(layers - 1, -1, -1):
        n_i, n_o = layout[layer, N_IN], layout[layer, N_OUT]
        w_at, b_at = layout[layer, W_AT], layout[layer, B_AT]
        a_at, o_at = layout[layer, INPUT_AT], layout[layer, OUTPUT_AT]
        # delta = f'(z) · dL/dy, written over dL/dy (nothing else reads it)
        code, alpha = layout[layer, ACTIVATION], alphas[layer]
        _slope(code, alpha, zs, acts, grads, o_at, o_at + rows * n_o, one, low, high)
        wide = n_o >= WIDE
        if wide:  # dL/dW and dL/dx, summed in the same order as below, vectorised
            _wide_backward(layout[layer], w, g, acts, grads, rows, zero, layer > 0)
        else:  # dL/dW = xᵀ delta, each sum over the samples from the first, in a register
            for k in range(n_i):
                wk = w_at + k * n_o
                for j in range(n_o):
                    total = zero
                    for i in range(rows):
                        total += acts[a_at + i * n_i + k] * grads[o_at + i * n_o + j]
                    g[wk + j] = total
        if b_at >= 0:  # dL/db = Σ_samples delta
            for j in range(n_o):
                g[b_at + j] = grads[o_at + j]
            for i in range(1, rows):
                for j in range(n_o):
                    g[b_at + j] += grads[o_at + i * n_o + j]
        if layer > 0 and not wide:  # dL/dx = delta Wᵀ, into the previous layer's dL/dy
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
          acts, zs, grads, target, prev, guard, totals, last, scratch):  # fmt: skip
    """Train ``epochs`` epochs of batches [first, stop); totals[e] = Σ batch loss · batch size.

    ``orders`` holds each epoch's shuffled order (one empty row: the data's own order). ``lrs``
    the rate of each update in turn (one entry: every update's). With ``guard``, each
    epoch's weights are first copied to ``prev``, and an epoch whose loss or weights end
    non-finite is the last one run. last[0] is the last batch's loss. Returns the number
    of epochs run. ``scratch`` (one entry) is where numbers are rounded to the dtype.
    """
    n = x.shape[0]
    shuffled = orders.shape[1] > 0
    update = 0
    for e in range(epochs):
        if guard:  # a loop: numba compiles prev[:] = w's broadcasting machinery for ~2 s
            for i in range(w.size):
                prev[i] = w[i]
        order = orders[e] if shuffled else orders[0]
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


# A stack's kernel -------------------------------------------------------------------------
# The networks of a stack see the same batches (one trainer, one shuffled order) and differ
# in their numbers only. So ``train_lanes`` trains a group of them together, the network
# the second index of every array ("lanes"): entry p of network l at [p, l]. Each of
# ``train``'s loops over a network's numbers gains an inner loop over the lanes, which
# runs along contiguous memory with no branch, and LLVM turns it into vector instructions
# (4 or 8 networks an instruction); JAX's vmap does the same. (Two-dimensional arrays, not
# flat ones with computed offsets: an offset numba cannot prove positive gets its
# negative-index wraparound inside the loop, which stops LLVM vectorising it; five times
# slower.) Every network's arithmetic is ``train``'s, in the same order, so a stacked
# network ends bit for bit where it would alone.


@njit(**INLINED)
def _lane_sum(out, at, a, a_at, a_step, b, b_at, b_step, count, zero):
    """out[at, l] = Σ_k a[a_at + k·a_step, l] · b[b_at + k·b_step, l] for every lane l, each
    sum from k = 0 up, as ``_batch`` sums it: a product of x W or xᵀ delta."""
    lanes = out.shape[1]
    for lane in range(lanes):
        out[at, lane] = zero
    for k in range(count):
        a_k, b_k = a_at + k * a_step, b_at + k * b_step
        for lane in range(lanes):
            out[at, lane] += a[a_k, lane] * b[b_k, lane]


@njit(**INLINED)
def _batch_lanes(w, g, layout, alphas, consts, x, y, rows, row0, order, shuffled, target,
                 acts, zs, grads, loss, lc, scratch, sums, values):  # fmt: skip
    """``_batch`` for every lane at once: values[l] = network l's loss on the batch."""
    lanes = values.size
    layers = layout.shape[0]
    one, half, low, high = consts[ONE], consts[HALF], consts[EXP_LOW], consts[EXP_HIGH]
    zero = one - one
    n_in0 = layout[0, N_IN]
    n_out = layout[layers - 1, N_OUT]
    for i in range(rows):  # the batch: the same rows for every network
        r = order[row0 + i] if shuffled else row0 + i
        for k in range(n_in0):
            value, at = x[r, k], i * n_in0 + k
            for lane in range(lanes):
                acts[at, lane] = value
        for k in range(n_out):
            target[i * n_out + k] = y[r, k]
    flat_acts, flat_zs, flat_grads = (
        acts.reshape(acts.size),
        zs.reshape(zs.size),
        grads.reshape(grads.size),
    )
    for layer in range(layers):
        n_i, n_o = layout[layer, N_IN], layout[layer, N_OUT]
        w_at, b_at = layout[layer, W_AT], layout[layer, B_AT]
        a_at, o_at = layout[layer, INPUT_AT], layout[layer, OUTPUT_AT]
        code, alpha = layout[layer, ACTIVATION], alphas[layer]
        for i in range(rows):  # z = x W (+ b)
            for j in range(n_o):
                z = o_at + i * n_o + j
                _lane_sum(zs, z, acts, a_at + i * n_i, 1, w, w_at + j, n_o, n_i, zero)
                if b_at >= 0:
                    for lane in range(lanes):
                        zs[z, lane] += w[b_at + j, lane]
        _activate(code, alpha, flat_zs, flat_acts, o_at * lanes, (o_at + rows * n_o) * lanes,
                  one, low, high)  # fmt: skip
    out_at = layout[layers - 1, OUTPUT_AT]
    size = rows * n_out
    scale, inverse = _cast(scratch, 2.0 / size), _cast(scratch, float(size))
    for lane in range(lanes):
        sums[lane] = zero  # summed in the dtype, as numpy sums the dtype's array
    for k in range(size):
        t, at = target[k], out_at + k
        if loss == MSE:
            for lane in range(lanes):
                d = acts[at, lane] - t
                sums[lane] += d * d
                grads[at, lane] = d * scale
        else:
            for lane in range(lanes):
                value, slope = _pointwise(loss, acts[at, lane], t, lc[0], lc[1], one, half)
                sums[lane] += value
                grads[at, lane] = slope / inverse
    for lane in range(lanes):
        values[lane] = float(sums[lane]) / size
    for layer in range(layers - 1, -1, -1):
        n_i, n_o = layout[layer, N_IN], layout[layer, N_OUT]
        w_at, b_at = layout[layer, W_AT], layout[layer, B_AT]
        a_at, o_at = layout[layer, INPUT_AT], layout[layer, OUTPUT_AT]
        code, alpha = layout[layer, ACTIVATION], alphas[layer]
        _slope(code, alpha, flat_zs, flat_acts, flat_grads, o_at * lanes,
               (o_at + rows * n_o) * lanes, one, low, high)  # fmt: skip
        for k in range(n_i):  # dL/dW = xᵀ delta, summed over the samples
            for j in range(n_o):
                gk = w_at + k * n_o + j
                _lane_sum(g, gk, acts, a_at + k, n_i, grads, o_at + j, n_o, rows, zero)
        if b_at >= 0:  # dL/db = Σ_samples delta, from the first sample's
            for j in range(n_o):
                b = b_at + j
                for lane in range(lanes):
                    g[b, lane] = grads[o_at + j, lane]
                for i in range(1, rows):
                    d = o_at + i * n_o + j
                    for lane in range(lanes):
                        g[b, lane] += grads[d, lane]
        if layer > 0:  # dL/dx = delta Wᵀ, from the first product, as ``_batch`` sums it
            for i in range(rows):
                for kk in range(n_i):
                    a, d, wk = a_at + i * n_i + kk, o_at + i * n_o, w_at + kk * n_o
                    for lane in range(lanes):
                        grads[a, lane] = grads[d, lane] * w[wk, lane]
                    for j in range(1, n_o):
                        for lane in range(lanes):
                            grads[a, lane] += grads[d + j, lane] * w[wk + j, lane]


@njit(**INLINED)
def _step_lanes(w, g, opt, hyper, settings, lrs, state1, state2, counters, scratch):
    """``_step`` for every lane at once, each network with its own rate lrs[l]. No clipping:
    a stack clips by the norm of every network's gradients together, which ``support``
    leaves to the numpy engine. The same rules as ``_step``'s, written apart: one step
    for both, a network as one lane of (entries, 1) arrays, made the blog's fit 1.5 times
    as long (a loop and a 2-D index for every single weight)."""
    size, lanes = w.shape
    wd, decay, first, second = _preamble(opt, hyper, settings, counters, scratch)
    h0, h1, h2, h3, h4 = hyper[0], hyper[1], hyper[2], hyper[3], hyper[4]
    for i in range(size):
        if opt == SGD:
            for lane in range(lanes):
                grad = _adjusted(g[i, lane], w[i, lane], False, wd, decay, wd)
                w[i, lane] -= lrs[lane] * grad
        elif opt in (MOMENTUM, NESTEROV):
            nesterov = opt == NESTEROV
            for lane in range(lanes):
                grad = _adjusted(g[i, lane], w[i, lane], False, wd, decay, wd)
                velocity = state1[i, lane] * h0 + grad
                state1[i, lane] = velocity
                w[i, lane] -= lrs[lane] * (grad + h0 * velocity if nesterov else velocity)
        elif opt == RMSPROP:
            for lane in range(lanes):
                grad = _adjusted(g[i, lane], w[i, lane], False, wd, decay, wd)
                s = state1[i, lane] * h0 + h1 * grad * grad
                state1[i, lane] = s
                w[i, lane] -= lrs[lane] * grad / (math.sqrt(s) + h2)
        else:  # ADAM
            for lane in range(lanes):
                grad = _adjusted(g[i, lane], w[i, lane], False, wd, decay, wd)
                m = state1[i, lane] * h0 + h1 * grad
                v = state2[i, lane] * h2 + h3 * grad * grad
                state1[i, lane], state2[i, lane] = m, v
                w[i, lane] -= lrs[lane] * (m / first) / (math.sqrt(v / second) + h4)


@njit(**KERNEL)
def train_lanes(w, g, layout, alphas, consts, x, y, orders, batch_size, first, stop, epochs,
                loss, lc, opt, hyper, settings, lrs, state1, state2, counters,
                acts, zs, grads, target, totals, last, scratch, sums, values):  # fmt: skip
    """``train`` for a group of networks in lanes: w, g, the states (entries, lanes) and the
    buffers (positions, lanes); lrs (updates or 1, lanes); totals (lanes, epochs); last,
    ``sums`` and ``values`` one entry a lane. No divergence guard: a stack cannot have one.
    Returns the number of epochs run."""
    n = x.shape[0]
    shuffled = orders.shape[1] > 0
    lanes = values.size
    update = 0
    for e in range(epochs):
        order = orders[e] if shuffled else orders[0]
        for lane in range(lanes):
            totals[lane, e] = 0.0
        for b in range(first, stop):
            row0 = b * batch_size
            rows = min(batch_size, n - row0)
            _batch_lanes(w, g, layout, alphas, consts, x, y, rows, row0, order, shuffled,
                         target, acts, zs, grads, loss, lc, scratch, sums, values)  # fmt: skip
            lr = lrs[update] if lrs.shape[0] > 1 else lrs[0]
            _step_lanes(w, g, opt, hyper, settings, lr, state1, state2, counters, scratch)
            update += 1
            for lane in range(lanes):
                totals[lane, e] += values[lane] * rows
                last[lane] = values[lane]
    return epochs
