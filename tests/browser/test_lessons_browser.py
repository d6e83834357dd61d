"""A student does the lessons in Chromium, offline, with the bundled model and no key.

Lessons 1 to 4 are done as a person would: typing in the chat, pressing the sidebar's New
conversation, switching the sidebar's API mode; each lesson's check (the banner above the chat,
then the Lessons page) passes and the progress bar counts it. Lesson 2 done the wrong way (a new
conversation before each message) fails with one sentence and the hint. The presenter view is
readable at 1024x768. Every wait is on the page's own signals: the reply's caption, the check's
text, the progress bar's label.
"""

from __future__ import annotations

import re

import pytest

from tests.chromium import (
    assistant_messages,
    choose_option,
    screenshot,
    send_message,
    sidebar,
    wait_idle,
)
from tests.processes import start_app

pytestmark = [pytest.mark.browser, pytest.mark.local_model]

REPLY = 180_000  # ms: a reply of the bundled model on a slow machine, first load included
LESSON_TITLES = {
    1: "1. A stateless call forgets",
    2: "2. Keeping history yourself",
    3: "3. Responses chaining",
    4: "4. Anthropic Messages",
}


@pytest.fixture(scope="module")
def keyless_app_url(tmp_path_factory):
    """`streamlit run app.py` with no API key, no endpoint and no network: Local, bundled."""
    with start_app(tmp_path_factory.mktemp("lessons"), {"HF_HUB_OFFLINE": "1"}) as app:
        yield app.url


# -- what a student does ------------------------------------------------------------------------


def _main(page):
    """The page's main column (on the chat page Streamlit's <main> has another test id)."""
    return page.locator('[data-testid="stMainBlockContainer"]')


def _progress(page, passed: int) -> None:
    """Wait for the Lessons page's progress bar to say ``passed`` of 8."""
    _main(page).get_by_text(f"{passed} of 8 lessons passed").wait_for(timeout=REPLY)
    bar = _main(page).get_by_role("progressbar")
    assert int(float(bar.get_attribute("aria-valuenow"))) == int(passed / 8 * 100)


def _open_lessons(page, url: str, query: str = "") -> None:
    """Open /lessons straight from the address bar, as a join link or a bookmark would."""
    page.goto(f"{url}/lessons{query}")
    _main(page).get_by_role("heading", name="Lessons").first.wait_for(timeout=REPLY)
    wait_idle(page, REPLY)
    # the app around the page ran too: its navigation and the sidebar's settings are there
    sidebar(page).get_by_text("API mode").first.wait_for()


def _choose_lesson(page, number: int) -> None:
    _main(page).get_by_text(LESSON_TITLES[number], exact=True).first.click()
    _main(page).get_by_role("heading", name=LESSON_TITLES[number]).wait_for()
    wait_idle(page)


def _to_chat(page) -> None:
    """The lesson's "Do it in the chat" link: the chat, with the lesson's banner above it."""
    _main(page).get_by_role("link", name=re.compile("Do it in the chat")).click()
    page.locator('[data-testid="stChatInput"] textarea').wait_for()
    wait_idle(page)


def _back_to_lessons(page) -> None:
    _main(page).get_by_role("link", name=re.compile("Back to the lesson")).click()
    _main(page).get_by_role("heading", name="Lessons").first.wait_for()
    wait_idle(page)


def _new_conversation(page) -> None:
    sidebar(page).get_by_role("button", name="New conversation").click()
    wait_idle(page)
    assert assistant_messages(page).count() == 0


def _say(page, text: str) -> None:
    """Send ``text`` and wait until its reply has finished (its caption counts the tokens)."""
    replies = assistant_messages(page).count()
    send_message(page, text)
    assistant_messages(page).nth(replies).get_by_text(re.compile(r"tokens in")).wait_for(
        timeout=REPLY
    )
    wait_idle(page, REPLY)


def _passed(page) -> str:
    """Wait for the check to say it passed; its sentence."""
    verdict = _main(page).get_by_text(re.compile(r"^Passed: ")).first
    verdict.wait_for(timeout=REPLY)
    return verdict.inner_text()


# -- the tests ----------------------------------------------------------------------------------


