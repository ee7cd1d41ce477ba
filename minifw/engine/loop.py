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
# The orders of a run that does not shuffle: one empty row, which the kernel never reads.
NO_ORDERS = np.zeros((1, 0), np.int64)


def _offset(view: Array, base: Array) -> int:
    """Where ``view`` starts inside the flat array ``base``, in elements."""
    return (view.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // (
        base.itemsize
    )


class _Plan:
    """A run's tables and buffers for the kernels, made once per fit.

    A stack of N networks (``minifw.stack``) is N runs of the one kernel, each on its
    network's row of the packed weights, the optimizer's state and the buffers, side by
    side on every core: the kernel releases the GIL, so Python threads run them at once.
    (One scalar kernel called per network, rather than a second, parallel one: numba
    compiles nothing more for stacks, and each network's arithmetic is the single
    network's.) A single network is a stack of one here.
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
            weights = layer._w.value  # the views into packed that Network made
            bias = None if layer._b is None else layer._b.value
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

    def _optimizer(self, optimizer: Any) -> None:
        """The rule's code, constants and state arrays (the optimizer's own, made as it would)."""
        dtype, packed, copies = self.dtype, self.packed, self.copies
        hyper = np.zeros(6)
        hyper[k.H_WD] = optimizer.weight_decay
        self.settings = np.array([optimizer.clip_norm or 0.0, 0.0, 0.0])
        rule = getattr(k, OPTIMIZER_KERNELS[type(optimizer)])
        progress = optimizer._progress  # the engine steps for the optimizer: it keeps its books
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
            # Dense's own cache: the engine runs its forward. One network's are 2-D.
            layer._cache[:] = views if self.stacked else [view[0] for view in views]

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

        def network(i: int) -> int:
            return k.train(
                self.w[i], self.g[i], self.layout, self.alphas, self.consts, x, y, orders,
                self.rows, first, stop, epochs, self.loss, self.lc, self.rule, self.hyper,
                self.settings, rates[i], self.state1[i], self.state2[i], self.counters[i],
                self.acts[i], self.zs[i], self.grads[i], self.target[i], self.prev[i],
                guard and not self.stacked, self.totals[i], self.last[i], self.scratch[i],
            )  # fmt: skip

        if self.copies == 1:
            return network(0)
        workers = min(self.copies, os.cpu_count() or 1)
        # Each thread a run of neighbouring networks: rows that two threads wrote side by
        # side would share cache lines, which the cores would pass back and forth.
        bounds = np.linspace(0, self.copies, workers + 1).astype(int)
        with ThreadPoolExecutor(workers) as pool:
            shares = pool.map(lambda w: [network(i) for i in range(bounds[w], bounds[w + 1])],
                              range(workers))  # fmt: skip
            return min(min(share) for share in shares)


def ready(dtype: np.dtype) -> float | None:
    """Make the kernels for ``dtype`` ready before a fit starts its clock: numba compiles
    them on a process's first compiled fit, or loads them from its disk cache.

    Returns the seconds a compile took, or None if nothing was compiled (loaded from the
    cache, or ready already): the first run after installing compiles for a few seconds,
    which is not training, so ``Trainer.fit`` calls this before its ``Timer`` starts and
    the command line says so in one line. The call trains a one-weight network for no
    epochs, through the same tables a real fit makes, so it has the same signature.
    """
    dtype = np.dtype(dtype)
    if any(str(signature[0].dtype) == dtype.name for signature in k.train.signatures):
        return None  # compiled or loaded already, in this process
    misses = sum(k.train.stats.cache_misses.values())
    began = time.perf_counter()
    network = Network([Dense(1, 1)], dtype=dtype)
    plan = _Plan(SimpleNamespace(network=network, loss=MSE(), optimizer=SGD(), batch_size=1), 1)
    x = np.zeros((1, 1), dtype)
    plan.run(x, x, NO_ORDERS, 0, 1, 0, False)
    compiled = sum(k.train.stats.cache_misses.values()) > misses
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
    batch_size = trainer.batch_size
    batches = -(-n // batch_size)
    last_rows = n - (batches - 1) * batch_size
    x = np.ascontiguousarray(x, dtype=trainer.network.dtype)
    y = np.ascontiguousarray(y, dtype=trainer.network.dtype)
    plan = _Plan(trainer, n)
    plan.expose(last_rows)
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
            # What Trainer._end_epoch records for {"loss": ...}, one epoch at a time.
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
            logs = trainer._end_epoch(epoch + i, losses[i], validation)
            if trainer.stop_training:
                break
        epoch += done
    return logs


def _finite(plan: _Plan, done: int) -> bool:
    """Whether the block's last epoch ended with a finite loss and finite weights."""
    return math.isfinite(plan.totals[0, done - 1]) and math.isfinite(np.add.reduce(plan.w[0]))


def _orders(trainer: Any, n: int, count: int) -> tuple[Array, Any]:
    """The shuffled orders of the next ``count`` epochs, drawn as the numpy loop draws them.

    Each epoch's permutation comes from ``trainer._rng.permutation(n)`` in the numpy loop;
    ``permuted`` of a (count, n) table of aranges along axis 1 draws the same numbers in
    one call. Returns the orders and a function that rewinds the generator and the order
    to where they would be after only the first ``done`` epochs.
    """
    rng = trainer._rng
    start_state, start_order = rng.bit_generator.state, trainer._order.copy()
    permutations = rng.permuted(np.tile(np.arange(n, dtype=np.int64), (count, 1)), axis=1)
    orders = np.empty((count, n), np.int64)
    order = trainer._order.astype(np.int64)
    k.compose(order, permutations, orders)
    trainer._order[...] = order

    def rewind(done: int) -> None:
        rng.bit_generator.state = start_state
        rng.permuted(np.tile(np.arange(n), (done, 1)), axis=1)
        trainer._order[...] = orders[done - 1] if done else start_order

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
    return trainer._end_epoch(epoch, total / seen, validation)
