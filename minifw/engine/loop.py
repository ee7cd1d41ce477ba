"""The compiled engine's training loop: ``Trainer.fit``'s loop, with kernels doing the epochs.

``train`` runs where the numpy loop would, after ``on_train_begin``, and leaves the run
as the numpy loop leaves it: the packed weights (the kernels update them in place), the
optimizer's count, rate and state, the shuffling generator and order, the run history,
every callback called with the same arguments in the same order. The work is cut into
kernel calls by what the callbacks need:

- blocks of many epochs, when the only epoch hook is one that can be replayed afterwards
  (the ``TerminateOnNaN`` that checks epochs, whose check the kernel does itself, stopping
  at the first bad epoch; ``LossHistory`` has no hook there, it reads the run history);
- one epoch per call, when another callback listens at epoch ends (it may read the
  weights or stop training), or the source has validation data (its loss is numpy's);
- one batch per call, when a callback listens to ``on_batch_end``: about 10 µs of call
  overhead per batch, most of what the compiled engine saves on a network the blog's size.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..core.callbacks import TerminateOnNaN
from ..core.layers import Dense
from ..core.losses import MSE
from ..core.network import Network
from ..core.optimizers import SGD
from . import kernels as k
from .support import ACTIVATION_KERNELS, LOSS_KERNELS, OPTIMIZER_KERNELS

Array = np.ndarray
# The most permutation entries one block draws at once: (epochs, n) int64, 8 MB.
BLOCK_ENTRIES = 1 << 20
# The most networks of a stack one kernel call trains side by side, in lanes: 64 keeps a
# group's buffers for the blog's network in a core's first-level cache (sigmoid blog
# networks, one thread: 0.22 µs an update and network at 8 lanes, 0.16 at 64, no better
# beyond).
LANES = 64
# The fewest updates (of all the stack's networks together) a kernel call hands out to
# threads: handing work to a waiting thread and back costs about 0.1 ms, the time of
# about 600 blog-network updates. Fewer run in the calling thread (an epoch hook makes a
# call per epoch: 10 blog networks then took 0.19 ms an epoch on threads, 0.07 without).
THREADED = 2000
# The orders of a run that does not shuffle: one empty row, which the kernel never reads.
NO_ORDERS = np.zeros((1, 0), np.int64)


def _offset(view: Array, base: Array) -> int:
    """Where ``view`` starts inside the flat array ``base``, in elements."""
    return (view.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // (
        base.itemsize
    )


class _Plan:
    """A run's tables and buffers for the kernels, made once per fit.

    One network trains through ``train``. A stack of N networks (``minifw.stack``) through
    ``train_lanes``, in groups of at most ``LANES`` networks side by side, the groups shared
    out to threads on every core (the kernels release the GIL). The tables are one
    network's: every network of a stack has the same layers. The weights, state and
    buffers hold a row per network, which a group turns into lanes for its kernel call.
    """

    def __init__(self, trainer: Any, n: int) -> None:
        network, loss, optimizer = trainer.network, trainer.loss, trainer.optimizer
        dtype = network.dtype
        self.dtype, self.packed, self.stacked = dtype, network.packed, network.copies is not None
        self.copies = copies = network.copies or 1
        self.w = network.packed.value.reshape(copies, -1)  # views: the kernels update in place
        self.g = network.packed.grad.reshape(copies, -1)
        layers: list[Dense] = network.layers
        self.rows = min(trainer.batch_size, n)
        self.layout = np.zeros((len(layers), 7), np.int64)
        self.alphas = np.zeros(len(layers), dtype)
        at = self.rows * layers[0].n_in  # the batch's inputs come first
        for i, layer in enumerate(layers):
            weights, bias = layer.weights, layer.bias  # the views into packed Network made
            self.layout[i] = (
                layer.n_in,
                layer.n_out,
                _offset(weights, self.w),  # in the first network's row: every row's
                -1 if bias is None else _offset(bias, self.w),
                getattr(k, ACTIVATION_KERNELS[type(layer.activation)]),
                at - self.rows * layer.n_in,
                at,
            )
            self.alphas[i] = getattr(layer.activation, "alpha", 0.0)
            at += self.rows * layer.n_out
        self.acts = np.zeros((copies, at), dtype)
        self.zs = np.zeros((copies, at), dtype)
        self.grads = np.zeros((copies, at), dtype)
        self.target = np.zeros((copies, self.rows * layers[-1].n_out), dtype)
        limit = float(-k_exp_low(dtype))
        self.consts = np.array([1.0, 0.5, -limit, limit], dtype)
        self.loss = getattr(k, LOSS_KERNELS[type(loss)])
        if self.loss == k.HUBER:
            self.lc = np.array([loss.delta, 0.5 * loss.delta], dtype)
        elif self.loss == k.BCE:
            self.lc = np.array([loss.epsilon, 1.0 - loss.epsilon], dtype)
        else:
            self.lc = np.zeros(2, dtype)
        self._optimizer(optimizer)
        self.prev = np.empty_like(self.w)
        self.totals = np.zeros((copies, 1))
        self.last = np.zeros((copies, 1))  # the last batch's loss
        self.scratch = np.zeros((copies, 1), dtype)  # where the kernel rounds to the dtype
        self.layers = layers
        # A stack's groups of neighbouring networks, at least one per core and at most LANES
        # each (a group's buffers then stay in the core's fastest cache), on threads.
        groups = max(min(copies, os.cpu_count() or 1), -(-copies // LANES))
        self.bounds = np.linspace(0, copies, groups + 1).astype(int)
        self.pool: ThreadPoolExecutor | None = None

    def _optimizer(self, optimizer: Any) -> None:
        """The rule's code, constants and state arrays (the optimizer's own, made as it would)."""
        dtype, packed, copies = self.dtype, self.packed, self.copies
        hyper = np.zeros(6)
        hyper[k.H_WD] = optimizer.weight_decay
        self.settings = np.array([optimizer.clip_norm or 0.0, 0.0, 0.0])
        rule = getattr(k, OPTIMIZER_KERNELS[type(optimizer)])
        progress = optimizer.progress  # the engine steps for the optimizer: it keeps its books
        self.progress = progress
        state = progress.states.get(id(packed))
        if state is None:
            state = progress.start(packed)
        self.state, self.counters = state, np.zeros((copies, 1), np.int64)
        empty = np.zeros((copies, 0), dtype)
        self.state1 = self.state2 = empty
        value = packed.value
        if rule == k.SGD and optimizer.momentum:
            rule = k.NESTEROV if optimizer.nesterov else k.MOMENTUM
            hyper[0] = optimizer.momentum
            self.state1 = state.setdefault("velocity", np.zeros_like(value))
        elif rule == k.RMSPROP:
            hyper[:3] = optimizer.rho, 1.0 - optimizer.rho, optimizer.epsilon
            self.state1 = state.setdefault("square_average", np.zeros_like(value))
        elif rule == k.ADAM:
            b1, b2 = optimizer.beta1, optimizer.beta2
            hyper[:5] = b1, 1.0 - b1, b2, 1.0 - b2, optimizer.epsilon
            self.settings[1:] = b1, b2
            if not state:
                state.update(t=0, m=np.zeros_like(value), v=np.zeros_like(value))
            self.state1, self.state2 = state["m"], state["v"]
            self.counters[:] = state["t"]
        self.state1 = self.state1.reshape(copies, -1)
        self.state2 = self.state2.reshape(copies, -1)
        self.rule, self.hyper = rule, hyper.astype(dtype)
        self.optimizer = optimizer

    def rates(self, updates: int) -> Array:
        """The learning rate of each of the next ``updates`` updates, as the optimizer asks:
        one row per update (one row in all without a schedule), one column per network."""
        optimizer = self.optimizer
        t = self.progress.iterations
        if optimizer.schedule is None:
            rates = [optimizer.lr]
        else:
            schedule, lr = optimizer.schedule, optimizer.lr
            rates = [schedule(lr, t + u) for u in range(updates)]
        table = np.array(rates, self.dtype).reshape(len(rates), -1)  # a stack's lr is (N, 1)
        # Always a new, writable array: a read-only one (the broadcast view, when nothing needs
        # copying) is another type to numba, and would cost a second compile of the kernel.
        return np.array(np.broadcast_to(table, (len(rates), self.copies)).T, order="C")

    def stepped(self, updates: int) -> None:
        """Book ``updates`` kernel updates with the optimizer, as ``step`` would have."""
        if not updates:
            return
        progress, optimizer = self.progress, self.optimizer
        t = progress.iterations + updates - 1
        lr = optimizer.lr if optimizer.schedule is None else optimizer.schedule(optimizer.lr, t)
        progress.iterations = t + 1
        if lr is not progress.lr and (isinstance(lr, np.ndarray) or lr != progress.lr):
            progress.lr, progress.lr_array = lr, np.asarray(lr, dtype=progress.dtype)
        if self.rule == k.ADAM:
            self.state["t"] = int(self.counters[0, 0])

    def expose(self, rows: int) -> None:
        """Point each Dense layer's cache at the kernel's buffers for a batch of ``rows``, as
        a forward leaves it: ``pre_activation`` (the divergence diagnosis reads it) is then
        the last batch's, kept current by the kernel with no work per call."""
        copies = self.copies
        for i, layer in enumerate(self.layers):
            n_in, n_out, *_, at_in, at_out = (int(v) for v in self.layout[i])
            views = [
                buffer[:, at : at + rows * width].reshape(copies, rows, width)
                for buffer, at, width in (
                    (self.acts, at_in, n_in),
                    (self.zs, at_out, n_out),
                    (self.acts, at_out, n_out),
                )
            ]
            # One network's are 2-D: the engine runs the layer's forward.
            layer.remember(*(views if self.stacked else [view[0] for view in views]))

    def losses(self, done: int, n: int) -> list[Any]:
        """Each of the last ``done`` epochs' mean loss: a float, or a stack's array of N."""
        means = self.totals[:, :done] / n
        if not self.stacked:
            return means[0].tolist()
        return list(means.T.astype(self.dtype))

    def last_loss(self) -> Any:
        """The last batch's loss: a float, or a stack's array of N."""
        return float(self.last[0, 0]) if not self.stacked else self.last[:, 0].astype(self.dtype)

    def run(
        self, x: Array, y: Array, orders: Array, first: int, stop: int, epochs: int, guard: bool
    ) -> int:
        """Epochs of batches [first, stop) through the kernel, every network's; the number run
        (a stack's runs them all: each network's divergence is its own business)."""
        if self.totals.shape[1] < epochs:
            self.totals = np.zeros((self.copies, epochs))
        rates = self.rates(epochs * (stop - first))
        common = (self.layout, self.alphas, self.consts, x, y, orders, self.rows, first, stop,
                  epochs, self.loss, self.lc, self.rule, self.hyper, self.settings)  # fmt: skip
        if not self.stacked:
            return k.train(
                self.w[0], self.g[0], *common, rates[0], self.state1[0], self.state2[0],
                self.counters[0], self.acts[0], self.zs[0], self.grads[0], self.target[0],
                self.prev[0], guard, self.totals[0], self.last[0], self.scratch[0],
            )  # fmt: skip
        bounds = self.bounds

        def group(i: int) -> int:
            return self._lanes(bounds[i], bounds[i + 1], common, rates)

        if epochs * (stop - first) * self.copies < THREADED:  # too little to hand out
            return min(group(i) for i in range(len(bounds) - 1))
        if self.pool is None:  # made once a fit: starting threads costs ~1 ms a call
            self.pool = ThreadPoolExecutor(min(len(bounds) - 1, os.cpu_count() or 1))
        return min(self.pool.map(group, range(len(bounds) - 1)))

    def close(self) -> None:
        """Let the stack's threads go, if it started any."""
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    def _lanes(self, lo: int, hi: int, common: tuple[Any, ...], rates: Array) -> int:
        """Networks [lo, hi) of the stack through ``train_lanes``: their rows of the weights,
        state and buffers turned into lanes (entry-major), trained, and turned back."""

        def lanes(rows: Array) -> Array:
            return np.ascontiguousarray(rows[lo:hi].T)

        def fresh(rows: Array) -> Array:  # what the kernel writes before it reads: no copy in
            return np.zeros((rows.shape[1], hi - lo), rows.dtype)

        read = [self.w, self.state1, self.state2]
        written = [self.g, self.acts, self.zs, self.grads]
        turned = [lanes(a) for a in read] + [fresh(a) for a in written]
        w, state1, state2, g, acts, zs, grads = turned
        count = hi - lo
        done = k.train_lanes(
            w, g, *common, lanes(rates), state1, state2, self.counters[lo], acts, zs, grads,
            self.target[lo], self.totals[lo:hi], self.last[lo:hi].reshape(-1),
            self.scratch[lo], np.zeros(count, self.dtype), np.zeros(count),
        )  # fmt: skip
        for array, lanes_first in zip(read + written, turned, strict=True):
            array[lo:hi] = lanes_first.T
        self.counters[lo:hi] = self.counters[lo]  # the networks of a stack step together
        return done


