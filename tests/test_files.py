"""Atomic writes: all or nothing, with the permissions a plain write would give."""

import os
import stat

import pytest

from minifw.files.atomic import atomic_path


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_permissions_open_would_give(tmp_path):
    with atomic_path(tmp_path / "new.txt") as tmp:
        tmp.write_text("x")
    (tmp_path / "plain.txt").write_text("x")  # open() applies the umask to 0666
    assert mode(tmp_path / "new.txt") == mode(tmp_path / "plain.txt")
    assert mode(tmp_path / "new.txt") & 0o044  # readable by others, unlike mkstemp's 0600


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "old.txt"
    path.write_text("old")
    os.chmod(path, 0o640)
    with atomic_path(path) as tmp:
        tmp.write_text("new")
    assert path.read_text() == "new" and mode(path) == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "old.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["old.txt"]
