"""Anthropic Messages: a top-level ``system``, ``max_tokens`` always, turns that alternate.

``Anthropic`` is the API on the official SDK; the ``Anthropic`` provider kind offers it, with
Responses mode kept by chatkit's local response store (the API keeps no state).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import anthropic

from chatkit.errors import ChatkitError
from chatkit.messages import Message
from chatkit.providers.anthropic_messages import (
    DEFAULT_MAX_TOKENS,
    LEADING_USER_PLACEHOLDER,
    MESSAGES,
    anthropic_request,
)
from chatkit.providers.base import Capabilities, Prompt, Provider
from chatkit.providers.calls import CallResult, StreamEvent, TextDelta, Usage
from chatkit.providers.chained import ResponseStore
from chatkit.providers.endpoints import ANTHROPIC_ENDPOINT, DEFAULT_TIMEOUT_SECONDS, Endpoint
from chatkit.providers.openai_responses import RESPONSES
from chatkit.providers.records import ProviderKind, ProviderSpec
from chatkit.providers.sdk import Reading, Sdk, SdkProvider, Sent
from chatkit.providers.sdk_errors import ANTHROPIC_ERRORS, from_anthropic_error
from chatkit.providers.server_tokens import (
    COUNT_TIMEOUT_SECONDS,
    CountingFailed,
    CountingUnsupported,
    CountMethod,
)

# The request shape lives in the SDK-free anthropic_messages; these names stay importable here.
__all__ = [
    "ANTHROPIC_SDK",
    "DEFAULT_MAX_TOKENS",
    "LEADING_USER_PLACEHOLDER",
    "MESSAGES",
    "PROVIDER_KINDS",
    "Anthropic",
    "anthropic_client",
    "anthropic_count_methods",
    "anthropic_request",
]


def anthropic_client(
    endpoint: Endpoint, *, timeout: float = DEFAULT_TIMEOUT_SECONDS, max_retries: int = 2
) -> anthropic.Anthropic:
    """An ``anthropic.Anthropic`` client for ``endpoint``; a missing key is a ``MissingApiKey``."""
    if endpoint.client is not None:
        return endpoint.client
    key = endpoint.key()
    if not key:
        raise endpoint.missing_key()
    return anthropic.Anthropic(
        api_key=key, base_url=endpoint.url, timeout=timeout, max_retries=max_retries
    )


def anthropic_count_methods(
    client_of: Callable[[], anthropic.Anthropic], model: str
) -> tuple[CountMethod, ...]:
    """Anthropic's ``POST /v1/messages/count_tokens`` (free, rate-limited; llama.cpp's server
    answers it too): the same body as a request, without ``max_tokens``."""

    def count(messages: Sequence[Message]) -> int:
        body = anthropic_request(messages, model, stream=False)
        del body["max_tokens"]
        try:
            quick = client_of().with_options(timeout=COUNT_TIMEOUT_SECONDS, max_retries=0)
            return quick.messages.count_tokens(**body).input_tokens
        except anthropic.APIStatusError as exc:
            if exc.status_code in (400, 404, 405, 422, 501):
                raise CountingUnsupported("/v1/messages/count_tokens") from exc
            raise CountingFailed.because(exc) from exc
        except (*ANTHROPIC_ERRORS, ChatkitError) as exc:
            raise CountingFailed.because(exc) from exc

    return (CountMethod("Anthropic's /v1/messages/count_tokens", count),)


def _message_usage(usage: Any) -> Usage:
    """chatkit's usage: Anthropic's input tokens with cache reads and writes added in."""
    cached = (usage.cache_creation_input_tokens or 0) + (usage.cache_read_input_tokens or 0)
    return Usage(
        (usage.input_tokens or 0) + cached, usage.output_tokens or 0, cached_input_tokens=cached
    )


def _server_counts(provider: SdkProvider) -> tuple[CountMethod, ...]:
    """Anthropic's counts need a key: without one, the labelled estimate."""
    if provider.endpoint.client is None and not provider.endpoint.key():
        return ()
    return anthropic_count_methods(provider.sdk_client, provider.model)


ANTHROPIC_SDK = Sdk(
    anthropic_client,
    ANTHROPIC_ERRORS,
    from_anthropic_error,
    lambda _base_url: ANTHROPIC_ENDPOINT,
    _server_counts,
)


@dataclass
class Anthropic(SdkProvider):
    """Anthropic's Messages API on the official SDK."""

    SDK = ANTHROPIC_SDK

    def _body(self, prompt: Prompt, *, stream: bool) -> dict[str, Any]:
        return anthropic_request(prompt.messages, self.model, prompt.options, stream=stream)

    def _send(self, client: anthropic.Anthropic, body: dict[str, Any]) -> Any:
        return client.messages.create(**body)

    def _read(self, stream: Any, reading: Reading) -> Iterator[StreamEvent]:
        usage = Usage(0, 0)
        for event in stream:
            event_type = event.type
            if event_type == "message_start":
                reading.response_id = event.message.id
                usage = _message_usage(event.message.usage)
                yield from reading.usage_seen(usage)
            elif event_type == "content_block_delta" and event.delta.type == "text_delta":
                yield TextDelta(event.delta.text)
            elif event_type == "message_delta":
                reading.finish_reason = event.delta.stop_reason or reading.finish_reason
                # cumulative output tokens
                output_tokens = event.usage.output_tokens or usage.output_tokens
                usage = replace(usage, output_tokens=output_tokens)
                yield from reading.usage_seen(usage)
            elif event_type == "message_stop":
                yield from reading.finish(reading.finish_reason)
        reading.usage = usage

    def _finish(self, sent: Sent, reading: Reading) -> CallResult:
        text, usage = reading.text, reading.usage or Usage(0, 0)
        return self._streamed(
            sent,
            reading,
            {
                "id": reading.response_id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": reading.finish_reason,
                "usage": {
                    "input_tokens": usage.input_tokens - usage.cached_input_tokens,
                    "output_tokens": usage.output_tokens,
                },
            },
        )

    def _finish_plain(self, sent: Sent) -> CallResult:
        message = sent.answer
        text = "".join(block.text for block in message.content if block.type == "text")
        return self.result(
            text,
            sent.body,
            usage=_message_usage(message.usage),
            response_id=message.id,
            finish_reason=message.stop_reason,
            response_body=message.model_dump(mode="json", exclude_none=True),
        )


def _build(
    kind: ProviderKind, spec: ProviderSpec, api_key: str | None, client: Any, store: ResponseStore
) -> Provider:
    endpoint = ANTHROPIC_ENDPOINT.chosen(base_url=spec.base_url, api_key=api_key, client=client)
    return Anthropic(spec.model, endpoint=endpoint, context_window_tokens=spec.context_window)


PROVIDER_KINDS = (
    ProviderKind(
        ANTHROPIC_ENDPOINT.name,
        Capabilities(sampling_parameters=False),
        _build,
        shapes={"chat": MESSAGES, "responses": RESPONSES},
        order=20,
        mode_labels={"chat": "Messages", "responses": "Messages + local chaining"},
        endpoint=ANTHROPIC_ENDPOINT,
        suggested_models=(
            "claude-sonnet-4-6",
            "claude-haiku-4-5",
            "claude-opus-4-7",
            "claude-sonnet-5-5",
        ),
        default_when=("ANTHROPIC_API_KEY",),
        takes_client=lambda client: isinstance(client, anthropic.Anthropic),
        prompt_view="count",  # Claude's tokenizer is not public
    ),
)
