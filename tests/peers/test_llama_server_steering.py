"""Steering the context against llama.cpp's llama-server, in Chromium: the pinned message is
in the request llama-server received, the left-out one is not, and the "Next request" line
said the prompt tokens llama-server then billed (tests/browser/test_steering_browser.py has the
steps and runs them against the protocol test server).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.test_steering_browser import NEXT, TURNS, sent_user_texts, steer_and_send
from tests.chromium import choose_option, wait_for_app
from tests.peers.conftest import API_KEY, LlamaServer
from tests.processes import start_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def llama_compatible_app(llama_server: LlamaServer, tmp_path_factory) -> Iterator[str]:
    """The app at llama-server (through the recorder), with its key."""
    with start_app(
        tmp_path_factory.mktemp("llama-steering-app"),
        {"OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": llama_server.openai_base_url},
    ) as app:
        yield app.url


def test_llama_server_gets_the_pin_not_the_left_out(llama, llama_compatible_app, page) -> None:
    page.goto(llama_compatible_app)
    wait_for_app(page)
    choose_option(page, "Provider", "OpenAI-compatible")
    line, billed = steer_and_send(page, max_output_tokens=24)
    body = llama.recorder.requests_to("/v1/chat/completions")[-1].body
    assert sent_user_texts(body) == [TURNS[0], TURNS[1], TURNS[3], NEXT]
    assert line.group(3) == "exact", line.group(0)
    assert int(line.group(2).replace(",", "")) == billed
