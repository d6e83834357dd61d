"""OpenAI Responses: chained with ``previous_response_id`` and ``store=True``.

Only the new input goes over the wire on a chained turn, but ``instructions`` are resent every
time: the API does not carry them over a chain. When the server does not know the previous
response (expired, deleted, never stored) or cannot chain at all (llama.cpp's server), the turn
is sent again with the whole history - the caller's, or rebuilt from chatkit's own response
store - and so is every later turn on a server that cannot chain; the result's note says which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from chatkit.errors import ChatkitError, PreviousResponseNotFound
from chatkit.messages import Message
from chatkit.providers.base import (
    Capabilities,
    GenerationOptions,
    TurnGenerator,
    TurnResult,
    Usage,
    new_input,
    split_system,
)
from chatkit.providers.chained import ResponseStore
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
    is_chaining_unsupported,
    stream_failure,
)
from chatkit.providers.server_tokens import CountMethod


def _input_item(message: Message) -> dict[str, Any]:
    """One input item, typed as the API reference gives it. The type is optional on OpenAI,
    but llama.cpp's server rejects an item without one ("Cannot determine type of 'item'")."""
    return {"type": "message", "role": message.role, "content": message.content}


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


@dataclass(frozen=True)
class _Sent:
    """One request as it went: the body, the messages behind it, and what to tell the user."""

    response: Any
    body: dict[str, Any]
    messages: list[Message]
    note: str = ""


@dataclass
class OpenAIResponses(SdkProvider):
    """The Responses API on the official SDK, falling back to the whole history when a chain
    breaks or the server cannot chain.

    ``store`` remembers every response this provider made, so a caller that only holds the
    last response id (the classic ``ResponsesConversation``) still gets the whole history
    sent when the server cannot chain, and ``response_id`` is always one to continue from.
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
        sent, chain_from, _ = self._plan(messages, previous_response_id)
        return responses_request(sent, self.model, options, previous_response_id=chain_from)

    def _plan(
        self, messages: Sequence[Message], previous_response_id: str | None
    ) -> tuple[list[Message], str | None, str]:
        """What goes out: the messages, the response to chain from, and a note."""
        if previous_response_id is None or self.server_chaining:
            return list(messages), previous_response_id, ""
        sent, how = self._whole_history(messages, previous_response_id)
        return sent, None, f"{self.label} cannot chain with previous_response_id: {how}."

    def _whole_history(
        self, messages: Sequence[Message], previous_response_id: str
    ) -> tuple[list[Message], str]:
        """The whole conversation, instead of a chain: the caller's when it holds the earlier
        turns, else rebuilt from ``store``; and words saying which."""
        if any(m.role == "assistant" for m in messages):
            count = sum(1 for m in messages if not m.is_instruction)
            return list(messages), f"sent the full history ({count} messages)"
        try:
            earlier = self.store.history(previous_response_id)
        except PreviousResponseNotFound:
            return list(messages), (
                f"chatkit has no record of response {previous_response_id} either, so this "
                f"turn went without the earlier conversation"
            )
        instructions, _ = split_system(messages)
        head = [Message("system", instructions)] if instructions else []
        sent = head + earlier + new_input(messages)
        count = sum(1 for m in sent if not m.is_instruction)
        return sent, (
            f"sent the full history ({count} messages, rebuilt from chatkit's response store)"
        )

    def _send(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        previous_response_id: str | None,
        *,
        stream: bool,
    ) -> _Sent:
        """Create the response; a refused or broken chain is sent again as the whole history."""
        client = self._client()
        sent, chain_from, note = self._plan(messages, previous_response_id)
        body = responses_request(
            sent, self.model, options, previous_response_id=chain_from, stream=stream
        )
        try:
            return _Sent(client.responses.create(**body), body, sent, note)
        except OPENAI_ERRORS as exc:
            error = self._error(exc)
            unsupported = is_chaining_unsupported(exc)
            if chain_from is None or not (
                unsupported or isinstance(error, PreviousResponseNotFound)
            ):
                raise error from exc
        sent, how = self._whole_history(messages, chain_from)
        if unsupported:
            self.server_chaining = False
            note = (
                f"{self.label} cannot chain with previous_response_id: {how} instead, and will "
                f"from now on."
            )
        else:
            note = (
                f"{self.label} no longer had response {chain_from}: {how} and started a new chain."
            )
        body = responses_request(sent, self.model, options, stream=stream)
        try:
            return _Sent(client.responses.create(**body), body, sent, note)
        except OPENAI_ERRORS as retry_exc:
            raise self._error(retry_exc) from retry_exc

    def _finish(self, text: str, response: Any, sent: _Sent, response_id: str | None) -> TurnResult:
        """Remember the response (so the chain can continue) and build the result."""
        previous = sent.body.get("previous_response_id")
        if response_id:
            self.store.add(
                previous,
                [
                    m
                    for m in (new_input(sent.messages) if previous else sent.messages)
                    if not m.is_instruction
                ],
                Message("assistant", text),
                instructions=sent.body.get("instructions", ""),
                model=self.model,
                response_id=response_id,
            )
        incomplete = getattr(response, "incomplete_details", None)
        return self.result(
            text,
            sent.body,
            usage=_usage(response.usage),
            response_id=response_id,
            previous_response_id=previous,
            finish_reason=getattr(incomplete, "reason", None) or response.status,
            response_body=response.model_dump(mode="json", exclude_none=True),
            note=sent.note,
        )

    def _generate(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        previous_response_id: str | None,
    ) -> TurnGenerator:
        sent = self._send(messages, options, previous_response_id, stream=True)
        parts: list[str] = []
        final: Any = None
        created_id: str | None = None
        try:
            with sent.response as stream:
                for event in stream:
                    kind = getattr(event, "type", "")
                    if kind == "response.created":
                        created_id = event.response.id
                    elif kind == "response.output_text.delta":
                        parts.append(event.delta)
                        yield event.delta
                    elif kind in ("response.completed", "response.incomplete"):
                        final = event.response
                    elif kind == "response.failed":
                        raise _failed(getattr(event.response, "error", None))
                    elif kind == "error":
                        raise openai.APIError(
                            getattr(event, "message", None) or "The stream reported an error.",
                            request=None,  # type: ignore[arg-type]
                            body={"code": getattr(event, "code", None)},
                        )
        except OPENAI_ERRORS as exc:
            raise stream_failure(self._error(exc), parts) from exc
        if final is None:
            raise closed_early(self.label, parts)
        return self._finish("".join(parts), final, sent, final.id or created_id)

    def _complete(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        previous_response_id: str | None,
    ) -> TurnResult:
        sent = self._send(messages, options, previous_response_id, stream=False)
        response = sent.response
        if response.status == "failed":
            raise self._error(_failed(getattr(response, "error", None)))
        return self._finish(response.output_text, response, sent, response.id)


def _failed(error: Any) -> openai.APIError:
    """A failed response's error, as the SDK's exception (so it is classified like one)."""
    return openai.APIError(
        getattr(error, "message", None) or "The response failed.",
        request=None,  # type: ignore[arg-type]
        body={"code": getattr(error, "code", None)},
    )
