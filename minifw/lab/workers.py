"""The processes a sweep runs on: workers that die with the sweep, SIGTERM as Ctrl-C, fresh pools.

A sweep's groups of runs go to a ``concurrent.futures`` process pool. Three things keep
that sound when processes die:

- ``in_worker(parent, fn, *args)`` runs ``fn`` in a worker that first arranges to die
  with the sweep process ``parent``: on Linux the kernel kills it when its parent dies
  (``PR_SET_PDEATHSIG``), and everywhere a watchdog thread ends it within a second once
  its parent is gone, so that killing a sweep (even with SIGKILL) leaves no worker
  training on for nobody.
- ``sigterm_as_interrupt()`` makes SIGTERM raise KeyboardInterrupt in the sweep process,
  so that ``kill`` stops a sweep the way Ctrl-C does: the finished runs are kept and the
  workers are stopped (``stop_workers``).
- ``fresh_pool(pool)`` makes a new pool like one whose worker died (a dead worker breaks
  a ``ProcessPoolExecutor`` for good), so that the other groups can still run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from ..files.atomic import process_alive

# How often a worker's watchdog looks for its parent, in seconds.
WATCH_EVERY = 0.5
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_watching = False  # whether this process has arranged to die with its parent


def _die_with(parent: int) -> None:
    """Arrange, once per process, for this worker to end when the process ``parent`` does."""
    global _watching
    if _watching or os.getpid() == parent:  # a thread pool's "worker" is the sweep itself
        return
    _watching = True
    # Forked from the sweep, the worker inherited its SIGTERM handler: `kill` of a worker
    # would raise KeyboardInterrupt in the task, which would stop the whole sweep.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # no libc to ask: the watchdog stays
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    started_under = os.getppid()
    if not process_alive(parent):  # it died before the line above: no signal will come
        os._exit(1)

    def watch() -> None:
        while os.getppid() == started_under and process_alive(parent):
            time.sleep(WATCH_EVERY)
        os._exit(1)  # orphaned: whatever it was running is of use to no one

    threading.Thread(target=watch, name="minifw-watchdog", daemon=True).start()


def in_worker(parent: int, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, in a worker process that dies with the sweep process ``parent``."""
    _die_with(parent)
    return fn(*args)


def submit(executor: Executor, fn: Callable[..., Any], *args: Any) -> Any:
    """``executor.submit(fn, *args)``; on a process pool, through ``in_worker``."""
    if isinstance(executor, ProcessPoolExecutor):
        return executor.submit(in_worker, os.getpid(), fn, *args)
    return executor.submit(fn, *args)


def stop_workers(executor: Executor) -> None:
    """Stop a process pool's workers now, whatever they are running (an interrupted sweep's:
    Ctrl-C reaches them too, SIGTERM does not). The pool is broken afterwards."""
    if isinstance(executor, ProcessPoolExecutor):
        # No public way before Python 3.14 (terminate_workers); _processes is pid -> Process.
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                process.terminate()


def fresh_pool(like: ProcessPoolExecutor, workers: int | None = None) -> ProcessPoolExecutor:
    """A new process pool made as ``like`` was (its start method, initializer, size), or
    of ``workers`` processes. Read from its private fields: the pool offers no other way."""
    return ProcessPoolExecutor(
        workers or getattr(like, "_max_workers", None),
        mp_context=getattr(like, "_mp_context", None),
        initializer=getattr(like, "_initializer", None),
        initargs=getattr(like, "_initargs", ()),
    )


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises KeyboardInterrupt here, as Ctrl-C does.

    Only in the main thread (the only one Python delivers signals to) and only where
    SIGTERM has its default action: a handler the program installed itself is kept.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or not hasattr(signal, "SIGTERM")
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
