"""``/v1/responses`` (API_REFERENCE §3): create (JSON or SSE), retrieve, delete, input items.

Server-side state works like the real API: a stored response keeps its whole input (the
chain it continued, plus the new input) and its output, so ``previous_response_id``
rebuilds the history as ``stored.input_items + stored.output_items``. ``instructions`` are
never inherited, and ``usage.input_tokens`` counts the whole reconstructed history.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.server.base import ApiRequest, JsonReply, Reply, SSEEvent, StreamReply, new_id, now
from tests.server.errors import OPENAI_SERVER_ERROR, openai_error
from tests.server.model import Answer, Turn, text_of

if TYPE_CHECKING:
    from tests.server.core import ProtocolServer

LLAMA_CPP_MESSAGE = "llama.cpp does not support 'previous_response_id'."


@dataclass(frozen=True)
class StoredResponse:
    """A stored response with everything needed to continue its chain."""

    response: dict[str, Any]
    input_items: list[dict[str, Any]]
    output_items: list[dict[str, Any]]


class ResponseStore:
    """Thread-safe map from response id to :class:`StoredResponse`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, StoredResponse] = {}

    def put(self, stored: StoredResponse) -> None:
        with self._lock:
            self._items[stored.response["id"]] = stored

    def get(self, response_id: str) -> StoredResponse | None:
        with self._lock:
            return self._items.get(response_id)

    def delete(self, response_id: str) -> bool:
        with self._lock:
            return self._items.pop(response_id, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def normalize_input(raw: Any) -> list[dict[str, Any]]:
    """``input`` as a list of items with ids: strings and easy messages become messages."""
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [{"role": "user", "content": raw}]
    items: list[dict[str, Any]] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        if item.get("type", "message") != "message":
            items.append({**item, "id": item.get("id") or new_id("item_")})
            continue
        role = str(item.get("role", "user"))
        content = item.get("content")
        if isinstance(content, str):
            part_type = "output_text" if role == "assistant" else "input_text"
            parts = [_text_part(part_type, content)]
        else:
            parts = [dict(p) for p in content or [] if isinstance(p, dict)]
        items.append(
            {
                "id": item.get("id") or new_id("msg_"),
                "type": "message",
                "role": role,
                "status": item.get("status", "completed"),
                "content": parts,
            }
        )
    return items


def _text_part(part_type: str, text: str) -> dict[str, Any]:
    if part_type == "output_text":
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"type": part_type, "text": text}


def _turns(items: list[dict[str, Any]]) -> list[Turn]:
    return [
        Turn(item["role"], text_of(item["content"])) for item in items if item["type"] == "message"
    ]


