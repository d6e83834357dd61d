"""SDK clients, from explicit arguments or the SDKs' own environment variables, made on first use.

``OPENAI_API_KEY``/``OPENAI_BASE_URL`` and ``ANTHROPIC_API_KEY``/``ANTHROPIC_BASE_URL`` point the
whole app at another endpoint with no code change. Keys are passed straight to the SDK and
never stored elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anthropic
import openai

from chatkit.errors import ChatkitError, MissingApiKey
from chatkit.messages import Message
from chatkit.providers.base import (
    Capabilities,
    GenerationOptions,
    StreamingProvider,
    TurnResult,
    chat_messages,
)
from chatkit.providers.sdk_errors import OPENAI_ERRORS
from chatkit.providers.server_tokens import (
    COUNT_TIMEOUT_SECONDS,
    CountingFailed,
    CountingUnsupported,
    CountMethod,
    ServerTokenizer,
)
from chatkit.tokens import Tokenizer, tokenizer_for_model

DEFAULT_TIMEOUT_SECONDS = 120.0
OPENAI_HOST = "api.openai.com"
COMPATIBLE_NAME = "OpenAI-compatible"
ANTHROPIC_HOST = "api.anthropic.com"
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
        # a compatible server's counts are exact only if it answers (see its tokenizer)
        exact_token_counts=base_url is None and tokenizer_for_model(model).exact,
        needs_api_key=base_url is None,
    )


def openai_name(base_url: str | None) -> str:
    """The default name of an OpenAI-style provider: OpenAI, or a compatible server."""
    return COMPATIBLE_NAME if base_url else "OpenAI"


def url_host(url: str | None) -> str | None:
    """``host[:port]`` of a URL, or None when there is none."""
    if not url:
        return None
    parts = urlsplit(str(url))
    return parts.netloc.rpartition("@")[2] or None


def endpoint_label(name: str, base_url: str | None, own_host: str) -> str:
    """How a sentence names a provider: its name, plus the server's host when the requests go
    somewhere other than the provider's own API (``OpenAI-compatible at 127.0.0.1:8080``)."""
    host = url_host(base_url)
    if host is None or host == own_host:
        return name
    return f"{name} at {host}"


def _server_count(
    client_of: Callable[[], openai.OpenAI],
    path: str,
    body: dict[str, Any],
    field: str,
    *,
    at_root: bool = False,
) -> int:
    """POST ``body`` to a counting endpoint (under the base URL, or ``at_root`` of the server)
    and read ``field``; a server without the endpoint (or one that answers something else) is
    ``CountingUnsupported``, one that does not answer now ``CountingFailed``."""
    try:
        client = client_of()
        url = _server_root(client.base_url) + path if at_root else path
        quick = client.with_options(timeout=COUNT_TIMEOUT_SECONDS, max_retries=0)
        answer = quick.post(url, cast_to=object, body=body)
    except openai.APIStatusError as exc:
        if exc.status_code in (400, 404, 405, 422, 501):
            raise CountingUnsupported(path) from exc
        raise CountingFailed.because(exc) from exc
    except (*OPENAI_ERRORS, ChatkitError) as exc:
        raise CountingFailed.because(exc) from exc
    if not isinstance(answer, dict) or not isinstance(answer.get(field), int):
        raise CountingUnsupported(path)
    return answer[field]


def _server_root(base_url: Any) -> str:
    """The server's root URL (vLLM serves ``/tokenize`` beside ``/v1``, not under it)."""
    parts = urlsplit(str(base_url))
    path = parts.path.rstrip("/")
    path = path.removesuffix("/v1")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def compatible_count_methods(
    client_of: Callable[[], openai.OpenAI], model: str
) -> tuple[CountMethod, ...]:
    """How OpenAI-compatible servers count a chat prompt, in the order to try them.

    llama.cpp's server: ``POST /v1/chat/completions/input_tokens`` (tools/server/README.md);
    vLLM: ``POST /tokenize`` with ``messages`` (docs.vllm.ai, "Tokenizer API"). Both render
    the chat template as a real request would, generation prompt included. Responses
    requests become the same chat prompt on these servers, so one count serves both modes.
    """

    def llama_cpp(messages: Sequence[Message]) -> int:
        body = {"model": model, "messages": chat_messages(messages)}
        return _server_count(client_of, "/chat/completions/input_tokens", body, "input_tokens")

    def vllm(messages: Sequence[Message]) -> int:
        body = {"model": model, "messages": chat_messages(messages), "add_generation_prompt": True}
        return _server_count(client_of, "/tokenize", body, "count", at_root=True)

    return (
        CountMethod("llama.cpp's /v1/chat/completions/input_tokens", llama_cpp),
        CountMethod("vLLM's /tokenize", vllm),
    )


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

    # The provider's own API host, and the SDK variable that points it elsewhere.
    OWN_HOST = OPENAI_HOST
    BASE_URL_ENV = "OPENAI_BASE_URL"

    def __post_init__(self) -> None:
        if self.name == "provider":
            self.name = self._default_name()
        self.mode = self._fixed_mode()
        self.capabilities = self._declared_capabilities()

    def _client(self) -> Any:
        if self.client is None:
            self.client = self._make_client()
        return self.client

    @property
    def endpoint(self) -> str | None:
        """The base URL requests go to: the given one, the client's, or the SDK's variable
        (None: the provider's own API)."""
        if self.base_url:
            return self.base_url
        if self.client is not None:
            return str(self.client.base_url)
        return os.environ.get(self.BASE_URL_ENV) or None

    @property
    def label(self) -> str:
        """The provider as sentences name it: the name chosen ("OpenAI", "Anthropic"), and for
        an OpenAI-compatible server (chosen, or a client passed in) which one, by its host."""
        if self.name != COMPATIBLE_NAME:
            return self.name
        return endpoint_label(self.name, self.endpoint, self.OWN_HOST)

    @property
    def on_own_api(self) -> bool:
        """True when requests go to the provider's own API rather than another server."""
        host = url_host(self.endpoint)
        return host is None or host == self.OWN_HOST

    def tokenizer(self) -> Tokenizer:
        """The server's own counts when it offers them (else the labelled estimate); the
        offline tokenizer when it is exact and no server needs asking."""
        methods = self._count_methods()
        if not methods:
            return tokenizer_for_model(self.model)
        return ServerTokenizer(
            key=(self.OWN_HOST, self.endpoint or "", self.model),
            where=endpoint_label(self.name, self.endpoint, self.OWN_HOST),
            model=self.model,
            methods=methods,
        )

    def _count_methods(self) -> tuple[CountMethod, ...]:
        """How this provider's server counts prompts (none: count offline)."""
        return ()

    def complete(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        previous_response_id: str | None = None,
        *,
        stream: bool = True,
    ) -> TurnResult:
        """The whole reply at once: the streamed request consumed, or with ``stream=False``
        one plain request (``stream`` absent from the body, one JSON response)."""
        if stream:
            return super().complete(messages, options, previous_response_id)
        return self._complete(list(messages), options or GenerationOptions(), previous_response_id)

    def _complete(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        previous_response_id: str | None,
    ) -> TurnResult:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def _default_name(self) -> str:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def _fixed_mode(self) -> str:
        return "chat"

    def _declared_capabilities(self) -> Capabilities:
        return self.capabilities

    def _make_client(self) -> Any:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError
