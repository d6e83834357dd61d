"""Debian's Chromium under Playwright, and reading the Streamlit page in it.

Shared by tests/conftest.py (the ``browser`` and ``page`` fixtures), tests/browser,
tests/peers and bench/load.py. Screenshots go to the git-ignored ``test-artifacts/``.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def new_page(browser, width: int = 1400, height: int = 900, **context_options):
    """A page in a fresh browser context (``context_options``: Playwright's, such as
    ``permissions``), with a 30 s default timeout."""
    context = browser.new_context(viewport={"width": width, "height": height}, **context_options)
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


def screenshot(page, name: str) -> Path:
    """Save a screenshot as a test artifact and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_for_app(page) -> None:
    """Wait until Streamlit finished its first run."""
    page.wait_for_selector(
        '[data-testid="stChatInput"] textarea, [data-testid="stChatInputTextArea"]'
    )
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")


def send_message(page, text: str) -> None:
    """Type into the chat input and press Enter."""
    box = page.locator('[data-testid="stChatInput"] textarea').first
    box.fill(text)
    box.press("Enter")


def assistant_messages(page):
    return page.locator(
        '[data-testid="stChatMessage"]:has([data-testid="stChatMessageAvatarAssistant"])'
    )


def sidebar(page):
    """The sidebar, to find its widgets by label."""
    return page.locator('[data-testid="stSidebar"]')


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until the script run ends (the running indicator disappears)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout
    )


def choose_option(page, label: str, option: str) -> None:
    """Pick ``option`` in the sidebar's radio group or select box labelled ``label``."""
    bar = sidebar(page)
    label_element = page.locator('[data-testid="stWidgetLabel"]', has_text=label)
    radio = bar.locator('[data-testid="stRadio"]').filter(has=label_element)
    if radio.count():
        radio.get_by_text(option, exact=True).click()
    else:
        bar.get_by_role("combobox", name=label).click()
        page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def whole_page_screenshot(page, name: str) -> Path:
    """A screenshot of the whole page: Streamlit scrolls inside its main area and its sidebar,
    so the window is made as tall as the taller of them for the shot."""
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll("
        '\'section, [data-testid="stMain"], [data-testid="stSidebarContent"]\')]'
        ".map(e => e.scrollHeight), document.body.scrollHeight)"
    )
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 200, 8000)})
    page.wait_for_timeout(800)
    path = screenshot(page, name)
    page.set_viewport_size(size)
    return path
