"""Build SDK clients from explicit arguments or the SDKs' own environment variables.

``OPENAI_API_KEY``/``OPENAI_BASE_URL`` and ``ANTHROPIC_API_KEY``/``ANTHROPIC_BASE_URL`` point the
whole app at another endpoint with no code change. Keys are passed straight to the SDK and
never stored elsewhere.
"""

from __future__ import annotations

import os

import anthropic
import openai

from chatkit.errors import MissingApiKey

DEFAULT_TIMEOUT_SECONDS = 120.0
# OpenAI-compatible servers (Ollama, llama.cpp, vLLM) usually take any key, but the SDK wants one.
PLACEHOLDER_KEY = "not-needed"


def openai_client(
    api_key: str | None = None,
    base_url: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    max_retries: int = 2,
    provider: str = "OpenAI",
) -> openai.OpenAI:
    """An ``openai.OpenAI`` client; no key is a ``MissingApiKey`` unless a base URL is set."""
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    key = api_key or os.environ.get("OPENAI_API_KEY")
    if not key:
        if not base_url:
            raise MissingApiKey(
                f"No {provider} API key is set: paste one in the sidebar or set OPENAI_API_KEY."
            )
        key = PLACEHOLDER_KEY
    return openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=max_retries)


def anthropic_client(
    api_key: str | None = None,
    base_url: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    max_retries: int = 2,
) -> anthropic.Anthropic:
    """An ``anthropic.Anthropic`` client; a missing key is a ``MissingApiKey``."""
    key = api_key or os.environ.get("ANTHROPIC_API_KEY")
    if not key:
        raise MissingApiKey(
            "No Anthropic API key is set: paste one in the sidebar or set ANTHROPIC_API_KEY."
        )
    return anthropic.Anthropic(
        api_key=key,
        base_url=base_url or os.environ.get("ANTHROPIC_BASE_URL") or None,
        timeout=timeout,
        max_retries=max_retries,
    )
