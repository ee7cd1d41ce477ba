"""Shared pytest setup: make ``tests/helpers.py`` importable as ``helpers``."""

import sys
from pathlib import Path

TESTS_DIR = str(Path(__file__).resolve().parent)
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _work_in_a_temporary_directory(tmp_path, monkeypatch):
    """Every test runs in its own directory, so files a command writes by default
    (minifw-blog.png, runs/ledger.jsonl) never land in the checkout."""
    monkeypatch.chdir(tmp_path)
