"""Processes the tests start: a free loopback port, a stop that never hangs, and the app.

``start_app`` runs ``streamlit run app.py`` in a subprocess (tests/browser, tests/peers and
bench/load.py drive it); nginx, PostgreSQL and llama-server use the port and the stop.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from chatkit.classroom import stop_process

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(
    url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 60
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise RuntimeError(f"streamlit did not become healthy:\n{log.read_text()[-3000:]}")


class RunningApp:
    """A `streamlit run app.py` process and the URL it serves; a ``with`` block stops it."""

    def __init__(self, url: str, data_dir: Path, process: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.data_dir = data_dir
        self.process = process

    def stop(self) -> None:
        stop_process(self.process)

    def __enter__(self) -> RunningApp:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_app(tmp_dir: Path, env_overrides: dict[str, str], script: str = "app.py") -> RunningApp:
    """Start the app (or another ``script``) with a fresh data folder and the given
    environment."""
    port = free_port()
    tmp_dir.mkdir(parents=True, exist_ok=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "ANTHROPIC_", "CHATKIT_"))
    }
    env.update(
        {
            "CHATKIT_DATA_DIR": str(tmp_dir / "data"),
            "TIKTOKEN_CACHE_DIR": env.get("TIKTOKEN_CACHE_DIR", ""),
            "PYTHONUNBUFFERED": "1",
            **env_overrides,
        }
    )
    if not env["TIKTOKEN_CACHE_DIR"]:
        env.pop("TIKTOKEN_CACHE_DIR")
    log = tmp_dir / "streamlit.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            script,
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
    except RuntimeError:
        process.kill()
        raise
    return RunningApp(url, tmp_dir / "data", process)
