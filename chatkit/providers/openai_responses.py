"""OpenAI Responses: chained with ``previous_response_id`` and ``store=True``.

Only the new input goes over the wire on a chained turn, but ``instructions`` are resent every
time: the API does not carry them over a chain. When the server does not know the previous
response (expired, deleted, never stored) or cannot chain at all (llama.cpp's server), the turn
is sent again with the full history and a new chain starts from its response.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from chatkit.errors import PreviousResponseNotFound
from chatkit.messages import Message
from chatkit.providers.base import (
    Capabilities,
    GenerationOptions,
    TurnGenerator,
    Usage,
    new_input,
    split_system,
)
from chatkit.providers.chained import ResponseStore
from chatkit.providers.clients import (
    SdkProvider,
    openai_capabilities,
    openai_client,
    openai_name,
)
from chatkit.providers.sdk_errors import (
    OPENAI_ERRORS,
    closed_early,
    from_openai_error,
    is_chaining_unsupported,
    stream_failure,
)


def _input_item(message: Message) -> dict[str, Any]:
    return {"role": message.role, "content": message.content}


def responses_request(
    messages: Sequence[Message],
    model: str,
    options: GenerationOptions | None = None,
    *,
    previous_response_id: str | None = None,
    stream: bool = True,
) -> dict[str, Any]:
    """The Responses body: ``instructions`` plus ``input`` items (only new ones when chained)."""
    options = options or GenerationOptions()
    instructions, rest = split_system(messages)
    items = new_input(messages) if previous_response_id else rest
    body: dict[str, Any] = {"model": model}
    if instructions:
        body["instructions"] = instructions
    body["input"] = [_input_item(m) for m in items]
    if previous_response_id:
        body["previous_response_id"] = previous_response_id
    body["store"] = True
    if options.max_output_tokens is not None:
        body["max_output_tokens"] = options.max_output_tokens
    if options.temperature is not None:
        body["temperature"] = options.temperature
    if stream:
        body["stream"] = True
    return body


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    details = getattr(raw, "input_tokens_details", None)
    return Usage(
        input_tokens=raw.input_tokens or 0,
        output_tokens=raw.output_tokens or 0,
        cached_input_tokens=getattr(details, "cached_tokens", None) or 0,
    )


@dataclass
class OpenAIResponses(SdkProvider):
    """The Responses API on the official SDK, with fallback to full history when a chain breaks.

    ``store`` remembers every response this provider made, so a caller that only holds the
    last response id (the classic ``ResponsesConversation``) can still fall back to the full
    history.
    """

    client: openai.OpenAI | None = None
    store: ResponseStore = field(default_factory=ResponseStore)
    server_chaining: bool = True

    def _default_name(self) -> str:
        return openai_name(self.base_url)

    def _fixed_mode(self) -> str:
        return "responses"

    def _declared_capabilities(self) -> Capabilities:
        return openai_capabilities(self.model, self.base_url, server_side_chaining=True)

    def _make_client(self) -> openai.OpenAI:
        return openai_client(self.api_key, self.base_url, provider=self.name)

    def build_request(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        previous_response_id: str | None = None,
    ) -> dict[str, Any]:
        chain_from = previous_response_id if self.server_chaining else None
        return responses_request(messages, self.model, options, previous_response_id=chain_from)

    def _full_history(
        self, messages: Sequence[Message], previous_response_id: str
    ) -> list[Message]:
        """The whole conversation for a fallback: the caller's, or rebuilt from ``store``."""
        if any(m.role == "assistant" for m in messages) or previous_response_id not in self.store:
            return list(messages)
        instructions, _ = split_system(messages)
        head = [Message("system", instructions)] if instructions else []
        return head + self.store.history(previous_response_id) + new_input(messages)

    def _generate(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        previous_response_id: str | None,
    ) -> TurnGenerator:
        client = self._client()
        note = ""
        body = self.build_request(messages, options, previous_response_id)
        try:
            stream = client.responses.create(**body)
        except OPENAI_ERRORS as exc:
            chained = "previous_response_id" in body
            unknown_id = isinstance(
                from_openai_error(exc, provider=self.name, model=self.model),
                PreviousResponseNotFound,
            )
            if not chained or not (unknown_id or is_chaining_unsupported(exc)):
                raise from_openai_error(exc, provider=self.name, model=self.model) from exc
            if is_chaining_unsupported(exc):
                self.server_chaining = False
                note = (
                    f"{self.name} cannot chain with previous_response_id: sent the full history "
                    f"instead, and will from now on."
                )
            else:
                note = (
                    f"{self.name} no longer had response {previous_response_id}: sent the full "
                    f"history instead and started a new chain."
                )
            messages = self._full_history(messages, previous_response_id or "")
            body = responses_request(messages, self.model, options)
            try:
                stream = client.responses.create(**body)
            except OPENAI_ERRORS as retry_exc:
                raise from_openai_error(
                    retry_exc, provider=self.name, model=self.model
                ) from retry_exc
        if not self.server_chaining and not note and previous_response_id:
            note = f"{self.name} cannot chain: sent the full history."

        parts: list[str] = []
        final: Any = None
        response_id: str | None = None
        try:
            with stream:
                for event in stream:
                    kind = getattr(event, "type", "")
                    if kind == "response.created":
                        response_id = event.response.id
                    elif kind == "response.output_text.delta":
                        parts.append(event.delta)
                        yield event.delta
                    elif kind in ("response.completed", "response.incomplete"):
                        final = event.response
                    elif kind == "response.failed":
                        error = getattr(event.response, "error", None)
                        raise openai.APIError(
                            getattr(error, "message", None) or "The response failed.",
                            request=None,  # type: ignore[arg-type]
                            body={"code": getattr(error, "code", None)},
                        )
                    elif kind == "error":
                        raise openai.APIError(
                            getattr(event, "message", None) or "The stream reported an error.",
                            request=None,  # type: ignore[arg-type]
                            body={"code": getattr(event, "code", None)},
                        )
        except OPENAI_ERRORS as exc:
            error = from_openai_error(exc, provider=self.name, model=self.model)
            raise stream_failure(error, parts) from exc
        if final is None:
            raise closed_early(self.name, parts)
        text = "".join(parts)
        response_id = final.id or response_id
        sent_previous = body.get("previous_response_id")
        if response_id:
            self.store.add(
                sent_previous,
                [
                    m
                    for m in (new_input(messages) if sent_previous else messages)
                    if not m.is_instruction
                ],
                Message("assistant", text),
                instructions=body.get("instructions", ""),
                model=self.model,
                response_id=response_id,
            )
        incomplete = getattr(final, "incomplete_details", None)
        return self.result(
            text,
            body,
            usage=_usage(final.usage),
            response_id=response_id if self.server_chaining else None,
            previous_response_id=sent_previous,
            finish_reason=getattr(incomplete, "reason", None) or final.status,
            response_body=final.model_dump(mode="json", exclude_none=True),
            note=note,
        )
