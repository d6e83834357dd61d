"""OpenAI Responses: chained with ``previous_response_id`` and ``store=True``.

Only the new input goes over the wire on a chained turn, but ``instructions`` are resent every
time: the API does not carry them over a chain. When the server does not know the previous
response (expired, deleted, never stored) or cannot chain at all (llama.cpp's server), the turn
is sent again with the whole history - the caller's, or rebuilt from chatkit's own response
store - and so is every later turn on a server that cannot chain; the result's note says which.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from chatkit.errors import PreviousResponseNotFound
from chatkit.messages import Message
from chatkit.providers.base import ApiShape, GenerationOptions, Prompt, new_input, split_system
from chatkit.providers.calls import CallResult, StreamEvent, TextDelta, Usage
from chatkit.providers.chained import ResponseStore
from chatkit.providers.openai_chat import OPENAI_SDK
from chatkit.providers.sdk import Reading, SdkProvider, Sent
from chatkit.providers.sdk_errors import is_chaining_unsupported


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
    body.update(options.in_body("max_output_tokens"))
    if stream:
        body["stream"] = True
    return body


RESPONSES = ApiShape(
    "responses",
    "Responses: previous_response_id + the new input",
    lambda messages, model, options, previous: responses_request(
        messages, model, options, previous_response_id=previous
    ),
    chains=True,
)


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
    """The Responses API on the official SDK, falling back to the whole history when a chain
    breaks or the server cannot chain.

    ``store`` remembers every response this provider made, so a caller that only holds the
    last response id (the classic ``ResponsesConversation``) still gets the whole history
    sent when the server cannot chain, and ``response_id`` is always one to continue from.
    """

    store: ResponseStore = field(default_factory=ResponseStore)
    server_chaining: bool = True

    SDK = OPENAI_SDK
    MODE = "responses"

    def _request_body(self, prompt: Prompt) -> dict[str, Any]:
        return self._body(self._plan(prompt)[0], stream=True)

    def _body(self, prompt: Prompt, *, stream: bool) -> dict[str, Any]:
        return responses_request(
            prompt.messages,
            self.model,
            prompt.options,
            previous_response_id=prompt.previous_response_id,
            stream=stream,
        )

    def _plan(self, prompt: Prompt) -> tuple[Prompt, str]:
        """What goes out (the messages and the response to chain from), and a note."""
        if prompt.previous_response_id is None or self.server_chaining:
            return prompt, ""
        sent, how = self._whole_history(prompt)
        return sent, f"{self.label} cannot chain with previous_response_id: {how}."

    def _whole_history(self, prompt: Prompt) -> tuple[Prompt, str]:
        """The whole conversation, instead of a chain: the caller's when it holds the earlier
        turns, else rebuilt from ``store``; and words saying which."""
        messages, previous = prompt.messages, prompt.previous_response_id
        if previous is None or any(m.role == "assistant" for m in messages):
            count = sum(1 for m in messages if not m.is_instruction)
            return prompt.with_messages(messages), f"sent the full history ({count} messages)"
        try:
            sent = self.store.rebuild(messages, previous)
        except PreviousResponseNotFound:
            return prompt.with_messages(messages), (
                f"chatkit has no record of response {previous} either, so this "
                f"turn went without the earlier conversation"
            )
        count = sum(1 for m in sent if not m.is_instruction)
        return prompt.with_messages(sent), (
            f"sent the full history ({count} messages, rebuilt from chatkit's response store)"
        )

    def _open(self, prompt: Prompt, *, stream: bool) -> Sent:
        """Create the response; a refused or broken chain is sent again as the whole history."""
        planned, note = self._plan(prompt)
        body = self._body(planned, stream=stream)
        try:
            return Sent(body, self._send(self.sdk_client(), body), planned.messages, note)
        except self.SDK.errors as exc:
            error = self._error(exc)
            unsupported = is_chaining_unsupported(exc)
            chain_from = planned.previous_response_id
            if chain_from is None or not (
                unsupported or isinstance(error, PreviousResponseNotFound)
            ):
                raise error from exc
        whole, how = self._whole_history(planned)
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
        body = self._body(whole, stream=stream)
        return Sent(body, self._create(body), whole.messages, note)

    def _send(self, client: openai.OpenAI, body: dict[str, Any]) -> Any:
        return client.responses.create(**body)

    def _read(self, stream: Any, reading: Reading) -> Iterator[StreamEvent]:
        for event in stream:
            event_type = getattr(event, "type", "")
            if event_type == "response.created":
                reading.response_id = event.response.id
            elif event_type == "response.output_text.delta":
                yield TextDelta(event.delta)
            elif event_type in ("response.completed", "response.incomplete"):
                reading.final = event.response
                yield from reading.usage_seen(_usage(event.response.usage))
                yield from reading.finish(_finish_reason(event.response))
            elif event_type == "response.failed":
                raise _failed(getattr(event.response, "error", None))
            elif event_type == "error":
                raise openai.APIError(
                    getattr(event, "message", None) or "The stream reported an error.",
                    request=None,  # type: ignore[arg-type]
                    body={"code": getattr(event, "code", None)},
                )

    def _finish(self, sent: Sent, reading: Reading) -> CallResult:
        final = reading.final
        return self._result(reading.text, final, sent, final.id or reading.response_id)

    def _finish_plain(self, sent: Sent) -> CallResult:
        response = sent.answer
        if response.status == "failed":
            raise self._error(_failed(getattr(response, "error", None)))
        return self._result(response.output_text, response, sent, response.id)

    def _result(self, text: str, response: Any, sent: Sent, response_id: str | None) -> CallResult:
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
        return self.result(
            text,
            sent.body,
            usage=_usage(response.usage),
            response_id=response_id,
            previous_response_id=previous,
            finish_reason=_finish_reason(response),
            response_body=response.model_dump(mode="json", exclude_none=True),
            note=sent.note,
        )


def _finish_reason(response: Any) -> str | None:
    """Why a response ended: the reason it is incomplete, else its status."""
    incomplete = getattr(response, "incomplete_details", None)
    return getattr(incomplete, "reason", None) or response.status


def _failed(error: Any) -> openai.APIError:
    """A failed response's error, as the SDK's exception (so it is classified like one)."""
    return openai.APIError(
        getattr(error, "message", None) or "The response failed.",
        request=None,  # type: ignore[arg-type]
        body={"code": getattr(error, "code", None)},
    )
