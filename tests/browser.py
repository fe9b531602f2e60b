"""Headless Debian chromium for the report tests: dump a page's DOM after load, take screenshots.

No DevTools session: pages carry their own check script (it sets ``data-ok`` / ``data-problems`` on <body>),
so ``--dump-dom`` after the load event is enough to read the result.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio"]


def chromium() -> str | None:
    """Path of the chromium binary, or None when it is not installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    exe = chromium()
    if exe is None:
        raise RuntimeError("chromium is not installed")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout, check=False)


def file_url(path: Path, query: str = "") -> str:
    """``file://`` URL of ``path`` with an optional query string (without the ``?``)."""
    url = Path(path).resolve().as_uri()
    return f"{url}?{query}" if query else url


def dump_dom(path: Path, query: str = "", timeout: float = 60) -> tuple[str, str]:
    """(serialised DOM after load, chromium's stderr with console logging) of a local HTML file."""
    proc = _run(["--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom",
                 file_url(path, query)], timeout)
    if proc.returncode != 0 or "<html" not in proc.stdout:
        raise RuntimeError(f"chromium --dump-dom failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout, proc.stderr


def screenshot(html_path: Path, png_path: Path, width: int = 1100, height: int = 2400, timeout: float = 60) -> Path:
    """Screenshot of a local HTML file (``width`` x ``height`` window) into ``png_path``."""
    png_path = Path(png_path).resolve()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    proc = _run([f"--screenshot={png_path}", f"--window-size={width},{height}", "--virtual-time-budget=5000",
                 file_url(html_path)], timeout)
    if not png_path.exists() or png_path.stat().st_size == 0:
        raise RuntimeError(f"chromium --screenshot failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return png_path
