"""The chat in front of a class, in Chromium: nothing lost, branches kept, the URL is the state.

Each test that needs a fresh app starts its own `streamlit run app.py` (a fresh process is
where a fast first message used to vanish); the others share the session's app.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.chromium import (
    ARTIFACTS,
    assistant_messages,
    new_page,
    screenshot,
    send_message,
    sidebar,
    wait_for_app,
    wait_idle,
    whole_page_screenshot,
)
from tests.processes import RunningApp, start_app

pytestmark = pytest.mark.browser

PAGES = {
    "Chat": "chat",
    "Context window": "context_window",
    "Request inspector": "request_inspector",
    "Compare": "compare",
    "Summary": "summary",
}


@pytest.fixture
def fresh_app(tmp_path, server) -> Iterator[RunningApp]:
    with start_app(
        tmp_path,
        {"OPENAI_API_KEY": "sk-test-class-0001", "OPENAI_BASE_URL": server.openai_base_url},
    ) as app:
        yield app


def _new_page(browser, width: int = 1400, height: int = 900):
    return new_page(browser, width, height, permissions=["clipboard-read", "clipboard-write"])


def _opened(browser, url: str, width: int = 1400, height: int = 900):
    """A new page on the shared app, given a second more after its first run."""
    page = _new_page(browser, width, height)
    page.goto(url)
    wait_for_app(page)
    page.wait_for_timeout(1000)
    return page


def _texts(page, role: str) -> list[str]:
    bubbles = page.locator(
        f'[data-testid="stChatMessage"]:has([data-testid="stChatMessageAvatar{role}"])'
    )
    first_markdown = '[data-testid="stMarkdown"]'
    return [b.locator(first_markdown).first.inner_text().strip() for b in bubbles.all()]


def _user_texts(page) -> list[str]:
    return _texts(page, "User")


def _finished(page, count: int) -> None:
    """Wait until ``count`` replies are on the page, each with its caption (saved)."""
    try:
        caption = re.compile(r"(bytes|KB|MB) sent")
        assistant_messages(page).nth(count - 1).get_by_text(caption).wait_for(timeout=60_000)
    except Exception:
        screenshot(page, f"FAILED-class-{count}")
        raise
    wait_idle(page)


def test_three_messages_sent_fast_on_a_fresh_app_are_all_kept_in_order(browser, fresh_app, server):
    page = _new_page(browser)
    page.goto(fresh_app.url)
    wait_for_app(page)  # no settling pause: the first message goes in at once
    texts = ("My name is Alice.", "My favorite color is blue.", "What is my name?")
    for text in texts:
        send_message(page, text)
        page.wait_for_timeout(300)
    _finished(page, 3)
    assert _user_texts(page) == list(texts)
    sent = [r.body["messages"][-1]["content"] for r in server.requests_to("/chat/completions")]
    assert sent == list(texts)  # each answered, in the order sent
    assert _texts(page, "Assistant")[2] == "Your name is Alice."
    page.context.close()


def test_a_reload_on_every_page_keeps_the_conversation_and_the_settings(browser, app_url):
    page = _opened(browser, app_url)
    bar = sidebar(page)
    bar.get_by_role("combobox", name="Model").click()
    page.get_by_role("option", name="gpt-4o", exact=True).click()
    wait_idle(page)
    send_message(page, "My name is Alice.")
    _finished(page, 1)
    conversation_id = re.search(r"[?&]c=([\w-]+)", page.url).group(1)
    for title, path in PAGES.items():
        bar.get_by_role("link", name=title).click()
        if title != "Chat":
            page.wait_for_url(re.compile(path))
        wait_idle(page)
        assert f"c={conversation_id}" in page.url, (title, page.url)
        page.reload()
        page.wait_for_selector('[data-testid="stSidebar"]')
        wait_idle(page)
        assert f"c={conversation_id}" in page.url
        assert path in page.url or title == "Chat"
        # The model chosen for the conversation came back with it.
        model = sidebar(page).get_by_role("combobox", name="Model")
        assert model.input_value() == "gpt-4o", title
    page.get_by_text("No replies yet").wait_for(state="detached")
    page.context.close()


def test_regenerate_and_an_edited_earlier_message_keep_their_versions(browser, app_url, server):
    page = _opened(browser, app_url)
    for number, text in enumerate(("My name is Alice.", "My favorite color is blue."), 1):
        send_message(page, text)
        _finished(page, number)
    page.get_by_role("button", name="Regenerate").click()
    _finished(page, 2)
    page.get_by_text("2 / 2").first.wait_for()
    # Edit the first message: a new branch starts there, the old one is kept.
    page.locator(".st-key-edit_0 button").first.click()
    wait_idle(page)
    box = page.get_by_label("Edit your message")
    box.fill("My name is Bob.")
    page.get_by_role("button", name="Resend").click()
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=stChatMessageAvatarUser]').length == 1"
    )
    _finished(page, 1)
    assert _user_texts(page) == ["My name is Bob."]
    page.get_by_text("2 / 2").first.wait_for()
    page.reload()
    wait_for_app(page)
    wait_idle(page)
    assert _user_texts(page) == ["My name is Bob."]  # the branch on screen survives a reload
    page.locator(".st-key-older_0 button").first.click()  # back to the first version
    wait_idle(page)
    assert _user_texts(page) == ["My name is Alice.", "My favorite color is blue."]
    page.get_by_text("1 / 2").first.wait_for()
    page.get_by_text("2 / 2").first.wait_for()  # the regenerated reply's versions, too
    # Export and import: the branches travel with the file.
    bar = sidebar(page)
    bar.get_by_text("Download or import").click()
    with page.expect_download() as download:
        bar.get_by_role("button", name="JSON").click()
    document = json.loads(download.value.path().read_text())
    assert document["forks"] and document["version"] == 2
    page.context.close()


def _undo_brings_back(page, user_texts: list[str]) -> None:
    """The conversation just went (an Undo button instead); Undo brings it back, one reply."""
    page.get_by_role("button", name="Undo").wait_for()
    wait_idle(page)
    assert assistant_messages(page).count() == 0
    page.get_by_role("button", name="Undo").click()
    _finished(page, 1)
    assert _user_texts(page) == user_texts


def test_clear_and_delete_can_be_undone(browser, app_url):
    page = _opened(browser, app_url)
    send_message(page, "Remember the number 42.")
    _finished(page, 1)
    page.get_by_role("button", name="Clear").click()
    _undo_brings_back(page, ["Remember the number 42."])
    bar = sidebar(page)
    bar.get_by_text("Rename or delete").click()
    bar.get_by_role("button", name="Delete").click()
    _undo_brings_back(page, ["Remember the number 42."])
    assert sidebar(page).get_by_role("button", name=re.compile("Remember the number 42")).count()
    page.context.close()


def test_search_finds_a_conversation_by_a_word_in_it(browser, app_url):
    page = _opened(browser, app_url)
    send_message(page, "Tell me about the zeppelin Hindenburg.")
    _finished(page, 1)
    bar = sidebar(page)
    bar.get_by_role("button", name="New conversation").click()
    wait_idle(page)
    send_message(page, "Something else entirely.")
    _finished(page, 1)
    search = bar.get_by_placeholder("Words in a title or a message")
    search.fill("hindenburg")
    search.press("Enter")
    wait_idle(page)
    found = bar.get_by_role("button", name=re.compile("· today"))
    found.filter(has_text="zeppelin").wait_for()
    page.wait_for_timeout(500)
    assert found.count() == 1 and "zeppelin" in found.first.inner_text()
    page.context.close()


def test_a_message_can_be_copied(browser, app_url):
    page = _opened(browser, app_url)
    send_message(page, "Copy me exactly.")
    _finished(page, 1)
    page.locator(".st-key-actions_0 [data-testid='stPopoverButton']").first.click()
    code = page.locator('[data-testid="stPopoverBody"] [data-testid="stCode"]')
    code.wait_for()
    assert code.inner_text().strip() == "Copy me exactly."  # the whole message, as written
    code.hover()
    code.get_by_label("Copy to clipboard").click()
    page.wait_for_function("async () => (await navigator.clipboard.readText()).length > 0")
    assert page.evaluate("() => navigator.clipboard.readText()") == "Copy me exactly."
    page.context.close()


@pytest.mark.parametrize(("width", "height"), [(1024, 768), (1400, 900)])
def test_every_page_at_a_class_projector_size(browser, app_url, width, height):
    page = _opened(browser, app_url, width, height)
    send_message(page, "My name is Alice.")
    _finished(page, 1)
    for title, path in PAGES.items():
        sidebar(page).get_by_role("link", name=title).click()
        wait_idle(page)
        page.wait_for_timeout(500)
        shot = whole_page_screenshot(page, f"page-{path}-{width}x{height}")
        assert shot.exists() and shot.parent == ARTIFACTS
        # No metric label or value is cut off at this width.
        selector = '[data-testid="stMetricLabel"] p, [data-testid="stMetricValue"] div'
        for shown in page.locator(selector).all():
            assert shown.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), shown.inner_text()
    page.context.close()
