"""Browser tests: `streamlit run app.py` in a subprocess, driven by Playwright in Debian's Chromium.

The app's SDKs point at the protocol test server through ``OPENAI_BASE_URL`` and
``ANTHROPIC_BASE_URL``; nothing leaves 127.0.0.1. Screenshots go to ``test-artifacts/``.
The ``browser`` and ``page`` fixtures live in tests/conftest.py and the page helpers in
tests/chromium.py: one Chromium serves these tests and tests/peers alike (Playwright's sync
API runs once per process); tests/processes.py starts the app.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.processes import start_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def app_url(protocol_server, tmp_path_factory) -> Iterator[str]:
    """The app, pointed at the protocol test server through the SDKs' own variables."""
    with start_app(
        tmp_path_factory.mktemp("app"),
        {
            "OPENAI_API_KEY": "sk-test-browser",
            "OPENAI_BASE_URL": protocol_server.openai_base_url,
            "ANTHROPIC_API_KEY": "sk-ant-test-browser",
            "ANTHROPIC_BASE_URL": protocol_server.anthropic_base_url,
        },
    ) as app:
        yield app.url
