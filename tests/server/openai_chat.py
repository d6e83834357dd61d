"""``POST /v1/chat/completions`` (API_REFERENCE §2): JSON or ``data:``-only SSE."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.server.base import ApiRequest, JsonReply, Reply, SSEEvent, StreamReply, new_id, now
from tests.server.errors import OPENAI_SERVER_ERROR, openai_error
from tests.server.model import Answer, Turn, count_input_tokens, text_of

if TYPE_CHECKING:
    from tests.server.core import ProtocolServer


def chat_context(messages: list[Any]) -> list[Turn]:
    """The context a Chat Completions request gives the model: its messages, in order."""
    return [
        Turn(str(m.get("role", "user")), text_of(m.get("content")))
        for m in messages
        if isinstance(m, dict)
    ]


def chat_usage(input_tokens: int, output_tokens: int, cached_tokens: int) -> dict[str, Any]:
    """A complete ``CompletionUsage`` object."""
    return {
        "prompt_tokens": input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
        "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def create_chat_completion(request: ApiRequest, server: ProtocolServer) -> Reply:
    """Answer a chat completion from the messages the client sent."""
    body = request.body
    messages = body.get("messages")
    if not body.get("model"):
        return openai_error(400, "you must provide a model parameter", param="model")
    if not isinstance(messages, list) or not messages:
        return openai_error(400, "[] is too short - 'messages'", param="messages")
    answer = server.answer(chat_context(messages), "chat", request.request_id)
    if isinstance(answer, JsonReply):
        return answer
    cached = answer.input_tokens // 2 if "prompt_cache_key" in body else 0
    usage = chat_usage(answer.input_tokens, answer.output_tokens, cached)
    head = {
        "id": new_id("chatcmpl-"),
        "created": now(),
        "model": body["model"],
        "service_tier": "default",
        "system_fingerprint": None,
    }
    if not request.streaming:
        completion = {
            **head,
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": answer.text,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
        }
        return JsonReply(200, completion)
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    return _stream(head, answer, usage if include_usage else None)


def _stream(head: dict[str, Any], answer: Answer, usage: dict[str, Any] | None) -> StreamReply:
    """Role chunk, one chunk per word, finish chunk, optional usage chunk, ``[DONE]``."""
    chunk_head = {**head, "object": "chat.completion.chunk"}
    if usage is not None:
        chunk_head["usage"] = None

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**chunk_head, "choices": [choice]}

    events = [SSEEvent.of(chunk({"role": "assistant", "content": "", "refusal": None}))]
    events += [SSEEvent.of(chunk({"content": w}), text_chunk=True) for w in answer.chunks]
    events.append(SSEEvent.of(chunk({}, "stop")))
    if usage is not None:
        events.append(SSEEvent.of({**chunk_head, "choices": [], "usage": usage}))
    events.append(SSEEvent("[DONE]"))
    error = {"message": OPENAI_SERVER_ERROR, "type": "server_error", "param": None, "code": None}
    return StreamReply(events, lambda params: [SSEEvent.of({"error": error})])


def _prompt_count(request: ApiRequest, server: ProtocolServer, endpoint: str) -> int | JsonReply:
    """The prompt's count (what chat completions report as ``prompt_tokens``) when the server
    plays ``endpoint``'s counting; else the error to answer (404, or 400 without messages)."""
    if server.count_endpoint != endpoint:
        return openai_error(404, f"Invalid URL (POST {request.path})")
    messages = request.body.get("messages")
    if not isinstance(messages, list) or not messages:
        return openai_error(400, "messages is required", param="messages")
    return count_input_tokens(chat_context(messages))


def tokenize(request: ApiRequest, server: ProtocolServer) -> Reply:
    """vLLM's ``POST /tokenize`` with ``messages``; a 404 unless ``count_endpoint == "vllm"``."""
    count = _prompt_count(request, server, "vllm")
    if not isinstance(count, int):
        return count
    return JsonReply(200, {"count": count, "max_model_len": 4096, "tokens": list(range(count))})


def chat_input_tokens(request: ApiRequest, server: ProtocolServer) -> Reply:
    """llama.cpp's ``POST /v1/chat/completions/input_tokens``
    (``{"object": "response.input_tokens", "input_tokens": N}``); a 404 unless
    ``count_endpoint == "llama.cpp"``."""
    count = _prompt_count(request, server, "llama.cpp")
    if not isinstance(count, int):
        return count
    return JsonReply(200, {"object": "response.input_tokens", "input_tokens": count})
