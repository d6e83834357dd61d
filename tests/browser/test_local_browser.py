"""A new user with no key and no network: the app chats with the bundled local model."""

from __future__ import annotations

import re

import pytest

from tests.chromium import (
    assistant_messages,
    screenshot,
    send_message,
    wait_for_app,
    wait_idle,
)
from tests.processes import start_app

pytestmark = [pytest.mark.browser, pytest.mark.local_model]


@pytest.fixture(scope="module")
def keyless_app_url(tmp_path_factory):
    """`streamlit run app.py` with no API key and no endpoint in its environment."""
    with start_app(tmp_path_factory.mktemp("keyless"), {"HF_HUB_OFFLINE": "1"}) as app:
        yield app.url


def _input_tokens(caption: str) -> int:
    return int(re.search(r"([\d,]+) tokens in", caption).group(1).replace(",", ""))


def test_a_new_user_chats_with_the_local_model_without_any_key(page, keyless_app_url):
    page.goto(keyless_app_url)
    wait_for_app(page)
    # with no key configured anywhere, Local is the provider
    page.get_by_text(re.compile(r"^Local · Chat · ")).first.wait_for()
    for number, text in enumerate(("My name is Alice.", "What is my name?"), start=1):
        send_message(page, text)
        wait_idle(page, timeout=180_000)
        bubble = assistant_messages(page).nth(number - 1)
        bubble.get_by_text(re.compile(r"tokens in")).wait_for(timeout=180_000)
        assert assistant_messages(page).count() == number
    captions = [
        assistant_messages(page).nth(n).get_by_text(re.compile(r"tokens in")).inner_text()
        for n in range(2)
    ]
    assert len(captions) == 2
    # the second turn carried the first one: more input tokens, counted by the model itself
    assert _input_tokens(captions[1]) > _input_tokens(captions[0])
    screenshot(page, "chat-local-model")

    # The request inspector shows the prompt the model read: one chip per token, in both themes.
    page.locator('[data-testid="stSidebarNav"] a', has_text="Request inspector").first.click()
    page.get_by_role("heading", name="What the model sees").wait_for(timeout=60_000)
    wait_idle(page)
    chips = page.locator('span[title^="id "]')
    chips.nth(20).wait_for()  # the chips are drawn once the page has rendered the prompt
    assert chips.first.inner_text() == "<|im_start|>" and chips.first.get_attribute("title") == (
        "id 1"
    )
    chips.first.scroll_into_view_if_needed()
    screenshot(page, "inspector-model-sees-light")
    page.emulate_media(color_scheme="dark")
    page.wait_for_timeout(800)
    chips.first.scroll_into_view_if_needed()
    screenshot(page, "inspector-model-sees-dark")
