"""Steering the context from the chat, in Chromium: pin one message, leave one out, trim to the
last 2 turns, and send; the request really sent carries the pin and lacks the left-out one, the
transcript draws the "not sent" divider where trimming stops, and the "Next request" line
under the input (live as one types) says the tokens the provider then bills.

The app talks to an OpenAI-compatible server: the protocol test server here (counting with
llama.cpp's ``/v1/chat/completions/input_tokens``), and llama.cpp's own llama-server in
tests/peers/test_llama_server_steering.py, which runs ``steer_and_send`` below.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.chromium import (
    assistant_messages,
    choose_option,
    screenshot,
    send_message,
    sidebar,
    wait_for_app,
    wait_idle,
)
from tests.processes import start_app

pytestmark = pytest.mark.browser

TURNS = ("My name is Ada.", "I live in a lighthouse.", "I keep bees.", "My cat is Tom.")
NEXT = "What do you know about me?"
PINNED, LEFT_OUT = 0, 4  # "My name is Ada." and "I keep bees."
LINE = re.compile(
    r"Next request: (about )?([\d,]+) tokens \((exact|estimate), counted by ([^)]*)\)"
)
BILLED = re.compile(r"([\d,]+) tokens in")


@pytest.fixture(scope="module")
def compatible_app(protocol_server, tmp_path_factory) -> Iterator[str]:
    """The app with only ``OPENAI_BASE_URL`` set: the OpenAI-compatible provider is chosen."""
    with start_app(
        tmp_path_factory.mktemp("steering-app"),
        {"OPENAI_BASE_URL": protocol_server.openai_base_url},
    ) as app:
        yield app.url


def _turn(page, text: str, number: int, timeout: float = 90_000) -> None:
    send_message(page, text)
    try:
        assistant_messages(page).nth(number).get_by_text(re.compile("bytes sent")).wait_for(
            timeout=timeout
        )
    except Exception:
        screenshot(page, "steering-turn-failed")
        raise
    wait_idle(page)


def _click(page, key: str) -> None:
    page.locator(f".st-key-{key} button:visible").click()
    wait_idle(page)


def next_request_line(page, text: str) -> re.Match[str]:
    """Type ``text`` (not sent) and read the line under the input once it measured it."""
    box = page.locator('[data-testid="stChatInput"] textarea').first
    box.fill(text)
    line = page.locator(".st-key-next_send_line").get_by_text(re.compile(r"^Next request: "))
    line.wait_for()
    page.wait_for_timeout(800)  # past the debounce: the line now measures the typed text
    wait_idle(page)
    match = LINE.search(line.inner_text())
    assert match, line.inner_text()
    return match


def steer_and_send(page, max_output_tokens: int | None = None) -> tuple[re.Match[str], int]:
    """Four turns, pin the first message, leave the third user message out, trim to the last
    2 turns, type and send a fifth; returns the "Next request" line read before sending and
    the input tokens billed for the fifth reply."""
    sidebar(page).get_by_text("Trimming and generation").click()
    if max_output_tokens is not None:
        limit = sidebar(page).get_by_label("Max output tokens")
        limit.fill(str(max_output_tokens))
        limit.press("Enter")
        wait_idle(page)
    for number, text in enumerate(TURNS):
        _turn(page, text, number)
    _click(page, f"pin_{PINNED}")
    _click(page, f"leave_out_{LEFT_OUT}")
    choose_option(page, "Trimming", "Last N turns")
    turns = sidebar(page).get_by_label("Turns to keep")
    turns.fill("2")
    turns.press("Enter")
    wait_idle(page)
    line = next_request_line(page, NEXT)
    assert_divider_above(page, TURNS[1])
    box = page.locator('[data-testid="stChatInput"] textarea').first
    box.press("Enter")
    reply = assistant_messages(page).nth(len(TURNS))
    reply.get_by_text(re.compile("bytes sent")).wait_for(timeout=90_000)
    wait_idle(page)
    billed = BILLED.search(reply.inner_text())
    assert billed, reply.inner_text()
    return line, int(billed.group(1).replace(",", ""))


def sent_user_texts(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


def assert_divider_above(page, text: str) -> None:
    """The not-sent divider stands right above the message ``text``: the first one trimming
    still sends (the left-out message does not count as a turn)."""
    divider = page.locator(".st-key-not_sent_divider")
    assert divider.count() == 1
    assert "Above this line: not sent (last 2 turns) — except 1 kept in context" in (
        divider.inner_text()
    )
    below = divider.locator("xpath=following::*[@data-testid='stChatMessage'][1]").inner_text()
    assert text in below


def test_pinned_sent_left_out_absent_and_the_line_matches_the_bill(
    compatible_app, page, server
) -> None:
    server.count_endpoint = "llama.cpp"
    page.goto(compatible_app)
    wait_for_app(page)
    line, billed = steer_and_send(page)
    body = server.requests_to("/chat/completions")[-1].body
    # The pin, then the last 2 turns of what is left once "I keep bees." is taken out.
    assert sent_user_texts(body) == [TURNS[0], TURNS[1], TURNS[3], NEXT]
    assert all(m["content"] != TURNS[2] for m in body["messages"])
    assert line.group(3) == "exact", line.group(0)
    assert int(line.group(2).replace(",", "")) == billed
    assert page.locator('[class*="st-key-left_out_message_"]').count() == 1
    assert_divider_above(page, TURNS[3])  # the next send leaves out one more turn
    screenshot(page, "chat-steering")


def test_the_divider_moves_with_the_settings(compatible_app, page, server) -> None:
    page.goto(compatible_app)
    wait_for_app(page)
    for number, text in enumerate(TURNS[:3]):
        _turn(page, text, number)
    sidebar(page).get_by_text("Trimming and generation").click()
    choose_option(page, "Trimming", "Last N turns")
    turns = sidebar(page).get_by_label("Turns to keep")
    for keep, above in ((1, 4), (2, 2)):  # N turns before the new one
        turns.fill(str(keep))
        turns.press("Enter")
        wait_idle(page)
        divider = page.locator(".st-key-not_sent_divider")
        divider.wait_for()
        assert ("last turn" if keep == 1 else f"last {keep} turns") in divider.inner_text()
        below = divider.locator("xpath=following::*[@data-testid='stChatMessage'][1]")
        assert TURNS[above // 2] in below.inner_text()
    choose_option(page, "Trimming", "None")
    assert page.locator(".st-key-not_sent_divider").count() == 0
