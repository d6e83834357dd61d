"""The app in Chromium against llama.cpp's llama-server: three turns in every provider x mode.

``streamlit run app.py`` gets llama-server's address (through the recorder) in the SDKs' own
variables, exactly as a person would set them. Every turn must be answered (no "not sent"),
and the third request must carry the first turn, chained or resent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from chatkit.providers import provider_kind
from tests.chromium import (
    assistant_messages,
    choose_option,
    send_message,
    sidebar,
    wait_for_app,
    wait_idle,
    whole_page_screenshot,
)
from tests.peers.conftest import API_KEY, LlamaServer
from tests.processes import start_app

pytestmark = pytest.mark.browser

TURNS = ("My name is Ada.", "I live in a lighthouse.", "What is my name?")
CASES = {
    "compatible-chat": ("OpenAI-compatible", "chat", "/v1/chat/completions"),
    "compatible-responses": ("OpenAI-compatible", "responses", "/v1/responses"),
    "anthropic-messages": ("Anthropic", "chat", "/v1/messages"),
    "anthropic-responses": ("Anthropic", "responses", "/v1/messages"),
}


@pytest.fixture(scope="module")
def llama_app(llama_server: LlamaServer, tmp_path_factory) -> Iterator[str]:
    """The app, its SDKs pointed at llama-server through the recorder."""
    with start_app(
        tmp_path_factory.mktemp("llama-app"),
        {
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_BASE_URL": llama_server.openai_base_url,
            "ANTHROPIC_API_KEY": API_KEY,
            "ANTHROPIC_BASE_URL": llama_server.anthropic_base_url,
        },
    ) as app:
        yield app.url


def choose_mode(tab, label: str) -> None:
    """Pick the API mode on the visible radio (a provider switch may leave the previous
    provider's radio in the page for a moment, hidden)."""
    heading = tab.locator('[data-testid="stWidgetLabel"]', has_text="API mode")
    radio = sidebar(tab).locator('[data-testid="stRadio"]').filter(has=heading, visible=True)
    radio.get_by_text(label, exact=True).click()
    wait_idle(tab)


def user_texts(body: dict) -> list[str]:
    items = body.get("messages") or body.get("input") or []
    return [item["content"] for item in items if item["role"] == "user"]


@pytest.mark.parametrize("case", list(CASES))
def test_three_turns_in_the_app(case: str, llama, llama_app, page) -> None:
    provider, mode, path = CASES[case]
    page.goto(llama_app)
    wait_for_app(page)
    choose_option(page, "Provider", provider)
    choose_mode(page, provider_kind(provider).mode_label(mode))
    sidebar(page).get_by_text("Trimming and generation").click()
    limit = sidebar(page).get_by_label("Max output tokens")
    limit.fill("24")
    limit.press("Enter")
    wait_idle(page)
    for number, text in enumerate(TURNS):
        send_message(page, text)
        bubble = assistant_messages(page).nth(number)
        bubble.get_by_text(re.compile(r"bytes sent")).wait_for(timeout=90_000)
        wait_idle(page)
    whole_page_screenshot(page, f"llama-server-{case}")
    assert page.get_by_text("not sent").count() == 0
    assert page.locator('[data-testid="stAlert"]').count() == 0
    assert assistant_messages(page).count() == 3
    requests = [r.body for r in llama.recorder.requests_to(path)]
    third = requests[-1]
    assert user_texts(third) == list(TURNS), "the third request carries the whole conversation"
    if path == "/v1/responses":
        assert all(item["type"] == "message" for body in requests for item in body["input"])
