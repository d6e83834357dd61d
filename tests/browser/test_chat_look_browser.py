"""What only a browser shows on the chat page: the colour scheme the browser prefers, the
"‹ n / m ›" switcher kept together, and a queued (or not sent) message losing its label once
its reply streams: the run drawing that reply lasts until it ends, and until a run ends the
browser keeps what the run before drew where this one draws nothing."""

from __future__ import annotations

import re

import pytest

from tests.chromium import (
    assistant_messages,
    new_page,
    screenshot,
    send_message,
    wait_for_app,
    wait_idle,
)

pytestmark = pytest.mark.browser

QUEUED = "queued: sent after the reply"


def luminance(css_colour: str) -> float:
    """The relative luminance (0 black .. 1 white, WCAG) of a computed ``rgb(...)`` colour."""
    red, green, blue = (int(part) / 255 for part in re.findall(r"\d+", css_colour)[:3])

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def background(page) -> str:
    return page.locator('[data-testid="stApp"]').evaluate(
        "element => getComputedStyle(element).backgroundColor"
    )


@pytest.fixture
def scheme_page(browser, request):
    """A page in a browser that prefers the colour scheme the test is parametrized with."""
    page = new_page(browser, color_scheme=request.param)
    yield page
    page.context.close()


@pytest.mark.parametrize(
    ("scheme_page", "dark"), [("dark", True), ("light", False)], indirect=["scheme_page"]
)
def test_the_page_follows_the_browsers_colour_scheme(scheme_page, app_url, dark) -> None:
    scheme_page.goto(app_url)
    wait_for_app(scheme_page)
    colour = background(scheme_page)
    screenshot(scheme_page, f"chat-{'dark' if dark else 'light'}")
    if dark:
        assert luminance(colour) < 0.1, colour
    else:
        assert luminance(colour) > 0.8, colour


def test_the_version_switcher_stays_together(page, app_url, server) -> None:
    page.goto(app_url)
    wait_for_app(page)
    send_message(page, "My name is Alice.")
    assistant_messages(page).first.get_by_text(re.compile(r"bytes sent")).wait_for()
    wait_idle(page)
    page.get_by_role("button", name="Regenerate").click()
    switcher = page.locator(".st-key-versions_1")
    switcher.get_by_text("2 / 2").wait_for()
    wait_idle(page)
    older = switcher.get_by_role("button", name="‹").bounding_box()
    newer = switcher.get_by_role("button", name="›").bounding_box()
    assert older is not None and newer is not None
    screenshot(page, "chat-versions")
    assert 0 < newer["x"] - older["x"] < 200, (older, newer)
    assert abs(newer["y"] - older["y"]) < 5  # on one line


def test_a_queued_message_loses_its_label_when_its_reply_streams(page, app_url, server) -> None:
    page.goto(app_url)
    wait_for_app(page)
    server.chunk_delay = 0.25
    send_message(page, "The first message, answered slowly word by word")
    assistant_messages(page).first.wait_for()
    send_message(page, "The second message")
    page.get_by_text(QUEUED).wait_for()
    # the second reply streams: its first words are on the page, its last not yet
    second = assistant_messages(page).nth(1)
    second.get_by_text(re.compile(r"^You said:")).wait_for()
    assert "bytes sent" not in second.inner_text()  # still streaming
    screenshot(page, "chat-second-reply-streaming")
    assert page.get_by_text(QUEUED).count() == 0
    assert page.get_by_text("The second message", exact=True).count() == 1  # drawn once
    server.chunk_delay = 0.0
    wait_idle(page)


def test_a_retried_message_loses_its_not_sent_label_when_its_reply_streams(
    page, app_url, server
) -> None:
    page.goto(app_url)
    wait_for_app(page)
    server.fail_next("400", message="This request was refused.")
    send_message(page, "A message refused once")
    page.get_by_text("not sent", exact=True).wait_for()
    wait_idle(page)
    server.chunk_delay = 0.25
    page.get_by_role("button", name="Retry").click()
    reply = assistant_messages(page).first
    reply.get_by_text(re.compile(r"^You said:")).wait_for()
    assert "bytes sent" not in reply.inner_text()  # still streaming
    assert page.get_by_text("not sent", exact=True).count() == 0
    server.chunk_delay = 0.0
    wait_idle(page)
