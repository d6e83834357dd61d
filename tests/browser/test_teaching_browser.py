"""The teaching pages in a real browser: the charts render, and Compare shows who forgets.

The app talks to the local protocol test server, whose replies depend on what it was really
sent: "What is my name?" is answered with the name only if "My name is Alice." reached it.
"""

from __future__ import annotations

import pytest

from tests.chromium import (
    assistant_messages,
    send_message,
    wait_for_app,
    wait_idle,
    whole_page_screenshot,
)

pytestmark = pytest.mark.browser

CHART = '[data-testid="stVegaLiteChart"]'


def go_to(page, title: str) -> None:
    """Follow the sidebar's navigation link (the session, and its conversation, stay)."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.get_by_role("heading", name=title).first.wait_for()
    wait_idle(page)


def wait_for_charts(page, count: int) -> None:
    page.wait_for_function(
        f"() => document.querySelectorAll('{CHART} canvas, {CHART} svg.marks').length >= {count}",
        timeout=30_000,
    )


def chat(page, texts: list[str]) -> None:
    for number, text in enumerate(texts, start=1):
        send_message(page, text)
        assistant_messages(page).nth(number - 1).wait_for()
        wait_idle(page)


def test_context_window_inspector_and_summary_pages_draw_their_figures(app_url, page) -> None:
    page.goto(app_url)
    wait_for_app(page)
    chat(page, ["My name is Alice.", "My favorite color is blue.", "What is my name?"])
    assert "Your name is Alice." in assistant_messages(page).nth(2).inner_text()

    go_to(page, "Context window")
    wait_for_charts(page, 1)
    assert page.locator(CHART).count() == 1
    assert page.get_by_text("The whole context window").count() >= 1
    whole_page_screenshot(page, "teaching-context-window")

    # Preview "summarize older turns" with a tight budget: the summary shows, no model call.
    page.get_by_role("combobox", name="Trimming strategy").click()
    page.get_by_role("option", name="Summarize older turns").click()
    wait_idle(page)
    page.get_by_role("slider").first.focus()
    page.keyboard.press("End")
    for _ in range(20):
        page.keyboard.press("ArrowLeft")
    wait_idle(page)
    page.get_by_text("The summary that would replace the dropped turns").wait_for()
    assert page.get_by_text("no model call").count() >= 1
    wait_for_charts(page, 1)
    whole_page_screenshot(page, "teaching-context-window-summary")

    go_to(page, "Request inspector")
    wait_for_charts(page, 1)
    assert page.get_by_text("Request body (exactly as sent)").count() == 1
    assert page.get_by_text("previous_response_id").count() >= 1
    whole_page_screenshot(page, "teaching-request-inspector")

    go_to(page, "Summary")
    page.get_by_role("button", name="Summarize the whole conversation").click()
    wait_idle(page)
    page.get_by_text("Summary:").first.wait_for()
    whole_page_screenshot(page, "teaching-summary")


def test_compare_the_stateless_column_forgets_the_name(app_url, page) -> None:
    page.goto(app_url + "/compare")
    page.get_by_role("heading", name="Stateless vs. manual history vs. chaining").wait_for()
    wait_idle(page)
    page.get_by_role("button", name="Run the comparison").click()
    wait_for_charts(page, 2)
    wait_idle(page)
    # One row per turn: the three replies side by side (stateless, manual, chained).
    rows = page.locator('[data-testid="stHorizontalBlock"]:has([data-testid="stChatMessage"])')
    assert rows.count() == 5
    columns: list[list[str]] = [[], [], []]
    for row in range(rows.count()):
        cells = rows.nth(row).locator(':scope > [data-testid="stColumn"]')
        for way in range(3):
            columns[way].append(cells.nth(way).inner_text())
    stateless, manual, chained = ("\n".join(texts) for texts in columns)
    assert "I don't know your name." in stateless
    assert "Your name is Alice." not in stateless
    assert "Your name is Alice." in manual
    assert "Your name is Alice." in chained
    assert "Your favorite color is blue." in chained
    whole_page_screenshot(page, "teaching-compare")