def _usage(input_tokens: int, output_tokens: int, cached_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached_tokens, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def _response_object(body: dict[str, Any], response_id: str, created_at: int) -> dict[str, Any]:
    """An ``in_progress`` Response echoing the request's settings (every field present)."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "completed_at": None,
        "status": "in_progress",
        "background": bool(body.get("background", False)),
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": body["model"],
        "output": [],
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "conversation": None,
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "store": body.get("store", True) is not False,
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_logprobs": 0,
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": None,
        "user": None,
        "metadata": body.get("metadata") or {},
    }


def _history(body: dict[str, Any], server: ProtocolServer) -> list[dict[str, Any]] | JsonReply:
    """The items stored for ``previous_response_id`` (empty without one), or the error."""
    previous_id = body.get("previous_response_id")
    if previous_id and body.get("conversation"):
        message = (
            "Mutually exclusive parameters: Ensure you are only providing one of: "
            "'previous_response_id' or 'conversation'."
        )
        return openai_error(400, message, param="previous_response_id")
    if body.get("conversation"):
        return openai_error(
            400, "Conversations are not supported by this test server.", param="conversation"
        )
    if not previous_id:
        return []
    if not server.supports_previous_response_id:
        return openai_error(400, LLAMA_CPP_MESSAGE)
    stored = server.responses.get(previous_id)
    if stored is None:
        return openai_error(
            400,
            f"Previous response with id '{previous_id}' not found.",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    return stored.input_items + stored.output_items


def create_response(request: ApiRequest, server: ProtocolServer) -> Reply:
    """Create (and, unless ``store`` is false, store) a response to the chained input."""
    body = request.body
    if not body.get("model"):
        return openai_error(400, "Missing required parameter: 'model'.", param="model")
    history = _history(body, server)
    if isinstance(history, JsonReply):
        return history
    raw_input = body.get("input")
    untyped = isinstance(raw_input, list) and any(
        isinstance(item, dict) and "type" not in item for item in raw_input
    )
    if server.requires_typed_items and untyped:
        return openai_error(400, "Cannot determine type of 'item'")  # llama.cpp's words
    new_items = normalize_input(raw_input)
    seen = {item["id"] for item in history}
    for item in new_items:
        if item["id"] in seen:
            message = (
                f"Duplicate item found with id {item['id']}. "
                "Remove duplicate items from your input and try again."
            )
            return openai_error(400, message, param="input")
    input_items = history + new_items
    instructions = body.get("instructions")
    context = _turns(input_items)
    if isinstance(instructions, str) and instructions:
        context.insert(0, Turn("system", instructions))
    elif isinstance(instructions, list):
        context[:0] = _turns(normalize_input(instructions))
    answer = server.answer(context, "responses", request.request_id)
    if isinstance(answer, JsonReply):
        return answer
    cached = answer.input_tokens // 2 if "prompt_cache_key" in body else 0
    started = _response_object(body, new_id("resp_"), now())
    message_id = new_id("msg_")
    done_part = _text_part("output_text", answer.text)
    output_item = {
        "id": message_id,
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [done_part],
    }
    completed = {
        **started,
        "status": "completed",
        "completed_at": now(),
        "output": [output_item],
        "usage": _usage(answer.input_tokens, answer.output_tokens, cached),
    }
    if started["store"]:
        server.responses.put(StoredResponse(completed, input_items, [output_item]))
    if not request.streaming:
        return JsonReply(200, completed)

    def forget() -> None:
        # A stream that never reached response.completed leaves nothing to chain on.
        server.responses.delete(started["id"])

    return _stream(started, completed, answer, on_aborted=forget)


def _stream(
    started: dict[str, Any],
    completed: dict[str, Any],
    answer: Answer,
    *,
    on_aborted: Callable[[], None],
) -> StreamReply:
    """The full text event sequence with ``event:`` lines and sequence numbers."""
    item = completed["output"][0]
    where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
    payloads: list[tuple[dict[str, Any], bool]] = [
        ({"type": "response.created", "response": started}, False),
        ({"type": "response.in_progress", "response": started}, False),
        (
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {**item, "status": "in_progress", "content": []},
            },
            False,
        ),
        (
            {
                "type": "response.content_part.added",
                **where,
                "part": _text_part("output_text", ""),
            },
            False,
        ),
    ]
    for word in answer.chunks:
        delta = {"type": "response.output_text.delta", **where, "delta": word, "logprobs": []}
        payloads.append((delta, True))
    payloads += [
        (
            {"type": "response.output_text.done", **where, "text": answer.text, "logprobs": []},
            False,
        ),
        ({"type": "response.content_part.done", **where, "part": item["content"][0]}, False),
        ({"type": "response.output_item.done", "output_index": 0, "item": item}, False),
        ({"type": "response.completed", "response": completed}, False),
    ]
    events = [
        SSEEvent.of({**payload, "sequence_number": seq}, payload["type"], text_chunk=is_text)
        for seq, (payload, is_text) in enumerate(payloads)
    ]
    first_delta = next(i for i, (_, is_text) in enumerate(payloads) if is_text)

    def error_events(params: dict[str, Any]) -> list[SSEEvent]:
        style = str(params.get("style", "failed"))
        return [_stream_error_event(started, first_delta + 1, style)]

    return StreamReply(events, error_events, on_aborted=on_aborted)


def _stream_error_event(started: dict[str, Any], seq: int, style: str) -> SSEEvent:
    """``response.failed`` by default; ``style`` ``error`` = flat, ``nested`` = nested error."""
    if style == "error":
        payload: dict[str, Any] = {
            "type": "error",
            "code": "server_error",
            "message": OPENAI_SERVER_ERROR,
            "param": None,
        }
    elif style == "nested":
        error = {
            "type": "server_error",
            "code": "server_error",
            "message": OPENAI_SERVER_ERROR,
            "param": None,
        }
        payload = {"type": "error", "error": error}
    else:
        failed = {
            **started,
            "status": "failed",
            "error": {"code": "server_error", "message": OPENAI_SERVER_ERROR},
        }
        payload = {"type": "response.failed", "response": failed}
    return SSEEvent.of({**payload, "sequence_number": seq}, payload["type"])


def _not_found(response_id: str) -> JsonReply:
    return openai_error(404, f"Response with id '{response_id}' not found.")


def retrieve_response(request: ApiRequest, server: ProtocolServer, response_id: str) -> Reply:
    """``GET /v1/responses/{id}``: the stored Response, or 404."""
    stored = server.responses.get(response_id)
    return JsonReply(200, stored.response) if stored else _not_found(response_id)


def delete_response(request: ApiRequest, server: ProtocolServer, response_id: str) -> Reply:
    """``DELETE /v1/responses/{id}``: forget it; chaining on it then fails with 400."""
    if not server.responses.delete(response_id):
        return _not_found(response_id)
    return JsonReply(200, {"id": response_id, "object": "response.deleted", "deleted": True})


def list_input_items(request: ApiRequest, server: ProtocolServer, response_id: str) -> Reply:
    """``GET /v1/responses/{id}/input_items``: newest first unless ``order=asc``."""
    stored = server.responses.get(response_id)
    if stored is None:
        return _not_found(response_id)
    items = list(stored.input_items)
    if request.query.get("order", "desc") != "asc":
        items.reverse()
    after = request.query.get("after")
    if after:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    limit = int(request.query.get("limit", 20))
    page = items[:limit]
    return JsonReply(
        200,
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        },
    )