def ready(dtype: np.dtype, stacked: bool = False) -> float | None:
    """Make the kernel for ``dtype`` (a stack's, if ``stacked``) ready before a fit starts its
    clock: numba compiles it on a process's first such fit, or loads it from its disk cache.

    Returns the seconds a compile took, or None if nothing was compiled (loaded from the
    cache, or ready already): the first run after installing compiles for a few seconds,
    which is not training, so ``Trainer.fit`` calls this before its ``Timer`` starts and
    the command line says so in one line. The call trains a one-weight network (two, for
    a stack) for no epochs, through the same tables a real fit makes, so it has the same
    signature.
    """
    dtype = np.dtype(dtype)
    kernel = k.train_lanes if stacked else k.train
    if any(str(signature[0].dtype) == dtype.name for signature in kernel.signatures):
        return None  # compiled or loaded already, in this process
    misses = sum(kernel.stats.cache_misses.values())
    began = time.perf_counter()
    network = Network([Dense(1, 1, copies=2 if stacked else None)], dtype=dtype)
    plan = _Plan(SimpleNamespace(network=network, loss=MSE(), optimizer=SGD(), batch_size=1), 1)
    x = np.zeros((1, 1), dtype)
    plan.run(x, x, NO_ORDERS, 0, 1, 0, False)
    plan.close()
    compiled = sum(kernel.stats.cache_misses.values()) > misses
    return time.perf_counter() - began if compiled else None


