"""OpenAI Chat Completions: the whole message array is sent on every turn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import openai

from chatkit.errors import ChatkitError
from chatkit.messages import Message
from chatkit.providers.base import (
    Capabilities,
    GenerationOptions,
    TurnGenerator,
    TurnResult,
    Usage,
    chat_messages,
)
from chatkit.providers.clients import (
    SdkProvider,
    compatible_count_methods,
    openai_capabilities,
    openai_client,
    openai_name,
)
from chatkit.providers.sdk_errors import (
    OPENAI_ERRORS,
    closed_early,
    from_openai_error,
    stream_failure,
)
from chatkit.providers.server_tokens import CountMethod


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
    if options.max_output_tokens is not None:
        body["max_completion_tokens"] = options.max_output_tokens
    if options.temperature is not None:
        body["temperature"] = options.temperature
    if options.seed is not None:
        body["seed"] = options.seed
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


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


@dataclass
class OpenAIChat(SdkProvider):
    """Chat Completions on the official SDK; also any OpenAI-compatible server via ``base_url``."""

    client: openai.OpenAI | None = None
    system_role: str = "system"

    def _default_name(self) -> str:
        return openai_name(self.base_url)

    def _declared_capabilities(self) -> Capabilities:
        return openai_capabilities(self.model, self.base_url, server_side_chaining=False)

    def _make_client(self) -> openai.OpenAI:
        return openai_client(self.api_key, self.base_url, provider=self.name)

    def _count_methods(self) -> tuple[CountMethod, ...]:
        return () if self.on_own_api else compatible_count_methods(self._client, self.model)

    def _error(self, exc: Exception) -> ChatkitError:
        return from_openai_error(exc, provider=self.label, model=self.model)

    def build_request(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        previous_response_id: str | None = None,
    ) -> dict[str, Any]:
        return chat_completions_request(messages, self.model, options, system_role=self.system_role)

    def _generate(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        previous_response_id: str | None,
    ) -> TurnGenerator:
        body = self.build_request(messages, options)
        client = self._client()
        parts: list[str] = []
        usage: Usage | None = None
        finish_reason: str | None = None
        response_id: str | None = None
        served_model = self.model
        try:
            stream = client.chat.completions.create(**body)
        except OPENAI_ERRORS as exc:
            raise self._error(exc) from exc
        try:
            with stream:
                for chunk in stream:
                    response_id = chunk.id or response_id
                    served_model = chunk.model or served_model
                    if chunk.usage is not None:
                        usage = _usage(chunk.usage)
                    if not chunk.choices:  # the final usage chunk has no choices
                        continue
                    choice = chunk.choices[0]
                    finish_reason = choice.finish_reason or finish_reason
                    text = choice.delta.content if choice.delta else None
                    if text:
                        parts.append(text)
                        yield text
        except OPENAI_ERRORS as exc:
            raise stream_failure(self._error(exc), parts) from exc
        if finish_reason is None:
            raise closed_early(self.label, parts)
        text = "".join(parts)
        return self.result(
            text,
            body,
            usage=usage,
            response_id=response_id,
            finish_reason=finish_reason,
            response_body={
                "id": response_id,
                "object": "chat.completion",
                "model": served_model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": finish_reason,
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
            note="Response body assembled from the stream's chunks.",
        )

    def _complete(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        previous_response_id: str | None,
    ) -> TurnResult:
        body = chat_completions_request(
            messages, self.model, options, system_role=self.system_role, stream=False
        )
        try:
            response = self._client().chat.completions.create(**body)
        except OPENAI_ERRORS as exc:
            raise self._error(exc) from exc
        choice = response.choices[0] if response.choices else None
        message = choice.message if choice is not None else None
        return self.result(
            (message.content if message is not None else None) or "",
            body,
            usage=_usage(response.usage),
            response_id=response.id,
            finish_reason=choice.finish_reason if choice is not None else None,
            response_body=response.model_dump(mode="json", exclude_none=True),
        )
