"""A PNG of the snapshot report, taken by headless Chromium (Debian: apt-get install chromium)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

WINDOW = (1400, 2000)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


class ScreenshotError(RuntimeError):
    """Chromium is missing or did not write the picture."""


def find_chromium() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def capture(html: Path, png: Path, window: tuple[int, int] = WINDOW, timeout: float = 120.0) -> Path:
    chromium = find_chromium()
    if chromium is None:
        raise ScreenshotError("no Chromium on PATH: install it (Debian: apt-get install -y chromium).")
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    # A throw-away profile, and every background fetch off: the report is a local file and needs no network.
    with tempfile.TemporaryDirectory(prefix="wikistream-chromium-") as profile:
        command = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--screenshot={png.resolve()}",
            f"--window-size={window[0]},{window[1]}",
            html.resolve().as_uri(),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0 or not png.exists():
        raise ScreenshotError(
            f"Chromium exited {result.returncode} without a screenshot: {result.stderr.strip()[-500:]}"
        )
    return png
