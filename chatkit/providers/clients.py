"""SDK clients, from explicit arguments or the SDKs' own environment variables, made on first use.

``OPENAI_API_KEY``/``OPENAI_BASE_URL`` and ``ANTHROPIC_API_KEY``/``ANTHROPIC_BASE_URL`` point the
whole app at another endpoint with no code change. Keys are passed straight to the SDK and
never stored elsewhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai

from chatkit.errors import MissingApiKey
from chatkit.providers.base import Capabilities, StreamingProvider
from chatkit.tokens import tokenizer_for_model

DEFAULT_TIMEOUT_SECONDS = 120.0
# OpenAI-compatible servers (Ollama, llama.cpp, vLLM) usually take any key, but the SDK wants one.
PLACEHOLDER_KEY = "not-needed"


def environment_key(key_variable: str, url_variable: str, base_url: str | None) -> str | None:
    """The key in ``key_variable``, but only for the endpoint it belongs to: the SDK's default
    or the one in ``url_variable``. A base URL named anywhere else never gets the host's key."""
    if base_url and base_url.rstrip("/") != (os.environ.get(url_variable) or "").rstrip("/"):
        return None
    return os.environ.get(key_variable) or None


def openai_client(
    api_key: str | None = None,
    base_url: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    max_retries: int = 2,
    provider: str = "OpenAI",
) -> openai.OpenAI:
    """An ``openai.OpenAI`` client; no key is a ``MissingApiKey`` unless a base URL is set.

    Without ``api_key``, ``OPENAI_API_KEY`` is used only for OpenAI itself or the endpoint in
    ``OPENAI_BASE_URL``: any other ``base_url`` gets a placeholder key, never the host's.
    """
    key = api_key or environment_key("OPENAI_API_KEY", "OPENAI_BASE_URL", base_url)
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
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
    """An ``anthropic.Anthropic`` client; a missing key is a ``MissingApiKey``.

    Without ``api_key``, ``ANTHROPIC_API_KEY`` is used only for Anthropic itself or the
    endpoint in ``ANTHROPIC_BASE_URL``, never for another ``base_url``.
    """
    key = api_key or environment_key("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", base_url)
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


def openai_capabilities(
    model: str, base_url: str | None, *, server_side_chaining: bool
) -> Capabilities:
    """What an OpenAI (or OpenAI-compatible) provider supports."""
    return Capabilities(
        streaming=True,
        server_side_chaining=server_side_chaining,
        sampling_parameters=True,
        exact_token_counts=tokenizer_for_model(model).exact,
        needs_api_key=base_url is None,
    )


def openai_name(base_url: str | None) -> str:
    """The default name of an OpenAI-style provider: OpenAI, or a compatible server."""
    return "OpenAI-compatible" if base_url else "OpenAI"


@dataclass
class SdkProvider(StreamingProvider):
    """Shared plumbing of the providers on an official SDK.

    ``client`` is the SDK client to use; without one, a client is made on first use from
    ``api_key`` and ``base_url`` (else the SDK's own environment variables). Each subclass
    fixes its API mode, its default name and its capabilities.
    """

    client: Any = None
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None

    def __post_init__(self) -> None:
        if self.name == "provider":
            self.name = self._default_name()
        self.mode = self._fixed_mode()
        self.capabilities = self._declared_capabilities()

    def _client(self) -> Any:
        if self.client is None:
            self.client = self._make_client()
        return self.client

    def _default_name(self) -> str:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def _fixed_mode(self) -> str:
        return "chat"

    def _declared_capabilities(self) -> Capabilities:
        return self.capabilities

    def _make_client(self) -> Any:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError
