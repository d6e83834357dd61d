"""``POST /v1/messages`` and ``/v1/messages/count_tokens`` (API_REFERENCE §4).

Follows the first-party API: top-level ``system`` (a string or text blocks), consecutive
same-role turns merged rather than rejected, ``max_tokens`` required, and - under API
version 2026-10-21, which anthropic 2.x sends - any sampling parameter is a 400.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.server.base import ApiRequest, JsonReply, Reply, SSEEvent, StreamReply, new_id
from tests.server.errors import anthropic_error, anthropic_stream_error
from tests.server.model import Answer, Turn, count_input_tokens, text_of

if TYPE_CHECKING:
    from tests.server.core import ProtocolServer

NO_SAMPLING_VERSION = "2026-10-21"
SAMPLING_PARAMS = ("temperature", "top_p", "top_k")


def anthropic_context(body: dict[str, Any]) -> list[Turn]:
    """System prompt (if any), then the messages with consecutive same-role turns merged."""
    turns: list[Turn] = []
    system = text_of(body.get("system"))
    if system:
        turns.append(Turn("system", system))
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        turn = Turn(str(message.get("role", "user")), text_of(message.get("content")))
        if turns and turns[-1].role == turn.role and not turn.is_system:
            turns[-1] = Turn(turn.role, f"{turns[-1].text}\n{turn.text}")
        else:
            turns.append(turn)
    return turns


def _invalid(request: ApiRequest, message: str) -> JsonReply:
    return anthropic_error(400, "invalid_request_error", message, request_id=request.request_id)


def _validate(request: ApiRequest, *, needs_max_tokens: bool) -> JsonReply | None:
    body = request.body
    for name in ("model", "messages") + (("max_tokens",) if needs_max_tokens else ()):
        if name not in body:
            return _invalid(request, f"{name}: Field required")
    if not isinstance(body["messages"], list):
        return _invalid(request, "messages: Input should be a valid list")
    if request.headers.get("anthropic-version") == NO_SAMPLING_VERSION:
        for name in SAMPLING_PARAMS:
            if name in body:
                return _invalid(
                    request,
                    f"{name}: sampling parameters are not supported with "
                    f"anthropic-version {NO_SAMPLING_VERSION}",
                )
    return None


def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "server_tool_use": None,
        "service_tier": "standard",
        "inference_geo": None,
    }


def count_tokens(request: ApiRequest, server: ProtocolServer) -> Reply:
    """``{"input_tokens": N}``, the same N that ``/v1/messages`` reports as usage."""
    error = _validate(request, needs_max_tokens=False)
    if error:
        return error
    return JsonReply(200, {"input_tokens": count_input_tokens(anthropic_context(request.body))})


def create_message(request: ApiRequest, server: ProtocolServer) -> Reply:
    """Answer a Messages request as JSON or as named SSE events."""
    error = _validate(request, needs_max_tokens=True)
    if error:
        return error
    body = request.body
    answer = server.answer(anthropic_context(body), "anthropic", request.request_id)
    if isinstance(answer, JsonReply):
        return answer
    message = {
        "id": new_id("msg_01"),
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [{"type": "text", "text": answer.text, "citations": None}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "stop_details": None,
        "usage": _usage(answer.input_tokens, answer.output_tokens),
    }
    if not request.streaming:
        return JsonReply(200, message)
    return _stream(message, answer, request.request_id)


def _stream(message: dict[str, Any], answer: Answer, request_id: str) -> StreamReply:
    """message_start, content_block_start, ping, deltas, stop, message_delta, message_stop."""
    usage = message["usage"]
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {**usage, "output_tokens": 1},
    }
    events = [
        SSEEvent.of({"type": "message_start", "message": start}, "message_start"),
        SSEEvent.of(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            "content_block_start",
        ),
        SSEEvent.of({"type": "ping"}, "ping"),
    ]
    for word in answer.chunks:
        delta = {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": word},
        }
        events.append(SSEEvent.of(delta, "content_block_delta", text_chunk=True))
    delta_usage = {
        key: usage[key]
        for key in (
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "server_tool_use",
        )
    }
    events += [
        SSEEvent.of({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        SSEEvent.of(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None, "stop_details": None},
                "usage": delta_usage,
            },
            "message_delta",
        ),
        SSEEvent.of({"type": "message_stop"}, "message_stop"),
    ]
    error = SSEEvent.of(anthropic_stream_error(request_id), "error")
    return StreamReply(events, lambda params: [error])
