"""The chatkit error hierarchy: one plain sentence for a person, the original chained.

Every error a user can meet carries a ``message`` that says what happened and what to do;
the page shows that sentence and nothing else. The original exception stays reachable through
``__cause__`` (``raise ... from exc``) for logs and debugging.
"""

from __future__ import annotations


class ChatkitError(Exception):
    """Base class: ``str(error)`` is the sentence to show a person."""

    def __init__(self, message: str) -> None:
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
