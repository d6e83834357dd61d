"""The model an OpenAI-compatible server serves, asked of the server itself.

llama.cpp's server, vLLM and Ollama list their models at ``GET /v1/models``; a server started
for one model (``llama-server --alias smollm2-135m``) lists just that one. The app asks the
host's own server once, with a short timeout, so that a caption names the model that really
answers instead of a suggestion; a server that does not answer leaves the app's default, and
is asked again a little later.
"""

from __future__ import annotations

import logging
import threading
import time

import openai

ASK_SECONDS = 2.0  # the whole request: the sidebar waits for it once
RETRY_AFTER_SECONDS = 30.0  # a server that did not answer is asked again after this

_lock = threading.Lock()
_answers: dict[str, tuple[float, str | None]] = {}  # base URL -> (when asked, first model id)


def served_model(base_url: str, api_key: str | None = None) -> str | None:
    """The first model id the server at ``base_url`` lists, or None when it lists none or does
    not answer within ``ASK_SECONDS`` (kept for the process; a miss for ``RETRY_AFTER_SECONDS``)."""
    url = base_url.rstrip("/")
    with _lock:
        known = _answers.get(url)
    if known is not None and (
        known[1] is not None or time.monotonic() - known[0] < RETRY_AFTER_SECONDS
    ):
        return known[1]
    model = _ask(url, api_key)
    with _lock:
        _answers[url] = (time.monotonic(), model)
    return model


def forget_served_models() -> None:
    """Forget every answer (for tests, and after a server was restarted with another model)."""
    with _lock:
        _answers.clear()


def _ask(base_url: str, api_key: str | None) -> str | None:
    client = openai.OpenAI(
        base_url=base_url, api_key=api_key or "not-needed", timeout=ASK_SECONDS, max_retries=0
    )
    try:
        for model in client.models.list():
            return model.id
        return None
    except openai.OpenAIError as error:  # no answer: the app keeps its own default
        logging.getLogger("chatkit").info(
            "The server at %s did not list its models (%s).", base_url, type(error).__name__
        )
        return None
    finally:
        client.close()
