"""Writing files so that a failure never leaves a half-written one behind.

Every write goes to a temporary file beside the file it replaces, named
``.NAME.PID-XXXXXXXX.tmp`` (the writer's process id, then eight random characters),
which replaces the file in one step. A process killed mid-write leaves its temporary
file behind; the next write to the same file removes such debris once its writer is
gone (see ``_remove_debris``). A path that is a symbolic link is written through: the
link's target is replaced, in the target's directory, and the link keeps pointing at it.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    """The process's file-creation mask (read by setting it, so read once, at import)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# The permissions a plain open() would give a new file: mkstemp makes its files private (0600).
_NEW_FILE_MODE = 0o666 & ~_umask()
# A temporary file left by a killed writer is removed once it is this old and its writer is
# gone: a live writer, even on another machine sharing the directory, finishes long before.
DEBRIS_AGE = 60.0  # seconds
# Temporary files of minifw before the writer's id was in their name: removed once a day old.
LEGACY_DEBRIS_AGE = 86_400.0
# The directory beside a file is searched for debris at most this often per file, so that
# a checkpoint written every second does not list its directory every second.
_DEBRIS_SCAN_EVERY = 60.0
_last_scan: dict[Path, float] = {}
_scan_lock = threading.Lock()


def _target(path: str | Path) -> Path:
    """The file a write to ``path`` replaces: a symbolic link's target (through every link in
    the path), so that the link is not replaced by a regular file and keeps working."""
    return Path(os.path.realpath(path))


def _temporary(path: str | Path, target: Path) -> tuple[int, Path]:
    """A new private file beside ``target`` (open descriptor, path), named as the module doc
    says; an OSError names ``path``, the file asked for, not the temporary one never made."""
    try:
        fd, name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.{os.getpid()}-", suffix=".tmp"
        )
    except OSError as error:
        # OSError(errno, ...) is the matching subclass: FileNotFoundError, PermissionError, ...
        raise OSError(error.errno, error.strerror, str(path)) from None
    return fd, Path(name)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists here; True where that cannot be told safely."""
    if os.name != "posix":  # Windows: os.kill(pid, 0) would terminate the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, another user's
        return True
    return True


def _remove_debris(target: Path) -> None:
    """Remove the temporary files that killed writes to ``target`` left beside it.

    Only files of minifw's own naming for this very target are touched, and only
    those whose writer process no longer exists and that are older than
    ``DEBRIS_AGE`` (or, named the old way without a process id, older than a day).
    """
    now = time.monotonic()
    with _scan_lock:
        if now - _last_scan.get(target, -math.inf) < _DEBRIS_SCAN_EVERY:
            return
        if len(_last_scan) > 1000:  # one file per checkpoint ("run-{epoch}.npz"): stay small
            _last_scan.clear()
        _last_scan[target] = now
    name = re.escape(target.name)
    current = re.compile(rf"\.{name}\.(\d+)-[a-z0-9_]{{8}}\.tmp")
    legacy = re.compile(rf"\.{name}\.[a-z0-9_]{{8}}\.tmp")
    try:
        entries = list(os.scandir(target.parent))
    except OSError:  # an unreadable directory: the write itself will say what is wrong
        return
    wall = time.time()
    for entry in entries:
        match = current.fullmatch(entry.name)
        if match is None and legacy.fullmatch(entry.name) is None:
            continue
        try:
            age = wall - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        stale = (
            age > DEBRIS_AGE and not process_alive(int(match[1]))
            if match is not None
            else age > LEGACY_DEBRIS_AGE
        )
        if stale:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step.

    If the body raises, the temporary file is removed and ``path`` keeps its
    old contents byte for byte (``os.replace`` is atomic on one file system).
    The new file gets the old one's permissions, or a new file's (umask applied).
    A ``path`` that is a symbolic link is written through to its target, which
    is replaced; the link stays. Debris of earlier writes killed midway is
    removed first (see the module doc).
    """
    target = _target(path)
    _remove_debris(target)
    fd, tmp = _temporary(path, target)
    os.close(fd)
    try:
        yield tmp
        try:
            mode = target.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = _NEW_FILE_MODE
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def check_writable(path: str | Path) -> None:
    """Raise OSError naming ``path`` unless a file can be written there now.

    Creates a probe file beside ``path``'s target (through symbolic links, where
    ``atomic_path`` will write), writes a byte to it and removes it, so that a
    directory that is missing, read-only, another user's or on a full disk is found
    before hours of training rather than after. A ``path`` that is a directory is
    refused too (IsADirectoryError). Nothing else is created or changed: an
    existing file at ``path`` is left alone.
    """
    target = _target(path)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    fd, probe = _temporary(path, target)
    try:
        os.write(fd, b"\0")  # a full disk refuses the first block, not the empty file
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from None
    finally:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(probe)
