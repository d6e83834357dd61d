"""Anthropic's Messages shape without the SDK: the request body, and a provider sent in it.

``anthropic_request`` is the pure function ``chatkit.providers.anthropic`` sends with (kept
here so that shaping a request loads no SDK). ``MessagesShaped`` gives a provider whose own
wire format is a chat (the local model, an OpenAI-compatible server) an API mode "messages":
each call is recorded as the Messages body a client would send, and the model receives the
same turns, normalized to alternate, as its own chat request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from chatkit.messages import Message, merge_consecutive
from chatkit.providers.base import (
    ApiShape,
    GenerationOptions,
    Prompt,
    WrappedProvider,
    split_system,
)
from chatkit.providers.calls import CallResult, EventGenerator, request_size

# How a kind that records its chat in this shape labels the mode.
MESSAGES_MODE_LABEL = "Messages (Anthropic shape)"
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


MESSAGES = ApiShape(
    "anthropic",
    "Anthropic Messages: top-level system + messages",
    lambda messages, model, options, _previous: anthropic_request(messages, model, options),
)


def messages_of(body: dict[str, Any]) -> list[Message]:
    """The conversation a Messages body stands for: its ``system`` first, then its turns."""
    head = [Message("system", body["system"])] if body.get("system") else []
    return head + [Message(m["role"], m["content"]) for m in body["messages"]]


@dataclass
class MessagesShaped(WrappedProvider):
    """API mode "messages" for a provider that speaks a chat: the call is recorded as the
    Anthropic Messages body, and the wrapped provider is sent the turns that body holds
    (system prompt first, consecutive same-role messages merged, a user message first)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.mode = "messages"

    def _request_body(self, prompt: Prompt) -> dict[str, Any]:
        return anthropic_request(prompt.messages, self.model, prompt.options)

    def _to_send(self, prompt: Prompt) -> Prompt:
        return prompt.with_messages(messages_of(self._request_body(prompt)))

    def _generate(self, prompt: Prompt) -> EventGenerator:
        result = yield from self._relay(self._inner_stream(self._to_send(prompt)))
        return self._record(prompt, result)

    def _complete(self, prompt: Prompt, *, stream: bool) -> CallResult:
        to_send = self._to_send(prompt)
        return self._record(prompt, self.inner.complete(to_send.messages, to_send.options))

    def _record(self, prompt: Prompt, result: CallResult) -> CallResult:
        body = self._request_body(prompt)
        note = (
            f"Sent in Anthropic's Messages shape; {result.model or result.provider} received "
            f"the same turns as its own chat request ({result.request_bytes:,} bytes)."
        )
        return replace(
            result,
            mode="messages",
            request_body=body,
            request_bytes=request_size(body),
            note=" ".join(part for part in (note, result.note) if part),
        )
