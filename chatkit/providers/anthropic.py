"""Anthropic Messages: a top-level ``system``, ``max_tokens`` always, turns that alternate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anthropic

from chatkit.messages import Message, merge_consecutive
from chatkit.providers.base import (
    Capabilities,
    GenerationOptions,
    TurnGenerator,
    Usage,
    split_system,
)
from chatkit.providers.clients import SdkProvider, anthropic_client
from chatkit.providers.sdk_errors import (
    ANTHROPIC_ERRORS,
    closed_early,
    from_anthropic_error,
    stream_failure,
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

    def _default_name(self) -> str:
        return "Anthropic"

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
            raise from_anthropic_error(exc, provider=self.name, model=self.model) from exc
        parts: list[str] = []
        message_id: str | None = None
        input_tokens = cached = output_tokens = 0
        stop_reason: str | None = None
        finished = False
        try:
            with stream:
                for event in stream:
                    kind = event.type
                    if kind == "message_start":
                        message_id = event.message.id
                        usage = event.message.usage
                        cached = (usage.cache_creation_input_tokens or 0) + (
                            usage.cache_read_input_tokens or 0
                        )
                        input_tokens = (usage.input_tokens or 0) + cached
                        output_tokens = usage.output_tokens or 0
                    elif kind == "content_block_delta" and event.delta.type == "text_delta":
                        parts.append(event.delta.text)
                        yield event.delta.text
                    elif kind == "message_delta":
                        stop_reason = event.delta.stop_reason or stop_reason
                        output_tokens = event.usage.output_tokens or output_tokens  # cumulative
                    elif kind == "message_stop":
                        finished = True
        except ANTHROPIC_ERRORS as exc:
            error = from_anthropic_error(exc, provider=self.name, model=self.model)
            raise stream_failure(error, parts) from exc
        if not finished:
            raise closed_early(self.name, parts)
        text = "".join(parts)
        usage_out = Usage(input_tokens, output_tokens, cached_input_tokens=cached)
        return self.result(
            text,
            body,
            usage=usage_out,
            response_id=message_id,
            finish_reason=stop_reason,
            response_body={
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": stop_reason,
                "usage": {"input_tokens": input_tokens - cached, "output_tokens": output_tokens},
            },
            note="Response body assembled from the stream's events.",
        )
