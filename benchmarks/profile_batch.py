"""Where one batch of the blog task spends its time: every call it makes, and their cost.

Traces one batch of the numpy engine's ``Trainer.fit`` on the blog's sigmoid network
(2-5-1, batch 4): each Python function entered (``sys.setprofile``) and each numpy
call made (ufuncs, ``@``, ``*``, ``np.exp``, ... seen through ``__array_ufunc__`` of an
ndarray subclass that the batch's arrays are viewed as), in order. Then times
batches of the numpy engine without tracing: the mean time of one batch in the
framework, against one batch of the blog's own loop (``minifw.run.blog.blog_loop``),
and the cost of one numpy call on arrays this small, to split the batch into numpy
time and Python overhead.

    python benchmarks/profile_batch.py
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from types import FrameType
from typing import Any

import numpy as np

import minifw
from minifw.run.blog import blog_loop

CALLS: list[str] = []


class Traced(np.ndarray):
    """An ndarray that notes every ufunc applied to it in ``CALLS``, then computes as usual."""

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        CALLS.append(f"np {ufunc.__name__}" + ("" if method == "__call__" else f".{method}"))
        plain = [i.view(np.ndarray) if isinstance(i, Traced) else i for i in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(o.view(np.ndarray) for o in kwargs["out"])
        result = getattr(ufunc, method)(*plain, **kwargs)
        return result.view(Traced) if isinstance(result, np.ndarray) else result


def trace_one_batch() -> list[str]:
    """The calls one batch makes: 'py name' for Python functions, 'np name' for numpy ufuncs."""
    run = minifw.presets.blog("sigmoid", seed=0)
    run.trainer.engine = "numpy"  # the default engine would run compiled kernels
    run.fit(1)  # warm: the optimizer has its state
    trainer, network = run.trainer, run.network
    # The packed parameters as Traced views of the same memory: the layers' arrays are views
    # into them, so every operation on a weight, a gradient or the data is noted.
    network.packed.value = network.packed.value.view(Traced)
    network.packed.grad = network.packed.grad.view(Traced)
    for layer in network.layers:
        for p in layer.parameters():
            p.value, p.grad = p.value.view(Traced), p.grad.view(Traced)
    x, y = run.source.arrays()
    xb, yb = x[:4].view(Traced), network.normaliser.forward(y[:4]).view(Traced)

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_qualname != "Traced.__array_ufunc__":
            CALLS.append(f"py {frame.f_code.co_qualname}")

    CALLS.clear()
    sys.setprofile(profile)
    _, grad = trainer.loss.value_and_gradient(network.forward(xb), yb)
    network.backward(grad)
    trainer.optimizer.step([network.packed])
    sys.setprofile(None)
    return [call for call in CALLS if not call.startswith("py Traced")]


def seconds_per_batch(epochs: int = 3000) -> tuple[float, float]:
    """Mean seconds of one batch: the numpy engine, and the blog's loop (8 batches an epoch)."""
    run = minifw.presets.blog("sigmoid", seed=0)
    run.trainer.engine = "numpy"  # the reference this script profiles, not the compiled kernels
    hidden, output = run.network.layers
    wh, wz = np.vstack([hidden.bias, hidden.weights]), output.weights.copy()
    batches = epochs * 8
    start = time.perf_counter()
    run.fit(epochs)
    framework = (time.perf_counter() - start) / batches
    start = time.perf_counter()
    blog_loop("sigmoid", wh, wz, epochs)
    return framework, (time.perf_counter() - start) / batches


def seconds_per_numpy_call(repeats: int = 200_000) -> float:
    """The cost of one small numpy call (a (4, 5) array times a 0-d array), in seconds."""
    a, b = np.ones((4, 5)), np.array(0.5)
    start = time.perf_counter()
    for _ in range(repeats):
        np.multiply(a, b)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    calls = trace_one_batch()
    python = [c for c in calls if c.startswith("py")]
    native = [c for c in calls if c.startswith("np")]
    print(f"one batch of the blog task: {len(python)} Python functions, {len(native)} numpy calls")
    print("in order:")
    for call in calls:
        print(f"  {call}")
    print("numpy calls by name:")
    for name, count in Counter(c[3:] for c in native).most_common():
        print(f"  {count:>3}  {name}")
    for_framework, for_plain = seconds_per_batch()
    per_call = seconds_per_numpy_call()
    numpy_part = per_call * len(native)
    print(f"one batch: minifw {for_framework * 1e6:.1f} µs, blog's loop {for_plain * 1e6:.1f} µs")
    rest = (for_framework - numpy_part) * 1e6
    print(
        f"one small numpy call: {per_call * 1e6:.2f} µs; {len(native)} of them: "
        f"{numpy_part * 1e6:.1f} µs; the rest of minifw's batch, {rest:.1f} µs, is Python "
        "around them (function calls, attribute look-ups, the loop)"
    )


if __name__ == "__main__":
    main()
