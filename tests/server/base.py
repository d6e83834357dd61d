"""Value types shared by the protocol server's core and its per-API route modules."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Headers whose values are secrets; redacted wherever requests leave the process.
SECRET_HEADERS = ("authorization", "x-api-key")


def new_id(prefix: str) -> str:
    """A fresh random id such as ``resp_3f2a...`` (the shape the real APIs use)."""
    return f"{prefix}{uuid.uuid4().hex}"


def now() -> int:
    """Unix time in whole seconds, as every ``created``/``created_at`` field carries it."""
    return int(time.time())


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received, kept in arrival order for assertions."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    query: dict[str, str] = field(default_factory=dict)

    def to_dict(self, *, redact: bool = True) -> dict[str, Any]:
        """A JSON-ready copy; with ``redact`` the API keys are masked."""
        headers = dict(self.headers)
        if redact:
            for name in SECRET_HEADERS:
                if name in headers:
                    headers[name] = "[redacted]"
        return {
            "method": self.method,
            "path": self.path,
            "query": dict(self.query),
            "headers": headers,
            "body": self.body,
        }


@dataclass(frozen=True)
class ApiRequest:
    """What a route handler gets: the parsed request plus the id to put on the reply."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    query: dict[str, str]
    request_id: str

    @property
    def streaming(self) -> bool:
        """True when the client asked for server-sent events."""
        return self.body.get("stream") is True


@dataclass
class JsonReply:
    """A complete JSON response."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SSEEvent:
    """One server-sent event; ``text_chunk`` marks the events that carry reply words."""

    data: str
    event: str | None = None
    text_chunk: bool = False

    @classmethod
    def of(cls, payload: Any, event: str | None = None, *, text_chunk: bool = False) -> SSEEvent:
        """Build an event from a JSON-able payload."""
        return cls(json.dumps(payload), event, text_chunk)

    def encode(self) -> bytes:
        """The wire form: optional ``event:`` line, one ``data:`` line, blank line."""
        head = f"event: {self.event}\n" if self.event else ""
        return f"{head}data: {self.data}\n\n".encode()


@dataclass
class StreamReply:
    """A 200 SSE response.

    ``error_events(params)`` builds what the API sends when it fails mid-stream (used by
    the ``stream_error`` failure, right after the first text chunk; ``params`` are the
    failure's parameters, e.g. ``style``); ``on_aborted`` runs when
    the stream did not reach its end (cut or errored), e.g. to forget a stored response.
    """

    events: list[SSEEvent]
    error_events: Callable[[dict[str, Any]], list[SSEEvent]]
    headers: dict[str, str] = field(default_factory=dict)
    on_aborted: Callable[[], None] | None = None


@dataclass(frozen=True)
class DropConnection:
    """Close the connection without sending any response at all."""


Reply = JsonReply | StreamReply | DropConnection


@dataclass(frozen=True)
class Failure:
    """An injected failure: ``kind`` plus its parameters (``after_chunks``, ``delay``...)."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    path: str | None = None

    def matches(self, path: str, generation_route: bool) -> bool:
        """Whether this failure applies to a POST to ``path``.

        Without an explicit ``path`` only the generation routes (chat/completions,
        responses, messages) are failed, so token counting does not eat a queued failure.
        """
        if self.path is not None:
            return path.endswith(self.path)
        return generation_route
