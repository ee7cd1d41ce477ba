"""Atomic writes: all or nothing, with the permissions a plain write would give."""

import os
import re
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from minifw.files import atomic
from minifw.files.atomic import atomic_path, check_writable


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


# Symbolic links ----------------------------------------------------------------------------


def test_a_write_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "v1.npz"
    target.write_text("old")
    link = tmp_path / "current.npz"
    link.symlink_to(Path("models") / "v1.npz")  # relative, as such links usually are
    with atomic_path(link) as tmp:
        assert tmp.parent == target.parent  # written beside the target: one file system
        tmp.write_text("new")
    assert link.is_symlink() and os.readlink(link) == str(Path("models") / "v1.npz")
    assert target.read_text() == "new" and link.read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["current.npz", "models"]
    assert os.listdir(tmp_path / "models") == ["v1.npz"]


def test_a_model_saved_through_a_symlink_keeps_the_link(tmp_path):
    import minifw

    network = minifw.presets.blog().network
    (tmp_path / "v1.npz").write_bytes(b"")
    (tmp_path / "current.npz").symlink_to("v1.npz")
    minifw.save(network, tmp_path / "current.npz")
    assert (tmp_path / "current.npz").is_symlink()
    assert minifw.load(tmp_path / "v1.npz").packed.value.tolist() == network.packed.value.tolist()


def test_a_dangling_symlink_is_written_through_to_the_file_it_names(tmp_path):
    (tmp_path / "link.txt").symlink_to("made.txt")
    with atomic_path(tmp_path / "link.txt") as tmp:
        tmp.write_text("x")
    assert (tmp_path / "link.txt").is_symlink() and (tmp_path / "made.txt").read_text() == "x"


# Debris of killed writes -------------------------------------------------------------------

KILLED = textwrap.dedent(
    """
    import os, sys
    from minifw.files.atomic import atomic_path
    with atomic_path(sys.argv[1]) as tmp:
        tmp.write_bytes(b"half a model")
        os._exit(9)  # killed mid-write: nothing after this runs
    """
)


def killed_write(path):
    """The temporary file a process killed while writing ``path`` leaves behind."""
    before = set(path.parent.iterdir())
    subprocess.run([sys.executable, "-c", KILLED, str(path)], check=False)
    (left,) = set(path.parent.iterdir()) - before
    return left


def aged(path, seconds):
    past = time.time() - seconds
    os.utime(path, (past, past))
    return path


@pytest.fixture
def fresh_scan(monkeypatch):
    """Forget when each directory was last searched for debris (it is searched once a minute)."""
    monkeypatch.setattr(atomic, "_last_scan", {})


@pytest.mark.usefixtures("fresh_scan")
def test_the_temporary_file_of_a_killed_write_is_removed_by_the_next_write(tmp_path):
    path = tmp_path / "model.npz"
    left = killed_write(path)
    assert re.fullmatch(r"\.model\.npz\.\d+-[a-z0-9_]{8}\.tmp", left.name), left.name
    aged(left, 2 * atomic.DEBRIS_AGE)
    with atomic_path(path) as tmp:
        tmp.write_text("whole")
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


@pytest.mark.usefixtures("fresh_scan")
def test_only_minifws_own_debris_of_that_file_from_a_dead_writer_is_removed(tmp_path):
    path = tmp_path / "model.npz"
    old, hour = 2 * atomic.LEGACY_DEBRIS_AGE, 3600

    def made(name, age):
        (tmp_path / name).touch()
        return aged(tmp_path / name, age)

    removed = {
        aged(killed_write(path), 2 * atomic.DEBRIS_AGE),  # its writer died a while ago
        made(".model.npz.k2j4h5g6.tmp", old),  # an older minifw's name, a day old
    }
    kept = {
        killed_write(path),  # its writer died a moment ago: left for a minute
        made(f".model.npz.{os.getpid()}-abcdefgh.tmp", hour),  # a live writer's
        made(".model.npz.a1b2c3d4.tmp", hour),  # an older minifw's, an hour old
        made(".other.npz.1-abcdefgh.tmp", old),  # another file's
        made("model.npz.1-abcdefgh.tmp", old),  # not minifw's naming
        made(".model.npz.1-abcdefgh.tmp.bak", old),
    }
    with atomic_path(path) as tmp:
        tmp.write_text("whole")
    assert set(tmp_path.iterdir()) == {*kept, path}
    assert not removed & set(tmp_path.iterdir())


# Probing before a long run --------------------------------------------------------------


def test_check_writable_leaves_nothing_behind_and_leaves_an_existing_file_alone(tmp_path):
    (tmp_path / "old.npz").write_text("old")
    check_writable(tmp_path / "old.npz")
    check_writable(tmp_path / "new.npz")
    assert sorted(os.listdir(tmp_path)) == ["old.npz"]
    assert (tmp_path / "old.npz").read_text() == "old"


def read_only_directory(tmp_path):
    """A directory nobody may create files in: a 0555 one, or for root (whom modes do not
    stop) /sys, which the kernel keeps read-only."""
    if os.geteuid() != 0:
        os.chmod(tmp_path, 0o555)
        return tmp_path
    if not os.path.isdir("/sys") or (os.access("/sys", os.W_OK) and _can_create("/sys")):
        pytest.skip("no directory here that root cannot write")
    return Path("/sys")


def _can_create(directory):
    try:
        fd, name = tempfile.mkstemp(dir=directory)
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


@pytest.mark.parametrize(
    ("where", "error"),
    [("read-only", PermissionError), ("missing", FileNotFoundError), ("a directory", OSError)],
)
def test_check_writable_raises_an_os_error_naming_the_path(tmp_path, where, error):
    path = {
        "read-only": lambda: read_only_directory(tmp_path) / "model.npz",
        "missing": lambda: tmp_path / "no" / "such" / "model.npz",
        "a directory": lambda: tmp_path,
    }[where]()
    try:
        with pytest.raises(error) as caught:
            check_writable(path)
    finally:
        os.chmod(tmp_path, 0o755)
    assert str(path) in str(caught.value)
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
