"""Anthropic Messages: a top-level ``system``, ``max_tokens`` always, turns that alternate."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import anthropic

from chatkit.errors import ChatkitError
from chatkit.messages import Message, merge_consecutive
from chatkit.providers.base import (
    Capabilities,
    GenerationOptions,
    TurnGenerator,
    TurnResult,
    Usage,
    split_system,
)
from chatkit.providers.clients import ANTHROPIC_HOST, SdkProvider, anthropic_client
from chatkit.providers.sdk_errors import (
    ANTHROPIC_ERRORS,
    closed_early,
    from_anthropic_error,
    stream_failure,
)
from chatkit.providers.server_tokens import (
    COUNT_TIMEOUT_SECONDS,
    CountingFailed,
    CountingUnsupported,
    CountMethod,
)

DEFAULT_MAX_TOKENS = 1024
# Stricter gateways (Bedrock, some proxies) want the first message from the user.
LEADING_USER_PLACEHOLDER = "(The conversation so far starts with the assistant's message below.)"


def anthropic_request(
    messages: Sequence[Message],
    model: str,
    options: GenerationOptions | None = None,
    *,
    stream: bool = True,
) -> dict[str, Any]:
    """The Messages body: system text gathered at the top, turns merged to alternate, a user first.

    No sampling parameters: the current SDK has none and API version 2026-10-21 rejects them.
    """
    options = options or GenerationOptions()
    system, rest = split_system(messages)
    turns = [{"role": m.role, "content": m.content} for m in merge_consecutive(rest)]
    if turns and turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": LEADING_USER_PLACEHOLDER})
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": options.max_output_tokens or DEFAULT_MAX_TOKENS,
    }
    if system:
        body["system"] = system
    body["messages"] = turns
    if stream:
        body["stream"] = True
    return body


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


ANTHROPIC_CAPABILITIES = Capabilities(
    streaming=True,
    server_side_chaining=False,
    sampling_parameters=False,
    exact_token_counts=False,
    needs_api_key=True,
)


@dataclass
class Anthropic(SdkProvider):
    """Anthropic's Messages API on the official SDK."""

    client: anthropic.Anthropic | None = None

    OWN_HOST = ANTHROPIC_HOST
    BASE_URL_ENV = "ANTHROPIC_BASE_URL"

    def _default_name(self) -> str:
        return "Anthropic"

    def _count_methods(self) -> tuple[CountMethod, ...]:
        """Counting needs a key: without one, the labelled estimate."""
        if self.client is None and not (self.api_key or os.environ.get("ANTHROPIC_API_KEY")):
            return ()
        return anthropic_count_methods(self._client, self.model)

    def _error(self, exc: Exception) -> ChatkitError:
        return from_anthropic_error(exc, provider=self.label, model=self.model)

    def _declared_capabilities(self) -> Capabilities:
        return ANTHROPIC_CAPABILITIES

    def _make_client(self) -> anthropic.Anthropic:
        return anthropic_client(self.api_key, self.base_url)

    def build_request(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        previous_response_id: str | None = None,
    ) -> dict[str, Any]:
        return anthropic_request(messages, self.model, options)

    def _generate(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        previous_response_id: str | None,
    ) -> TurnGenerator:
        body = self.build_request(messages, options)
        client = self._client()
        try:
            stream = client.messages.create(**body)
        except ANTHROPIC_ERRORS as exc:
            raise self._error(exc) from exc
        parts: list[str] = []
        message_id: str | None = None
        usage = Usage(0, 0)
        stop_reason: str | None = None
        finished = False
        try:
            with stream:
                for event in stream:
                    kind = event.type
                    if kind == "message_start":
                        message_id = event.message.id
                        usage = _message_usage(event.message.usage)
                    elif kind == "content_block_delta" and event.delta.type == "text_delta":
                        parts.append(event.delta.text)
                        yield event.delta.text
                    elif kind == "message_delta":
                        stop_reason = event.delta.stop_reason or stop_reason
                        # cumulative output tokens
                        output_tokens = event.usage.output_tokens or usage.output_tokens
                        usage = replace(usage, output_tokens=output_tokens)
                    elif kind == "message_stop":
                        finished = True
        except ANTHROPIC_ERRORS as exc:
            raise stream_failure(self._error(exc), parts) from exc
        if not finished:
            raise closed_early(self.label, parts)
        text = "".join(parts)
        return self.result(
            text,
            body,
            usage=usage,
            response_id=message_id,
            finish_reason=stop_reason,
            response_body={
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": stop_reason,
                "usage": {
                    "input_tokens": usage.input_tokens - usage.cached_input_tokens,
                    "output_tokens": usage.output_tokens,
                },
            },
            note="Response body assembled from the stream's events.",
        )

    def _complete(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        previous_response_id: str | None,
    ) -> TurnResult:
        body = anthropic_request(messages, self.model, options, stream=False)
        try:
            message = self._client().messages.create(**body)
        except ANTHROPIC_ERRORS as exc:
            raise self._error(exc) from exc
        text = "".join(block.text for block in message.content if block.type == "text")
        return self.result(
            text,
            body,
            usage=_message_usage(message.usage),
            response_id=message.id,
            finish_reason=message.stop_reason,
            response_body=message.model_dump(mode="json", exclude_none=True),
        )