def k_exp_low(dtype: np.dtype) -> float:
    """The sigmoid's lower input bound in ``dtype``, as ``minifw.core.activations`` sets it."""
    return -math.floor(-math.log(np.finfo(dtype).smallest_normal))


def _replayable(callback: Any, stacked: bool) -> bool:
    """Whether ``callback``'s epoch hooks may run after a block of epochs, all at once (the
    epoch guard's check the kernel does itself, but not a stack's: it checks every epoch)."""
    return type(callback) is TerminateOnNaN and callback.check == "epoch" and not stacked


def train(trainer: Any, x: Array, y: Array, validation: Any, epochs: int) -> dict[str, float]:
    """``epochs`` epochs of the run as ``Trainer.fit`` trains them, on the kernels.

    ``x`` and ``y`` are the checked training arrays (never changed); returns the last
    epoch's logs. Called after ``on_train_begin``; the caller calls ``on_train_end``.
    """
    n = x.shape[0]
    # Writable, as in ``ready``: a read-only array (a source's kept data) is another type to
    # numba, which would load or compile a second kernel for it.
    x, y = (np.require(a, trainer.network.dtype, ["C", "W"]) for a in (x, y))
    plan = _Plan(trainer, n)
    try:
        return _epochs(trainer, plan, x, y, validation, epochs)
    finally:
        plan.close()


