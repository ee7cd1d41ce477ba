"""Shared pytest setup: make ``tests/helpers.py`` importable as ``helpers``."""

import os
import sys
from pathlib import Path

TESTS_DIR = str(Path(__file__).resolve().parent)
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)


import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# HYPOTHESIS_PROFILE=ci selects the full fuzzing budget (helpers.examples reads it too):
# hypothesis's own 100 examples for a property test that names no count. Without it, "dev",
# property tests try a quarter. Both print the failing example's blob, to replay it.
settings.register_profile("ci", print_blob=True)
settings.register_profile("dev", max_examples=25, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def _work_in_a_temporary_directory(tmp_path, monkeypatch):
    """Every test runs in its own directory, so files a command writes by default
    (minifw-blog.png, runs/ledger.jsonl) never land in the checkout."""
    monkeypatch.chdir(tmp_path)


# Test files whose tests share module-scoped fixtures (a sweep, a site build, a run of the
# gallery) or a costly first step (numba compiling the engine's kernels, about 4 s for each
# dtype): parallel workers take each of them whole, so that it is paid once.
# Every other test goes to whichever worker is free. (pytest-xdist's own loadgroup mark
# would say this, but pytest 9.2 ignores the node ids xdist 3.8 rewrites for it.)
TOGETHER = {
    "test_dask.py",
    "test_docs_figures.py",
    "test_engine.py",
    "test_figures.py",
    "test_film.py",
    "test_gallery.py",
    "test_lab_browser.py",
    "test_lab_server.py",
    "test_plotting.py",
    "test_site.py",
    "test_sweep.py",
    "test_sweep_cli.py",
}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixturesTogether(LoadScopeScheduling):
        """Each test a unit of work of its own, but the tests of a TOGETHER file one unit."""

        def _split_scope(self, nodeid):
            module = nodeid.split("::", 1)[0]
            return module if Path(module).name in TOGETHER else nodeid

    return SharedFixturesTogether(config, log)
