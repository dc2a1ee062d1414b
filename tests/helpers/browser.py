"""Debian's headless chromium driven by selenium, for the report page tests (no browser download)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def browser(downloads: Path) -> Any:
    """Headless Debian chromium through chromedriver; fails under CI=true, else skips, when either is missing."""
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and chromium-driver are missing: scripts/install_system_deps.sh installs them")
        pytest.skip("needs Debian's chromium and chromium-driver (scripts/install_system_deps.sh)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1800",
                "--allow-file-access-from-files"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def audio_states(driver: Any, timeout: float = 30.0) -> list[list]:
    """[readyState, duration] of every <audio>, once all have their metadata (or TIMEOUT passed)."""
    deadline = time.monotonic() + timeout
    while True:
        states = driver.execute_script(
            "return Array.from(document.querySelectorAll('audio')).map(a => [a.readyState, a.duration, a.error])")
        if all(s[0] >= 1 for s in states) or time.monotonic() > deadline:
            return states
        time.sleep(0.2)


def plot_marks(driver: Any, timeout: float = 30.0) -> list[int]:
    """The number of line/point marks in each .plot SVG, once every plot has some (or TIMEOUT passed)."""
    deadline = time.monotonic() + timeout
    while True:
        counts = driver.execute_script("return Array.from(document.querySelectorAll('.plot')).map("
                                       "p => p.querySelectorAll('svg .mark-line path, svg .mark-symbol path').length)")
        if (counts and all(counts)) or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)