def test_a_student_does_lessons_one_to_four_in_the_chat_and_every_check_passes(
    page, keyless_app_url
):
    # first visit of a fresh server, straight to /lessons
    _open_lessons(page, keyless_app_url)
    _progress(page, 0)
    _main(page).get_by_text("Not checked yet: do the task in the chat.").wait_for()

    # 1: a fact, a new conversation, the question: the question went out alone
    _to_chat(page)
    _main(page).get_by_text("Lesson 1: A stateless call forgets", exact=True).wait_for()
    _say(page, "My name is Alice.")
    # one call is not the task yet: the banner says why, and its hint names the button
    _main(page).get_by_text(re.compile(r"two calls are needed")).wait_for()
    _main(page).get_by_text(re.compile(r"^Hint: Press New conversation in the sidebar")).wait_for()
    _new_conversation(page)
    _say(page, "What is my name?")
    assert "carried only your new question" in _passed(page)
    _back_to_lessons(page)
    _progress(page, 1)
    assert "carried only your new question" in _passed(page)

    # 2: two messages in one conversation: the second request resent the first turn
    _choose_lesson(page, 2)
    _to_chat(page)
    _new_conversation(page)
    _say(page, "My name is Alice.")
    _say(page, "What is my name?")
    assert "resent 2 earlier messages" in _passed(page)
    _back_to_lessons(page)
    _progress(page, 2)

    # 3: the sidebar's "Chat + local chaining": the second call names the first response
    _choose_lesson(page, 3)
    _to_chat(page)
    choose_option(page, "API mode", "Chat + local chaining")
    _new_conversation(page)
    _say(page, "My favorite color is blue.")
    _say(page, "What is my favorite color?")
    assert "sent only the new message" in _passed(page)
    _back_to_lessons(page)
    _progress(page, 3)

    # 4: Messages mode with a system prompt: system at the top level, roles alternating
    _choose_lesson(page, 4)
    _to_chat(page)
    choose_option(page, "API mode", "Messages (Anthropic shape)")
    prompt = sidebar(page).get_by_label("System prompt")
    prompt.fill("You are a patient Python tutor.")
    prompt.blur()
    wait_idle(page)
    _new_conversation(page)
    _say(page, "Hi, I am learning Python.")
    _say(page, "What should I learn first?")
    assert "system sat at the top level" in _passed(page)
    _back_to_lessons(page)
    _progress(page, 4)
    for number in range(1, 5):  # each passed lesson is ticked in the lesson list
        _main(page).get_by_text(f"✓ {LESSON_TITLES[number]}").wait_for()
    screenshot(page, "lessons-one-to-four-passed")


def test_lesson_two_with_a_new_conversation_each_turn_fails_with_one_sentence_and_the_hint(
    page, keyless_app_url
):
    # the page fixture is a fresh browser context: another student
    _open_lessons(page, keyless_app_url)
    _progress(page, 0)
    _choose_lesson(page, 2)
    _to_chat(page)
    for text in ("My name is Alice.", "What is my name?"):
        _new_conversation(page)
        _say(page, text)
    wrong = "The request carried only the new message, so the model saw none of the earlier turn."
    banner_verdict = _main(page).get_by_text(wrong, exact=True)
    banner_verdict.wait_for(timeout=REPLY)
    # the banner gives the hint with it
    _main(page).get_by_text(re.compile(r"^Hint: Stay in one conversation")).wait_for()
    assert not _main(page).get_by_text(re.compile(r"^Passed: ")).count()

    _back_to_lessons(page)
    _progress(page, 0)
    verdict = _main(page).locator('[data-testid="stAlert"]', has_text=wrong)
    verdict.wait_for()
    sentence = verdict.inner_text().strip().splitlines()[-1].strip()
    assert sentence == wrong
    assert sentence.count(". ") == 0 and sentence.endswith(".")  # one sentence
    hint = _main(page).get_by_text("Stay in one conversation for both messages")
    assert not hint.is_visible()  # closed until the student opens it
    _main(page).get_by_text("Hint", exact=True).click()
    hint.wait_for()
    hint.scroll_into_view_if_needed()
    screenshot(page, "lessons-two-the-wrong-way")


def test_the_presenter_view_is_readable_at_1024_by_768(page, keyless_app_url):
    page.set_viewport_size({"width": 1024, "height": 768})
    _open_lessons(page, keyless_app_url, "?present=1")
    _main(page).get_by_role("heading", name=LESSON_TITLES[1]).wait_for()
    # the lesson's request picture needs a request: "Show me" sends the task's messages
    _main(page).get_by_role("button", name=re.compile("Show me")).click()
    picture = _main(page).get_by_text("The last request your chat sent")
    picture.wait_for(timeout=REPLY)
    _passed(page)
    wait_idle(page, REPLY)

    idea = _main(page).get_by_text(re.compile(r"^A model keeps nothing between requests"))
    size = idea.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 22, f"body text is {size}px in presenter view"
    title = _main(page).get_by_role("heading", name=LESSON_TITLES[1])
    for element in (title, picture):
        element.scroll_into_view_if_needed()
        box = element.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1024, box
    # nothing is wider than the window: no horizontal scrolling anywhere
    wide = page.evaluate(
        "() => [document.documentElement, ...document.querySelectorAll("
        '\'[data-testid="stMain"], [data-testid="stMainBlockContainer"]\')]'
        ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.className || e.tagName)"
    )
    assert wide == []
    title.scroll_into_view_if_needed()
    screenshot(page, "lessons-presenter-1024x768")
