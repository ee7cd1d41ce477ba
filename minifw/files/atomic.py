"""Writing files so that a failure never leaves a half-written one behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    """The process's file-creation mask (read by setting it, so read once, at import)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# The permissions a plain open() would give a new file: mkstemp makes its files private (0600).
_NEW_FILE_MODE = 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step.

    If the body raises, the temporary file is removed and ``path`` keeps its
    old contents byte for byte (``os.replace`` is atomic on one file system).
    The new file gets the old one's permissions, or a new file's (umask applied).
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:  # name the file asked for, not the temporary one never made
        # OSError(errno, ...) is the matching subclass: FileNotFoundError, PermissionError, ...
        raise OSError(error.errno, error.strerror, str(path)) from None
    os.close(fd)
    try:
        yield Path(tmp)
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = _NEW_FILE_MODE
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
