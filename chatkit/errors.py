"""The chatkit error hierarchy: one plain sentence for a person, the original chained.

Every error a user can meet carries a ``message`` that says what happened and what to do;
the page shows that sentence and nothing else. The original exception stays reachable through
``__cause__`` (``raise ... from exc``) for logs and debugging.
"""

from __future__ import annotations

import re
import threading

MASK = "[hidden]"
# What API keys and tokens look like in error text: OpenAI / Anthropic keys (also partly
# starred, as OpenAI quotes them), bearer tokens, key=value pairs, Google-style keys.
_SECRET_PATTERNS = re.compile(
    r"""(?ix)
    \bsk-[a-z0-9_*.\-]{6,}
    | \bbearer\s+[^\s"',;]+
    | \b(?:x-)?api[_-]?key\b["']?\s*[:=]\s*["']?[^\s"',;]+
    | \bAIza[0-9a-z_\-]{20,}
    """
)
_known_secrets: set[str] = set()
_known_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a key in use (a host's or a visitor's), so any text that quotes it, or a
    long piece of it, is masked before it is shown, saved, logged or exported."""
    if value and len(value) >= 8:
        with _known_lock:
            _known_secrets.add(value)


def mask_secrets(text: str) -> str:
    """``text`` with anything key-like replaced by ``[hidden]``: a known key or any piece of
    one at least 8 characters long, and whatever looks like a key or a token."""
    with _known_lock:
        known = list(_known_secrets)
    hidden = [False] * len(text)
    for secret in known:
        for start in range(len(secret) - 7):
            piece = secret[start : start + 8]
            at = text.find(piece)
            while at >= 0:
                hidden[at : at + 8] = [True] * 8
                at = text.find(piece, at + 1)
    if any(hidden):
        parts, index = [], 0
        while index < len(text):
            if hidden[index]:
                while index < len(text) and hidden[index]:
                    index += 1
                parts.append(MASK)
            else:
                parts.append(text[index])
                index += 1
        text = "".join(parts)
    return _SECRET_PATTERNS.sub(MASK, text)


class ChatkitError(Exception):
    """Base class: ``str(error)`` is the sentence to show a person (never a key: anything
    key-like in it is masked)."""

    def __init__(self, message: str) -> None:
        message = mask_secrets(message)
        super().__init__(message)
        self.message = message


class InvalidDocument(ChatkitError):
    """A saved or imported conversation is malformed, foreign, or from a newer version."""


class ContextOverflow(ChatkitError):
    """The messages that must be kept do not fit the token budget."""

    def __init__(self, message: str, *, over_by: int) -> None:
        super().__init__(message)
        self.over_by = over_by


class UnknownContextWindow(ChatkitError):
    """chatkit does not know a model's context window and the caller gave none."""


class SaveConflict(ChatkitError):
    """A save would overwrite newer turns that another tab or window saved first."""


class QuotaExceeded(ChatkitError):
    """A hosted demo's allowance (turns, tokens, money or rate) does not cover this call."""


class EmptyMessage(ChatkitError):
    """The user tried to send a message with no text."""


class ProviderError(ChatkitError):
    """Base class for failures while talking to a model."""


class MissingApiKey(ProviderError):
    """No API key was configured for a provider that needs one."""


class AuthenticationFailed(ProviderError):
    """The provider rejected the API key."""


class UnknownModel(ProviderError):
    """The provider does not know the model, or the key has no access to it."""


class RateLimited(ProviderError):
    """The provider throttled the request (after the SDK's own retries) or the quota is spent."""


class ContextTooLong(ProviderError):
    """The provider says the request does not fit the model's context window."""


class ProviderUnavailable(ProviderError):
    """The provider could not be reached, timed out, or failed on its side."""


class StreamInterrupted(ProviderError):
    """A streamed reply stopped before it finished; ``partial_text`` keeps what arrived."""

    def __init__(self, message: str, *, partial_text: str = "") -> None:
        super().__init__(message)
        self.partial_text = partial_text


class InvalidRequest(ProviderError):
    """The provider refused the request as malformed or unsupported."""


class PreviousResponseNotFound(InvalidRequest):
    """``previous_response_id`` names a response the server does not have (or cannot chain)."""


class ModelLoadError(ProviderError):
    """A local model file is missing, corrupt, not a GGUF, or does not fit in memory."""