def _epochs(
    trainer: Any, plan: _Plan, x: Array, y: Array, validation: Any, epochs: int
) -> dict[str, float]:
    """``train``'s loop: the epochs in kernel calls, the callbacks between them."""
    n = x.shape[0]
    batches = -(-n // trainer.batch_size)
    plan.expose(n - (batches - 1) * trainer.batch_size)
    callbacks = trainer.callbacks
    epoch_begin = [c for c in callbacks if c.listens_to("on_epoch_begin")]
    batch_end = [c for c in callbacks if c.listens_to("on_batch_end")]
    listening = [c for c in callbacks if c.listens_to("on_epoch_end") or c in epoch_begin]
    # Metrics are measured at each epoch's end, so an epoch with metrics is never bulk.
    blocks = (
        validation is None
        and not trainer.metrics
        and all(_replayable(c, plan.stacked) for c in listening)
    )
    guard = not plan.stacked and any(
        type(c) is TerminateOnNaN and c.check == "epoch" for c in callbacks
    )
    logs: dict[str, float] = {}
    epoch = 0
    while epoch < epochs and not trainer.stop_training:
        if batch_end:
            logs = _epoch_by_batches(trainer, plan, x, y, validation, epoch, epoch_begin, batch_end)
            epoch += 1
            continue
        count = min(epochs - epoch, max(1, BLOCK_ENTRIES // n)) if blocks else 1
        for callback in epoch_begin:
            callback.on_epoch_begin(trainer, epoch)
        orders, rewind = _orders(trainer, n, count) if trainer.shuffle else (NO_ORDERS, None)
        done = plan.run(x, y, orders, 0, batches, count, guard and count > 1)
        plan.stepped(done * batches)
        if done < count and rewind is not None:
            rewind(done)  # the generator and order as if only `done` epochs had drawn theirs
        bad = done < count or (guard and count > 1 and not _finite(plan, done))
        losses = plan.losses(done, n)
        # Epochs no callback needs to see one by one (replayable hooks only): recorded in
        # bulk. The guard needs the last good epoch (its weights) and the bad one, if any.
        bulk = max(0, done - (2 if bad else 1))
        if bulk:
            # What Trainer.end_epoch records for {"loss": ...}, one epoch at a time.
            trainer.run_history.setdefault("loss", []).extend(losses[:bulk])
        weights = trainer.network.packed.value
        diverged = weights.copy() if bad else None
        if bad:  # the epochs before the bad one end with the weights it started from
            np.copyto(weights, plan.prev.reshape(weights.shape))
        for i in range(bulk, done):
            if i:
                for callback in epoch_begin:
                    callback.on_epoch_begin(trainer, epoch + i)
            if diverged is not None and i == done - 1:
                np.copyto(weights, diverged)
            logs = trainer.end_epoch(epoch + i, losses[i], validation)
            if trainer.stop_training:
                break
        epoch += done
    return logs


def _finite(plan: _Plan, done: int) -> bool:
    """Whether the block's last epoch ended with a finite loss and finite weights."""
    return math.isfinite(plan.totals[0, done - 1]) and math.isfinite(np.add.reduce(plan.w[0]))


def _orders(trainer: Any, n: int, count: int) -> tuple[Array, Any]:
    """The shuffled orders of the next ``count`` epochs, drawn as the numpy loop draws them.

    Each epoch's permutation comes from ``trainer.rng.permutation(n)`` in the numpy loop;
    ``permuted`` of a (count, n) table of aranges along axis 1 draws the same numbers in
    one call. Returns the orders and a function that rewinds the generator and the order
    to where they would be after only the first ``done`` epochs.
    """
    rng, kept = trainer.rng, trainer.order
    start_state, start_order = rng.bit_generator.state, kept.copy()
    permutations = rng.permuted(np.tile(np.arange(n, dtype=np.int64), (count, 1)), axis=1)
    orders = np.empty((count, n), np.int64)
    order = kept.astype(np.int64)
    k.compose(order, permutations, orders)
    kept[...] = order

    def rewind(done: int) -> None:
        rng.bit_generator.state = start_state
        rng.permuted(np.tile(np.arange(n), (done, 1)), axis=1)
        kept[...] = orders[done - 1] if done else start_order

    return orders, rewind


def _epoch_by_batches(
    trainer: Any,
    plan: _Plan,
    x: Array,
    y: Array,
    validation: Any,
    epoch: int,
    epoch_begin: list[Any],
    batch_end: list[Any],
) -> dict[str, float]:
    """One epoch, one kernel call per batch, the batch hooks called after each: the numpy loop."""
    n = x.shape[0]
    batch_size = trainer.batch_size
    batches = -(-n // batch_size)
    orders = _orders(trainer, n, 1)[0] if trainer.shuffle else NO_ORDERS
    for callback in epoch_begin:
        callback.on_epoch_begin(trainer, epoch)
    total, seen = 0.0, 0
    for b in range(batches):
        plan.run(x, y, orders, b, b + 1, 1, False)
        plan.stepped(1)
        rows = min(batch_size, n - b * batch_size)
        plan.expose(rows)
        value = plan.last_loss()
        total += plan.losses(1, 1)[0]
        seen += rows
        for callback in batch_end:
            callback.on_batch_end(trainer, b, {"loss": value})
        if trainer.stop_training:
            break
    return trainer.end_epoch(epoch, total / seen, validation)
