"""Two app processes behind Debian's nginx (the README's configuration) on one PostgreSQL.

A conversation started through one process continues after a reload routed to the other
(its state comes from the database), and per-visitor quotas count the client's own address:
the one nginx forwards, never one the client sent.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.chromium import send_message, wait_for_app
from tests.nginx import NGINX, Nginx, serving
from tests.processes import RunningApp, start_app
from tests.streamlit_client import Session, drive

pytestmark = pytest.mark.browser
TURN_LIMIT = 2
REFUSED = f"This demo allows {TURN_LIMIT} turns per visitor a day"


@pytest.fixture
def two_processes(tmp_path, server, postgres_url) -> Iterator[list[RunningApp]]:
    """Two hosted app processes sharing one PostgreSQL database, nginx's address trusted."""
    if not Path(NGINX).exists():
        pytest.fail("Debian's nginx is missing: run bash scripts/test.sh, which installs it.")
    environment = {
        "OPENAI_API_KEY": "sk-test-scale-out-host-key",
        "OPENAI_BASE_URL": server.openai_base_url,
        "CHATKIT_DATABASE_URL": postgres_url,
        "CHATKIT_HOSTED": "true",
        "CHATKIT_HOSTED_TURN_LIMIT": str(TURN_LIMIT),
        "CHATKIT_TRUSTED_PROXIES": "127.0.0.1",
    }
    started: list[RunningApp] = []
    try:
        for name in ("first", "second"):
            started.append(start_app(tmp_path / name, environment))
        yield started
    finally:
        for app in started:
            app.stop()


@pytest.fixture
def proxy(two_processes) -> Iterator[Nginx]:
    backends = [app.url.removeprefix("http://") for app in two_processes]
    with Nginx(backends) as nginx:
        yield nginx


def _route(page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "chatkit_route")


def _reload_until_served_by(page, apps: list[RunningApp], wanted: int, proxy: Nginx) -> None:
    """Reload with other route cookies until nginx sends the page to process ``wanted``."""
    for attempt in range(40):
        page.context.add_cookies(
            [{"name": "chatkit_route", "value": f"route-{attempt}", "url": proxy.url}]
        )
        page.reload()
        wait_for_app(page)
        if serving(apps) == [wanted]:
            return
    pytest.fail("no route cookie sent the page to the other process")


def test_a_conversation_continues_after_a_reload_routed_to_the_other_process(
    page, proxy, two_processes, server
) -> None:
    page.goto(proxy.url)
    wait_for_app(page)
    send_message(page, "My name is Alice.")
    page.get_by_text("You said: My name is Alice.").wait_for()
    page.wait_for_url(re.compile(r"[?&]c="))  # saved: the address names the conversation
    first = serving(two_processes)
    assert len(first) == 1, "one page, one WebSocket, one process"
    cookie = _route(page)
    # Sticky: reloading with the same cookie stays on the same process.
    page.reload()
    wait_for_app(page)
    assert serving(two_processes) == first
    assert page.get_by_text("My name is Alice.").count() >= 1
    other = 1 - first[0]
    _reload_until_served_by(page, two_processes, other, proxy)
    assert cookie != _route(page)
    assert page.get_by_text("My name is Alice.").count() >= 1, "loaded from the database"
    send_message(page, "What is my name?")
    # The test server answers from the history it was sent.
    page.get_by_text("Your name is Alice.").wait_for()
    sent = [m["content"] for m in server.last_request("/chat/completions").body["messages"]]
    assert "My name is Alice." in sent and sent[-1] == "What is my name?"


def _visit(proxy: Nginx, address: str, messages: list[str], **headers: str) -> Session:
    session = Session(0)
    # In a thread of its own: Playwright's sync API keeps an event loop in this one.
    visiting = drive(
        proxy.url,
        session,
        messages,
        60,
        refused=REFUSED,
        local_address=address,
        headers=headers or None,
    )
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, visiting).result()
    return session


def test_quotas_count_the_address_nginx_forwards_not_one_the_client_sends(proxy) -> None:
    # 127.0.0.2 and 127.0.0.3 are two visitors; nginx is at 127.0.0.1 for both processes.
    first = _visit(proxy, "127.0.0.2", ["one", "two", "three"])
    assert [bool(turn.finished) for turn in first.turns] == [True, True, False]
    assert first.turns[2].refusal
    # Claiming another address does not buy a new allowance: nginx replaces the header.
    spoofed = _visit(proxy, "127.0.0.2", ["four"], **{"X-Forwarded-For": "198.51.100.7"})
    assert spoofed.turns[0].refusal and not spoofed.turns[0].finished
    # Another visitor has their own allowance, whichever process serves them.
    second = _visit(proxy, "127.0.0.3", ["hello"])
    assert second.turns[0].finished and not second.turns[0].refusal
