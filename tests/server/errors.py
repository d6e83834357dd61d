"""Error responses with the exact bodies of API_REFERENCE §2.4, §3.x and §4.6.

Every route belongs to one API family (``chat``, ``responses``, ``openai`` for the other
OpenAI routes, ``anthropic``); the family picks the envelope:

* OpenAI: ``{"error": {"message", "type", "param", "code"}}``
* Anthropic: ``{"type": "error", "error": {"type", "message"}, "request_id"}``

Every error carries ``x-should-retry: false`` except 429, which instead says
``retry-after-ms: 10`` so the SDK's own retry comes back fast.
"""

from __future__ import annotations

from typing import Any

from tests.server.base import JsonReply

OPENAI_FAMILIES = frozenset({"chat", "responses", "openai"})
FAILURE_KINDS = frozenset(
    {
        "400",
        "401",
        "404_model",
        "429",
        "500",
        "529",
        "context_length",
        "cut_stream",
        "slow",
        "stream_error",
    }
)
# Kinds answered with an error instead of running the route at all.
IMMEDIATE_KINDS = frozenset({"400", "401", "404_model", "429", "500", "529", "context_length"})

OPENAI_SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"
OPENAI_CONTEXT_WINDOW = 128_000
ANTHROPIC_CONTEXT_WINDOW = 200_000


def _error_headers(status: int) -> dict[str, str]:
    if status == 429:
        return {"retry-after-ms": "10", "retry-after": "0"}
    return {"x-should-retry": "false"}


