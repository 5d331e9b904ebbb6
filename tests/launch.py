"""Start `python app.py` as a real subprocess on a free port, for tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Browser tests and screenshots drive Debian's Chromium headless through Playwright.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1100}


def chromium_or_skip():
    """Skip the calling test when Chromium or Playwright is missing -> playwright.sync_api."""
    import pytest

    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) for browser tests")
    return pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return text[-chars:] if text else "(empty log)"


@contextlib.contextmanager
def launched_app(*args: str, timeout: float = 90.0, env: dict | None = None, root: Path | None = None,
                 script: tuple[str, ...] = ("app.py",)):
    """Yield (url, process, seconds_until_serving); the app is stopped on exit.

    root: the checkout whose app.py runs (default: this one; a benchmark may compare another).
    script: what python runs, given `--port N` and `args` after it (default: GenLab's app.py).

    The app's output goes to .pytest_cache/app-<port>.log (or a temporary file); its tail is
    part of the error when the app exits or does not serve in time.
    """
    port = free_port()
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
                "PYTHONUNBUFFERED": "1", **(env or {})}
    log_dir = ROOT / ".pytest_cache" if (ROOT / ".pytest_cache").is_dir() else Path(tempfile.gettempdir())
    log_path = log_dir / f"app-{port}.log"
    log = open(log_path, "w")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *script, "--port", str(port), *args], cwd=root or ROOT,
                            env=full_env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with code {proc.returncode} before serving; "
                                   f"log {log_path}:\n{_tail(log_path)}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError(f"app.py did not serve {url} within {timeout} s; "
                                   f"log {log_path}:\n{_tail(log_path)}")
            time.sleep(0.2)
        yield url, proc, time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its children."""
    import psutil

    p = psutil.Process(pid)
    return sum(q.memory_info().rss for q in [p, *p.children(recursive=True)])
