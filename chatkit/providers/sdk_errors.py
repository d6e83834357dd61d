"""SDK exceptions as chatkit errors, with one plain sentence each.

Classification follows the HTTP status plus the error ``code`` (OpenAI) or ``type``
(Anthropic, llama.cpp), and the message text only where a server offers nothing else: an
Anthropic "prompt is too long", vLLM's and Ollama's context errors are plain 400s. See
shared/API_REFERENCE.md §2.4, §4.6, §6, §8. ``provider`` in every sentence is what the person
chose, with the server's host when it is not the provider's own (``endpoint_label``).
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import openai

from chatkit.errors import (
    AuthenticationFailed,
    ChatkitError,
    ContextTooLong,
    InvalidRequest,
    PreviousResponseNotFound,
    ProviderUnavailable,
    RateLimited,
    StreamInterrupted,
    UnknownModel,
)

# llama.cpp's server answers this 400 when asked to chain (API_REFERENCE §6.1).
CHAINING_UNSUPPORTED_HINT = "does not support 'previous_response_id'"

# "The prompt does not fit the model's window", as each server spells it:
# OpenAI's ``code``, llama.cpp's ``type`` (HTTP 400, API_REFERENCE §6), or the message's words.
CONTEXT_OVERFLOW_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error"})
CONTEXT_OVERFLOW_WORDING = (
    # OpenAI (older models), vLLM ("This model's maximum context length is 4096 tokens. However,
    # you requested ..." and "... maximum context length is 4096 tokens and your request has ..."),
    # LM Studio, OpenRouter
    "maximum context length",
    # vLLM: "The decoder prompt (length 5000) is longer than the maximum model length of 4096",
    # "The prompt (total length 25938) is too long to fit into the model (context length 4096)"
    "longer than the maximum model length",
    "too long to fit into the model",
    # llama.cpp: "request (3031 tokens) exceeds the available context size (1024 tokens)"
    "exceeds the available context size",
    # Ollama: "the input length exceeds the context length" (with truncate: false)
    "exceeds the context length",
    "input exceeds context length",
    # Anthropic: "prompt is too long: 208656 tokens > 200000 maximum",
    # "input length and `max_tokens` exceed context limit: ..."
    "prompt is too long",
    "exceed context limit",
    # OpenAI Responses: "Your input exceeds the context window of this model."
    "exceeds the context window",
)


def _api_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
    return str(getattr(exc, "api_message", None) or getattr(exc, "message", "") or exc)


def is_chaining_unsupported(exc: BaseException) -> bool:
    """True when a server refused ``previous_response_id`` as a feature (not an unknown id):
    llama.cpp's words, or any 400 naming the parameter as not supported."""
    if not isinstance(exc, openai.BadRequestError):
        return False
    message = _api_message(exc)
    return CHAINING_UNSUPPORTED_HINT in message or (
        "previous_response_id" in message and "support" in message.lower()
    )


def is_context_overflow(exc: BaseException) -> bool:
    """True when a server says the request does not fit the model's context window."""
    markers = {getattr(exc, "code", None), getattr(exc, "type", None)}
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            markers |= {inner.get("code"), inner.get("type")}
    if markers & CONTEXT_OVERFLOW_CODES:
        return True
    message = _api_message(exc).lower()
    return any(wording in message for wording in CONTEXT_OVERFLOW_WORDING)


def _too_long(model: str) -> ContextTooLong:
    return ContextTooLong(
        f"The conversation is too long for {model or 'the model'}'s context window: turn on "
        f"trimming in the sidebar or start a new conversation."
    )


def _key_rejected(provider: str, key_env: str | None) -> AuthenticationFailed:
    where = f" or set {key_env}" if key_env else ""
    return AuthenticationFailed(
        f"{provider} rejected the API key: check it, then paste it again{where}."
    )


