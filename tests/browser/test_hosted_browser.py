"""The hosted demo in a real browser: shared allowances, text that fetches nothing, two tabs.

Each test starts its own `streamlit run app.py` (quotas and conversations live in its
database), driven by Playwright in Debian's Chromium; every request the pages make is recorded.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from typing import ClassVar

import pytest

from tests.chromium import (
    assistant_messages,
    screenshot,
    send_message,
    wait_for_app,
    wait_idle,
)
from tests.loopback import LoopbackServer, QuietHandler
from tests.processes import RunningApp, start_app

pytestmark = pytest.mark.browser


def _app(tmp_path, protocol_server, **extra: str) -> RunningApp:
    return start_app(
        tmp_path,
        {
            "OPENAI_API_KEY": "sk-test-hosted-host-key-0001",
            "OPENAI_BASE_URL": protocol_server.openai_base_url,
            **extra,
        },
    )


@pytest.fixture
def hosted(tmp_path, server) -> Iterator[RunningApp]:
    with _app(tmp_path, server, CHATKIT_HOSTED="true", CHATKIT_HOSTED_TURN_LIMIT="2") as app:
        yield app


@pytest.fixture
def local_app(tmp_path, server) -> Iterator[RunningApp]:
    with _app(tmp_path, server) as app:
        yield app


class _Pixels(QuietHandler):
    seen: ClassVar[list[str]] = []

    def serve(self) -> None:
        _Pixels.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()


@pytest.fixture
def pixel_server() -> Iterator[str]:
    """A server that logs every fetch: any request to it is a leak."""
    _Pixels.seen = []
    httpd = LoopbackServer(_Pixels).start()
    yield httpd.url
    httpd.stop()


def _open(context, url: str):
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    wait_for_app(page)
    page.wait_for_timeout(1500)  # a freshly started app settles first (see issue 11's fix)
    return page


def test_sessions_from_one_address_share_one_allowance(browser, hosted, server) -> None:
    """A reload, a new tab or a new browser session gets no fresh allowance."""
    pages = []
    for number in range(3):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = _open(context, hosted.url)
        send_message(page, f"Message {number + 1}")
        page.get_by_text(f"Message {number + 1}").first.wait_for()
        wait_idle(page)
        pages.append(page)
    requests = [r for r in server.requests if r.path.endswith("/chat/completions")]
    assert len(requests) == 2
    pages[2].get_by_text(re.compile("This demo allows 2 turns per visitor")).wait_for()
    screenshot(pages[2], "hosted-allowance-spent")
    for page in pages:
        page.context.close()


def test_message_text_fetches_nothing(browser, local_app, pixel_server) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = _open(context, local_app.url)
    text = (
        f"Hi ![](http://{pixel_server[7:]}/md.png?d=secret) and "
        f'<img src="{pixel_server}/raw.png"> and ![r][p]\n\n[p]: {pixel_server}/ref.png'
    )
    send_message(page, text)
    assistant_messages(page).first.get_by_text(re.compile("bytes sent")).wait_for()
    wait_idle(page)
    page.reload()  # the saved conversation, its title in the sidebar, drawn again
    wait_for_app(page)
    page.wait_for_timeout(1500)
    screenshot(page, "inert-images")
    assert _Pixels.seen == []
    assert not [url for url in requested if url.startswith(pixel_server)]
    assert page.get_by_role("link", name="image").count() >= 1  # shown as a link instead
    context.close()


def test_two_tabs_on_one_conversation_lose_nothing(browser, local_app) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    first = _open(context, local_app.url)
    send_message(first, "My name is Alice.")
    assistant_messages(first).first.get_by_text(re.compile("bytes sent")).wait_for()
    wait_idle(first)
    second = _open(context, first.url)  # the same ?c= link in another tab
    assert assistant_messages(second).count() == 1
    for page, text in ((first, "I like tea."), (second, "I like coffee.")):
        page.bring_to_front()
        send_message(page, text)
        assistant_messages(page).nth(1).get_by_text(re.compile("bytes sent")).wait_for()
        wait_idle(page)
    second.get_by_text(re.compile("changed in another tab")).wait_for()
    database = sqlite3.connect(local_app.data_dir / "chatkit.db")
    saved = database.execute("SELECT content FROM messages WHERE role = 'user'").fetchall()
    texts = sorted(row[0] for row in saved)
    assert texts.count("I like tea.") == 1 and texts.count("I like coffee.") == 1
    context.close()


@pytest.fixture
def two_replicas(tmp_path, server, postgres_url) -> Iterator[list[RunningApp]]:
    """Two app processes sharing one PostgreSQL database, as replicas behind a balancer."""
    started = [
        _app(
            tmp_path / name,
            server,
            CHATKIT_HOSTED="true",
            CHATKIT_HOSTED_TURN_LIMIT="3",
            CHATKIT_DATABASE_URL=postgres_url,
        )
        for name in ("one", "two")
    ]
    yield started
    for app in started:
        app.stop()


def test_two_app_processes_on_one_postgresql_share_quotas_and_conversations(
    browser, two_replicas, server
) -> None:
    one, two = two_replicas
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    first = _open(context, one.url)
    for text in ("My name is Alice.", "I like tea."):
        send_message(first, text)
        first.get_by_text(text).first.wait_for()
        wait_idle(first)
    first.wait_for_url(re.compile(r"[?&]c="))  # saved: the address names the conversation
    # The conversation is in the shared database: the other process opens its link.
    second = _open(context, first.url.replace(one.url, two.url))
    second.get_by_text("I like tea.").first.wait_for()
    for text in ("What is my name?", "And my drink?"):
        send_message(second, text)
        second.get_by_text(text).first.wait_for()
        wait_idle(second)
    requests = [r for r in server.requests if r.path.endswith("/chat/completions")]
    assert len(requests) == 3  # one allowance of 3 turns, counted by both processes
    second.get_by_text(re.compile("This demo allows 3 turns per visitor")).wait_for()
    context.close()
