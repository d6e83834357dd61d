"""Shared fixtures: the network guard, the local protocol server and SDK clients on it."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from chatkit.providers.openai_chat import OpenAIChat
from chatkit.providers.openai_responses import OpenAIResponses
from chatkit.providers.server_tokens import forget_server_counts
from tests.chromium import CHROMIUM, CHROMIUM_ARGS, new_page, screenshot
from tests.postgres import PostgresServer
from tests.server import ProtocolServer

# -- network guard ---------------------------------------------------------------------------

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class NetworkBlockedError(RuntimeError):
    """A test tried to connect somewhere other than this machine."""


def is_loopback(host: object) -> bool:
    """True for 127.0.0.0/8, ::1 (also IPv4-mapped) and the name localhost."""
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    host = host.strip("[]").split("%")[0].lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Make every connection outside loopback (and AF_UNIX) raise NetworkBlockedError.

    Yields the list of blocked attempts; the test fails at teardown if it is not empty,
    so an attempt is reported even when library code swallowed the exception.
    """
    blocked: list[str] = []

    def check(family: int, address: Any) -> None:
        if family == getattr(socket, "AF_UNIX", None) or not isinstance(address, tuple):
            return
        if not is_loopback(address[0]):
            blocked.append(repr(address))
            raise NetworkBlockedError(f"tests may only connect to loopback, not {address!r}")

    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create_connection = socket.create_connection

    def connect(self: socket.socket, address: Any) -> None:
        check(self.family, address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(self.family, address)
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        check(socket.AF_INET, address)
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    yield blocked
    if blocked:
        pytest.fail(f"blocked network access during the test: {', '.join(blocked)}")


# -- local protocol server -------------------------------------------------------------------


@pytest.fixture(scope="session")
def protocol_server() -> Iterator[ProtocolServer]:
    """One ProtocolServer on 127.0.0.1 (ephemeral port) for the whole session."""
    server = ProtocolServer(host="127.0.0.1", port=0).start()
    yield server
    server.stop()


@pytest.fixture
def server(protocol_server: ProtocolServer) -> Iterator[ProtocolServer]:
    """The session's ProtocolServer, reset before and after (other tests, and the browser
    tests' app, share it): no requests, responses, failures; default options. Token counts
    cached from it are forgotten too (its count endpoints may change)."""
    protocol_server.reset()
    forget_server_counts()
    yield protocol_server
    protocol_server.reset()


@pytest.fixture
def openai_client(server: ProtocolServer) -> Iterator[openai.OpenAI]:
    """The real OpenAI SDK pointed at the local server, without retries."""
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0)
    yield client
    client.close()


@pytest.fixture
def chat_provider(openai_client: openai.OpenAI) -> OpenAIChat:
    """OpenAI Chat Completions (gpt-4o) on the test server."""
    return OpenAIChat(model="gpt-4o", client=openai_client)


@pytest.fixture
def responses_provider(openai_client: openai.OpenAI) -> OpenAIResponses:
    """OpenAI Responses (gpt-4.1) on the test server."""
    return OpenAIResponses(model="gpt-4.1", client=openai_client)


@pytest.fixture
def anthropic_client(server: ProtocolServer) -> Iterator[anthropic.Anthropic]:
    """The real Anthropic SDK pointed at the local server, without retries."""
    client = anthropic.Anthropic(
        base_url=server.anthropic_base_url, api_key="sk-ant-test", max_retries=0
    )
    yield client
    client.close()


# -- the app under AppTest (tests/apptest_helpers.py) ----------------------------------------


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, server: ProtocolServer, tmp_path: Path) -> ProtocolServer:
    """The app's environment: both SDKs on the protocol server, its database in ``tmp_path``.
    Returns the server, which the app's replies come from."""
    from tests.apptest_helpers import configure_env  # Streamlit: imported only where used

    configure_env(monkeypatch, server, tmp_path)
    return server


@pytest.fixture
def keyless_app(
    monkeypatch: pytest.MonkeyPatch, server: ProtocolServer, tmp_path: Path
) -> ProtocolServer:
    """As ``app``, with no API key and no endpoint configured (Local is the provider)."""
    from tests.apptest_helpers import configure_env

    configure_env(monkeypatch, server, tmp_path, keyless=True)
    return server


# -- Chromium ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium under Playwright (no browser download), one for the whole session:
    tests/browser and tests/peers share it (Playwright's sync API runs once per process)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run bash scripts/test.sh, which installs it.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser context and page; a screenshot is saved when the test fails."""
    page = new_page(browser)
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        screenshot(page, f"FAILED-{request.node.name}")
    page.context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


# -- a real PostgreSQL server -----------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster on 127.0.0.1 for the whole session (started on first use)."""
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty PostgreSQL database."""
    return postgres_server.new_database()
