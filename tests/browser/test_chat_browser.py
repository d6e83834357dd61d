"""The chat page in a real browser: streaming, Stop, reload, the sidebar, and a screenshot.

`streamlit run app.py` talks to the protocol test server (the session's ``protocol_server``,
in this very process), whose replies depend on what it was really sent.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

import pytest

from tests.chromium import (
    assistant_messages,
    choose_option,
    screenshot,
    send_message,
    sidebar,
    wait_for_app,
    wait_idle,
    whole_page_screenshot,
)

if TYPE_CHECKING:
    from playwright.sync_api import Locator

pytestmark = pytest.mark.browser

REPLY_TEXT = '[data-testid="stMarkdown"]'
SCRIPT = ("My name is Alice.", "My favorite color is blue.", "What is my name?")


@pytest.fixture
def chat_page(app_url, page, server):
    page.goto(app_url)
    wait_for_app(page)
    return page


def chat(page, texts) -> None:
    start = assistant_messages(page).count()
    for number, text in enumerate(texts):
        send_message(page, text)
        bubble = assistant_messages(page).nth(start + number)
        # the caption is drawn once the turn finished and was saved (not while it streams)
        bubble.get_by_text(re.compile(r"bytes sent")).wait_for()
        wait_idle(page)


def reply_text(page, index: int) -> str:
    """The text of one reply bubble, without its caption and buttons."""
    return text_in(assistant_messages(page).nth(index))


def text_in(bubble) -> str:
    """The reply text in a bubble (its first markdown element; not the Stop button's label)."""
    words = bubble.locator(REPLY_TEXT).first
    return words.inner_text().strip() if words.count() else ""


def send_slowly(page, server, text: str, delay: float) -> tuple[Locator, str]:
    """Send ``text`` while the server waits ``delay`` s between words; returns the reply's
    bubble and the full reply the server will have sent."""
    server.chunk_delay = delay
    send_message(page, text)
    return assistant_messages(page).first, f"You said: {text} (1 messages in context)"


def test_a_reply_streams_word_by_word(chat_page, server) -> None:
    text = "Tell me a story about a lighthouse keeper and her cat"
    bubble, full = send_slowly(chat_page, server, text, 0.15)
    bubble.wait_for()
    seen: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        current = text_in(bubble)
        if current.endswith("…"):  # "Sending…": the reply has not started yet
            current = ""
        if current and (not seen or current != seen[-1]):
            seen.append(current)
        if current == full:
            break
        time.sleep(0.05)
    assert seen[-1] == full
    growing = [s for s in seen if s != full]
    assert len(growing) >= 4, seen  # several partial texts were on screen, each longer
    assert all(full.startswith(s) for s in growing)
    assert [len(s) for s in seen] == sorted(len(s) for s in seen)


@pytest.mark.parametrize("mode", ["Chat Completions", "Responses"])
def test_three_turns_answer_from_earlier_turns(chat_page, server, mode) -> None:
    choose_option(chat_page, "API mode", mode)
    chat(chat_page, SCRIPT)
    assert reply_text(chat_page, 2) == "Your name is Alice."
    captions = assistant_messages(chat_page).nth(2).inner_text()
    assert f"OpenAI gpt-4.1-mini · {mode}" in captions
    if mode == "Responses":
        bodies = [r.body for r in server.requests_to("/responses")]
        assert len(bodies) == 3
        assert "previous_response_id" not in bodies[0]
        assert all(body["previous_response_id"] for body in bodies[1:])
    else:
        assert len(server.requests_to("/chat/completions")[-1].body["messages"]) == 6


def test_reload_restores_the_conversation(chat_page, server) -> None:
    chat(chat_page, SCRIPT[:2])
    assert "?c=" in chat_page.url
    url = chat_page.url
    chat_page.reload()
    wait_for_app(chat_page)
    assert chat_page.url == url
    assistant_messages(chat_page).nth(1).wait_for()
    assert reply_text(chat_page, 0) == "You said: My name is Alice. (1 messages in context)"
    chat(chat_page, SCRIPT[2:])
    assert reply_text(chat_page, 2) == "Your name is Alice."


def test_switching_provider_and_mode_in_the_sidebar(chat_page, server) -> None:
    chat(chat_page, SCRIPT[:1])
    choose_option(chat_page, "Provider", "Anthropic")
    bar = sidebar(chat_page)
    bar.get_by_text("Trimming and generation").click()  # open the expander
    bar.get_by_text("no sampling parameters").wait_for()
    bar.get_by_text("local response store").wait_for()
    choose_option(chat_page, "API mode", "Messages + local chaining")
    chat(chat_page, SCRIPT[1:])
    assert reply_text(chat_page, 2) == "Your name is Alice."
    caption = assistant_messages(chat_page).nth(2).inner_text()
    assert "Anthropic claude-sonnet-4-6 · Messages + local chaining" in caption
    assert len(server.requests_to("/messages")) == 2
    assert len(server.requests_to("/messages")[-1].body["messages"]) == 5


def test_stop_keeps_what_arrived_marked_as_stopped(chat_page, server) -> None:
    text = "Please answer with a rather long reply so that there is time to stop it"
    bubble, full = send_slowly(chat_page, server, text, 0.4)
    bubble.locator(REPLY_TEXT).first.wait_for()
    chat_page.wait_for_timeout(1000)  # a few words arrive
    screenshot(chat_page, "chat-streaming")
    chat_page.get_by_role("button", name="Stop").click()
    chat_page.get_by_text("stopped", exact=False).first.wait_for()
    wait_idle(chat_page)
    kept = reply_text(chat_page, 0)
    assert kept and full.startswith(kept) and kept != full
    chat_page.wait_for_timeout(1500)  # nothing more arrives after Stop
    assert reply_text(chat_page, 0) == kept
    assert "stopped" in assistant_messages(chat_page).first.inner_text()
    assert chat_page.get_by_role("button", name="Stop").count() == 0
    screenshot(chat_page, "chat-stopped")
    chat_page.reload()  # it was saved as it is
    wait_for_app(chat_page)
    assistant_messages(chat_page).first.wait_for()
    assert reply_text(chat_page, 0) == kept


def test_chat_page_screenshot(chat_page, server) -> None:
    chat(chat_page, SCRIPT)
    path = whole_page_screenshot(chat_page, "chat-page")
    assert path.stat().st_size > 10_000
    screenshot(chat_page, "chat-page-window")
