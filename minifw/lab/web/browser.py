"""Headless Chromium for the lab's page: how its browser tests and ``benchmarks/lab_stream.py``
start Debian's ``chromium`` through Playwright (a test tool; minifw itself needs neither).

``MINIFW_CHROMIUM`` names another Chromium than ``/usr/bin/chromium``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("MINIFW_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium keeps calling home on a closed network.
FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@contextlib.contextmanager
def headless_chromium() -> Iterator[Any]:
    """Playwright's Chromium browser, started headless from ``CHROMIUM`` with ``FLAGS``, and
    closed when the block ends. Needs playwright installed (the test extra)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=list(FLAGS))
        try:
            yield browser
        finally:
            browser.close()