def from_openai_error(
    exc: Exception, *, provider: str, model: str, key_env: str | None = "OPENAI_API_KEY"
) -> ChatkitError:
    """The chatkit error for an exception raised by the openai SDK (or its HTTP layer)."""
    code = getattr(exc, "code", None)
    status = getattr(exc, "status_code", None)
    if isinstance(exc, openai.AuthenticationError) or code == "invalid_api_key":
        return _key_rejected(provider, key_env)
    if code == "model_not_found" or isinstance(exc, openai.NotFoundError):
        return UnknownModel(
            f"{provider} does not know the model {model!r} (or this key has no access to it): "
            f"choose another model."
        )
    if code == "insufficient_quota":
        return RateLimited(
            f"Your {provider} quota is used up: check the account's plan and billing; "
            f"retrying will not help."
        )
    if isinstance(exc, openai.RateLimitError) or status == 429 or code == "rate_limit_exceeded":
        return RateLimited(
            f"{provider} is limiting how fast you can send: wait a moment, then retry."
        )
    if isinstance(exc, openai.APIError) and is_context_overflow(exc):
        return _too_long(model)
    if code == "previous_response_not_found":
        return PreviousResponseNotFound(
            f"{provider} no longer has the previous response of this conversation: the next "
            f"message will resend the full history."
        )
    return _transport_error(exc, provider, openai)


def from_anthropic_error(
    exc: Exception, *, provider: str, model: str, key_env: str | None = "ANTHROPIC_API_KEY"
) -> ChatkitError:
    """The chatkit error for an exception raised by the anthropic SDK (or its HTTP layer)."""
    status = getattr(exc, "status_code", None)
    error_type = getattr(exc, "type", None)
    if isinstance(exc, anthropic.AuthenticationError) or error_type == "authentication_error":
        return _key_rejected(provider, key_env)
    if isinstance(exc, anthropic.NotFoundError) or error_type == "not_found_error":
        return UnknownModel(f"{provider} does not know the model {model!r}: choose another model.")
    if isinstance(exc, anthropic.RateLimitError) or error_type == "rate_limit_error":
        return RateLimited(
            f"{provider} is limiting how fast you can send: wait a moment, then retry."
        )
    if status == 529 or error_type == "overloaded_error":
        return ProviderUnavailable(f"{provider} is overloaded right now: retry in a moment.")
    if isinstance(exc, anthropic.APIError) and is_context_overflow(exc):
        return _too_long(model)
    return _transport_error(exc, provider, anthropic)


def _transport_error(exc: Exception, provider: str, sdk: Any) -> ChatkitError:
    """What both SDKs share after their own codes: timeouts, unreachable servers, server-side
    failures, other refusals (``sdk`` is the SDK's module, for its exception classes)."""
    status = getattr(exc, "status_code", None)
    if isinstance(exc, sdk.APITimeoutError | httpx2.TimeoutException):
        return ProviderUnavailable(
            f"{provider} did not answer in time: retry, or check the server."
        )
    if isinstance(exc, sdk.APIConnectionError | httpx2.TransportError):
        return ProviderUnavailable(
            f"Could not reach {provider}: check the base URL and the network, then retry."
        )
    if isinstance(status, int) and status >= 500:
        return ProviderUnavailable(
            f"{provider} had a problem on its side (HTTP {status}): retry in a moment."
        )
    message = _api_message(exc)
    if isinstance(exc, sdk.APIStatusError):
        return InvalidRequest(f"{provider} refused the request (HTTP {status}): {message}")
    return ProviderUnavailable(f"{provider} failed while answering: {message}")


def stream_failure(error: ChatkitError, parts: list[str]) -> ChatkitError:
    """The error for a stream that failed: ``error`` itself before any text arrived, else a
    ``StreamInterrupted`` that keeps the text and says why it stopped."""
    if not parts:
        return error
    return StreamInterrupted(
        f"The reply was cut off before it finished ({error.message.rstrip('.')}); "
        f"what arrived is kept: retry to get a full reply.",
        partial_text="".join(parts),
    )


def closed_early(provider: str, parts: list[str]) -> StreamInterrupted:
    """A stream whose connection ended without the API's final event."""
    return StreamInterrupted(
        f"The connection to {provider} closed before the reply finished; what arrived is "
        f"kept: retry to get a full reply.",
        partial_text="".join(parts),
    )


OPENAI_ERRORS = (openai.OpenAIError, httpx2.HTTPError)
ANTHROPIC_ERRORS = (anthropic.AnthropicError, httpx2.HTTPError)
