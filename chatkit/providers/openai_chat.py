"""OpenAI Chat Completions: the whole message array is sent on every turn.

``OpenAIChat`` speaks it to OpenAI's own API or to any OpenAI-compatible server (an
``Endpoint``); such a server's own token counts are asked for where it offers them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import openai

from chatkit.errors import ChatkitError
from chatkit.messages import Message
from chatkit.providers.base import ApiShape, GenerationOptions, Prompt, chat_messages
from chatkit.providers.calls import CallResult, StreamEvent, TextDelta, Usage
from chatkit.providers.endpoints import DEFAULT_TIMEOUT_SECONDS, Endpoint, openai_endpoint
from chatkit.providers.sdk import Reading, Sdk, SdkProvider, Sent
from chatkit.providers.sdk_errors import OPENAI_ERRORS, from_openai_error
from chatkit.providers.server_tokens import (
    COUNT_TIMEOUT_SECONDS,
    CountingFailed,
    CountingUnsupported,
    CountMethod,
)


def chat_completions_request(
    messages: Sequence[Message],
    model: str,
    options: GenerationOptions | None = None,
    *,
    system_role: str = "system",
    stream: bool = True,
) -> dict[str, Any]:
    """The Chat Completions body: every message in order, the system prompt leading.

    ``system_role="developer"`` sends instruction messages with the role newer models
    prefer. Always ``max_completion_tokens`` (``max_tokens`` is rejected by reasoning models);
    usage is asked for on the stream.
    """
    options = options or GenerationOptions()
    body: dict[str, Any] = {"model": model, "messages": chat_messages(messages, system_role)}
    body.update(options.in_body("max_completion_tokens", seed=True))
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


# OpenAI-compatible servers (Ollama, llama.cpp, vLLM) usually take any key, but the SDK wants one.
PLACEHOLDER_KEY = "not-needed"


def openai_client(
    endpoint: Endpoint, *, timeout: float = DEFAULT_TIMEOUT_SECONDS, max_retries: int = 2
) -> openai.OpenAI:
    """An ``openai.OpenAI`` client for ``endpoint`` (its own client, if it has one).

    No key is a ``MissingApiKey``, except for a server at another address: it gets a
    placeholder key (compatible servers want none), never the host's.
    """
    if endpoint.client is not None:
        return endpoint.client
    key = endpoint.key()
    url = endpoint.url
    if not key:
        if not url or endpoint.on_own_api:
            raise endpoint.missing_key()
        key = PLACEHOLDER_KEY
    return openai.OpenAI(api_key=key, base_url=url, timeout=timeout, max_retries=max_retries)


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    details = getattr(raw, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    return Usage(
        input_tokens=raw.prompt_tokens or 0,
        output_tokens=raw.completion_tokens or 0,
        cached_input_tokens=cached,
    )


CHAT_COMPLETIONS = ApiShape(
    "chat",
    "Chat Completions: the full message array",
    lambda messages, model, options, _previous: chat_completions_request(messages, model, options),
)


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


def _server_counts(provider: SdkProvider) -> tuple[CountMethod, ...]:
    """A compatible server's own counts; OpenAI's own API is counted offline (tiktoken)."""
    if provider.endpoint.on_own_api:
        return ()
    return compatible_count_methods(provider.sdk_client, provider.model)


OPENAI_SDK = Sdk(openai_client, OPENAI_ERRORS, from_openai_error, openai_endpoint, _server_counts)


@dataclass
class OpenAIChat(SdkProvider):
    """Chat Completions on the official SDK; any OpenAI-compatible server via its endpoint."""

    system_role: str = "system"

    SDK = OPENAI_SDK

    def _body(self, prompt: Prompt, *, stream: bool) -> dict[str, Any]:
        return chat_completions_request(
            prompt.messages, self.model, prompt.options, system_role=self.system_role, stream=stream
        )

    def _send(self, client: openai.OpenAI, body: dict[str, Any]) -> Any:
        return client.chat.completions.create(**body)

    def _read(self, stream: Any, reading: Reading) -> Iterator[StreamEvent]:
        for chunk in stream:
            reading.response_id = chunk.id or reading.response_id
            reading.model = chunk.model or reading.model
            yield from reading.usage_seen(_usage(chunk.usage))
            if not chunk.choices:  # the final usage chunk has no choices
                continue
            choice = chunk.choices[0]
            text = choice.delta.content if choice.delta else None
            if text:
                yield TextDelta(text)
            if choice.finish_reason:
                yield from reading.finish(choice.finish_reason)

    def _finish(self, sent: Sent, reading: Reading) -> CallResult:
        text, usage = reading.text, reading.usage
        return self._streamed(
            sent,
            reading,
            {
                "id": reading.response_id,
                "object": "chat.completion",
                "model": reading.model or self.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": reading.finish_reason,
                    }
                ],
                "usage": None
                if usage is None
                else {
                    "prompt_tokens": usage.input_tokens,
                    "completion_tokens": usage.output_tokens,
                    "total_tokens": usage.total_tokens,
                    "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
                },
            },
        )

    def _finish_plain(self, sent: Sent) -> CallResult:
        response = sent.answer
        choice = response.choices[0] if response.choices else None
        message = choice.message if choice is not None else None
        return self.result(
            (message.content if message is not None else None) or "",
            sent.body,
            usage=_usage(response.usage),
            response_id=response.id,
            finish_reason=choice.finish_reason if choice is not None else None,
            response_body=response.model_dump(mode="json", exclude_none=True),
        )
