"""Debian's Chromium driven by Playwright for Python: written once for the player tests, the WordPress
tests, the studio tests and bench/player.py.

Chromium is the Debian package (``apt-get install chromium``, scripts/setup.sh), not Playwright's
download; ``SCRIPTHAMMER_CHROMIUM`` names another binary.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterator

CHROMIUM = os.environ.get("SCRIPTHAMMER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--autoplay-policy=no-user-gesture-required", "--disable-dev-shm-usage"]


class BrowserMissing(RuntimeError):
    """Chromium or Playwright for Python is not installed."""


@contextlib.contextmanager
def chromium(*extra_args: str) -> Iterator:
    """A headless Chromium (a Playwright ``Browser``), closed on exit; BrowserMissing says what to install."""
    if not Path(CHROMIUM).exists():
        raise BrowserMissing(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (scripts/setup.sh)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise BrowserMissing("Playwright for Python is not installed: scripts/setup.sh installs it") from None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()
