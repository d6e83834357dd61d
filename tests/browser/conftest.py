"""Browser tests: `streamlit run app.py` in a subprocess, driven by Playwright in Debian's Chromium.

The app's SDKs point at the protocol test server through ``OPENAI_BASE_URL`` and
``ANTHROPIC_BASE_URL``; nothing leaves 127.0.0.1. Screenshots go to ``test-artifacts/``.
The ``browser`` and ``page`` fixtures live in tests/conftest.py: one Chromium serves these
tests and tests/peers alike (Playwright's sync API runs once per process).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

pytestmark = pytest.mark.browser


def _free_port() -> int:
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
    """A `streamlit run app.py` process and the URL it serves."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.url = url
        self.data_dir = data_dir


def start_app(
    tmp_dir: Path, env_overrides: dict[str, str], script: str = "app.py"
) -> tuple[subprocess.Popen[bytes], RunningApp]:
    """Start the app (or another ``script``) with a fresh data folder and the given
    environment."""
    port = _free_port()
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
    return process, RunningApp(url, tmp_dir / "data")


def stop_app(process: subprocess.Popen[bytes]) -> None:
    """Stop an app started by ``start_app`` (killed if it does not stop within 10 s)."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def app_url(protocol_server, tmp_path_factory) -> Iterator[str]:
    """The app, pointed at the protocol test server through the SDKs' own variables."""
    tmp_dir = tmp_path_factory.mktemp("app")
    process, app = start_app(
        tmp_dir,
        {
            "OPENAI_API_KEY": "sk-test-browser",
            "OPENAI_BASE_URL": protocol_server.openai_base_url,
            "ANTHROPIC_API_KEY": "sk-ant-test-browser",
            "ANTHROPIC_BASE_URL": protocol_server.anthropic_base_url,
        },
    )
    yield app.url
    stop_app(process)


def screenshot(page, name: str) -> Path:
    """Save a screenshot as a test artifact and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_for_app(page) -> None:
    """Wait until Streamlit finished its first run."""
    page.wait_for_selector(
        '[data-testid="stChatInput"] textarea, [data-testid="stChatInputTextArea"]'
    )
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")


def send_message(page, text: str) -> None:
    """Type into the chat input and press Enter."""
    box = page.locator('[data-testid="stChatInput"] textarea').first
    box.fill(text)
    box.press("Enter")


def assistant_messages(page):
    return page.locator(
        '[data-testid="stChatMessage"]:has([data-testid="stChatMessageAvatarAssistant"])'
    )


def sidebar(page):
    """The sidebar, to find its widgets by label."""
    return page.locator('[data-testid="stSidebar"]')


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until the script run ends (the running indicator disappears)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout
    )


def choose_option(page, label: str, option: str) -> None:
    """Pick ``option`` in the sidebar's radio group or select box labelled ``label``."""
    bar = sidebar(page)
    label_element = page.locator('[data-testid="stWidgetLabel"]', has_text=label)
    radio = bar.locator('[data-testid="stRadio"]').filter(has=label_element)
    if radio.count():
        radio.get_by_text(option, exact=True).click()
    else:
        bar.get_by_role("combobox", name=label).click()
        page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def whole_page_screenshot(page, name: str) -> Path:
    """A screenshot of the whole page: Streamlit scrolls inside its main area and its sidebar,
    so the window is made as tall as the taller of them for the shot."""
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll("
        '\'section, [data-testid="stMain"], [data-testid="stSidebarContent"]\')]'
        ".map(e => e.scrollHeight), document.body.scrollHeight)"
    )
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 200, 8000)})
    page.wait_for_timeout(800)
    path = screenshot(page, name)
    page.set_viewport_size(size)
    return path