def openai_error(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> JsonReply:
    """An OpenAI error envelope."""
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return JsonReply(status, body, _error_headers(status))


def anthropic_error(status: int, type: str, message: str, *, request_id: str) -> JsonReply:
    """An Anthropic error envelope (the SDK exposes ``error.type`` as ``e.type``)."""
    body = {"type": "error", "error": {"type": type, "message": message}, "request_id": request_id}
    return JsonReply(status, body, _error_headers(status))


def anthropic_stream_error(request_id: str) -> dict[str, Any]:
    """The payload of a mid-stream Anthropic ``event: error``."""
    return {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": request_id,
    }


def masked_key(headers: dict[str, str]) -> str:
    """The caller's key, masked the way OpenAI quotes it in 401 messages."""
    auth = headers.get("authorization", "")
    key = auth.removeprefix("Bearer ").strip() or headers.get("x-api-key", "")
    return f"{key[:3]}***...{key[-4:]}" if len(key) >= 8 else "***"


# How OpenAI-compatible servers say "too long" (``style=`` of the ``context_length`` failure).
def _compatible_too_long(style: str, tokens: int, limit: int) -> JsonReply:
    if style == "llama.cpp":  # the same body on every route (tools/server, HTTP 400)
        message = (
            f"request ({tokens} tokens) exceeds the available context size ({limit} tokens), "
            "try increasing it"
        )
        error = {"code": 400, "message": message, "type": "exceed_context_size_error"}
        return JsonReply(400, {"error": {**error, "n_prompt_tokens": tokens, "n_ctx": limit}})
    if style == "vllm":
        message = (
            f"This model's maximum context length is {limit} tokens. However, you requested "
            f"{tokens} tokens ({tokens} in the messages, 0 in the completion). Please reduce "
            "the length of the messages or completion."
        )
        return JsonReply(
            400,
            {"error": {"message": message, "type": "BadRequestError", "param": None, "code": 400}},
        )
    if style == "ollama":
        message = "the input length exceeds the context length"
        return JsonReply(400, {"error": {"message": message, "type": "api_error", "param": None}})
    raise ValueError(f"unknown context_length style {style!r}")


def context_length_error(
    family: str, *, tokens: int, limit: int | None, request_id: str, style: str = ""
) -> JsonReply:
    """The 400 each API answers when the prompt does not fit the context window
    (``style``: as a compatible server words it, ``llama.cpp``, ``vllm`` or ``ollama``)."""
    if style:
        return _compatible_too_long(style, tokens, limit or OPENAI_CONTEXT_WINDOW)
    if family == "anthropic":
        limit = limit or ANTHROPIC_CONTEXT_WINDOW
        message = f"prompt is too long: {tokens} tokens > {limit} maximum"
        return anthropic_error(400, "invalid_request_error", message, request_id=request_id)
    if family == "responses":
        message = (
            "Your input exceeds the context window of this model. "
            "Please adjust your input and try again."
        )
        return openai_error(400, message, param="input", code="context_length_exceeded")
    limit = limit or OPENAI_CONTEXT_WINDOW
    message = (
        f"This model's maximum context length is {limit} tokens. However, your messages "
        f"resulted in {tokens} tokens. Please reduce the length of the messages."
    )
    return openai_error(400, message, param="messages", code="context_length_exceeded")


def injected_error(
    kind: str, family: str, params: dict[str, Any], body: dict[str, Any], request: Any
) -> JsonReply:
    """The error response for an injected failure ``kind`` on a route of ``family``.

    ``request`` is the :class:`~tests.server.base.ApiRequest` (for its headers and id).
    ``500`` is also what a non-streaming request gets for ``stream_error``.
    """
    model = str(body.get("model", "unknown-model"))
    request_id = request.request_id
    anthropic = family == "anthropic"
    if kind == "400":  # ``message=``, where "{key}" stands for the caller's whole key
        auth = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        key = auth or request.headers.get("x-api-key", "")
        message = str(params.get("message", "Invalid request.")).replace("{key}", key)
        if anthropic:
            return anthropic_error(400, "invalid_request_error", message, request_id=request_id)
        return openai_error(400, message, code=params.get("code"))
    if kind == "401":
        if anthropic:
            return anthropic_error(
                401, "authentication_error", "invalid x-api-key", request_id=request_id
            )
        message = (
            f"Incorrect API key provided: {masked_key(request.headers)}. You can find your "
            "API key at https://platform.openai.com/account/api-keys."
        )
        return openai_error(401, message, code="invalid_api_key")
    if kind == "404_model":
        if anthropic:
            return anthropic_error(404, "not_found_error", f"model: {model}", request_id=request_id)
        message = f"The model `{model}` does not exist or you do not have access to it."
        return openai_error(404, message, code="model_not_found")
    if kind == "429":
        if anthropic:
            message = (
                "Number of request tokens has exceeded your per-minute rate limit; "
                "see the response headers for current usage."
            )
            return anthropic_error(429, "rate_limit_error", message, request_id=request_id)
        message = (
            f"Rate limit reached for {model} in organization org-test on tokens per min "
            "(TPM): Limit 30000, Used 28039, Requested 3906. Please try again in 3.89s. "
            "Visit https://platform.openai.com/account/rate-limits to learn more."
        )
        return openai_error(429, message, type="tokens", code="rate_limit_exceeded")
    if kind in ("500", "stream_error"):
        if anthropic:
            return anthropic_error(500, "api_error", "Internal server error", request_id=request_id)
        return openai_error(500, OPENAI_SERVER_ERROR, type="server_error")
    if kind == "529":
        if anthropic:
            return anthropic_error(529, "overloaded_error", "Overloaded", request_id=request_id)
        return openai_error(529, OPENAI_SERVER_ERROR, type="server_error")
    if kind == "context_length":
        limit = params.get("limit")
        default_limit = ANTHROPIC_CONTEXT_WINDOW if anthropic else OPENAI_CONTEXT_WINDOW
        tokens = int(params.get("tokens", (limit or default_limit) + 2542))
        return context_length_error(
            family,
            tokens=tokens,
            limit=limit,
            request_id=request_id,
            style=str(params.get("style", "")),
        )
    raise ValueError(f"{kind!r} is not an immediate failure kind")


def auth_error(family: str, request: Any) -> JsonReply | None:
    """The 401/400 a request without credentials (or API version) gets, else None.

    OpenAI routes need ``Authorization: Bearer <key>``; Anthropic routes take that or
    ``x-api-key`` (anthropic 2.x sends Bearer, older SDKs and curl send x-api-key) and
    require ``anthropic-version``.
    """
    headers = request.headers
    bearer = headers.get("authorization", "").removeprefix("Bearer ").strip()
    if family in OPENAI_FAMILIES:
        if headers.get("authorization", "").startswith("Bearer ") and bearer:
            return None
        message = (
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). "
            "You can obtain an API key from https://platform.openai.com/account/api-keys."
        )
        return openai_error(401, message)
    if not (bearer or headers.get("x-api-key")):
        return anthropic_error(
            401,
            "authentication_error",
            "x-api-key header is required",
            request_id=request.request_id,
        )
    if not headers.get("anthropic-version"):
        return anthropic_error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
            request_id=request.request_id,
        )
    return None
