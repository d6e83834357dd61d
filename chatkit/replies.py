"""What one assistant reply cost and how it was made: the record kept beside the message."""

from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass, fields, replace
from typing import Any

from chatkit.errors import InvalidDocument


@dataclass(frozen=True, slots=True)
class ReplyInfo:
    """What one assistant reply cost and how it was made, as the provider reported it.

    ``request_bytes`` is what the client sent; for a provider chained through chatkit's local
    response store, ``received_bytes`` is the request the model then received (the whole
    history). ``trimmed`` says what trimming left out for this turn: the history sent started
    at message ``kept_from``, after ``summary`` where one stood in for what was left out; and
    ``summary_*`` count the calls a "summarize older turns" strategy made for the turn (their
    tokens, and the bytes their requests sent).
    ``unseen`` lists the earlier messages (positions in the conversation) the model did not
    see for this reply: trimmed, left out by the user, or missing from the stored chain it
    continued; a later turn may chain from a Responses reply only while the same ones stay
    unsent.

    ``request_body`` and ``response_body`` are kept in memory for the request inspector; they
    are saved only when asked (``to_dict(include_bodies=True)``), since a Chat Completions
    body repeats the whole history and would make the saved file grow with the square of it.
    """

    provider: str = ""
    model: str = ""
    mode: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    tokens_estimated: bool = False
    request_bytes: int | None = None
    response_id: str | None = None
    previous_response_id: str | None = None
    stopped: bool = False
    note: str = ""
    received_bytes: int | None = None
    trimmed: str = ""
    kept_from: int | None = None
    summary: str = ""
    summary_calls: int = 0
    summary_input_tokens: int = 0
    summary_output_tokens: int = 0
    summary_request_bytes: int = 0
    unseen: tuple[int, ...] = ()
    request_body: dict[str, Any] | None = None
    response_body: dict[str, Any] | None = None

    def to_dict(self, *, include_bodies: bool = False) -> dict[str, Any]:
        """A JSON-ready dict; bodies only when ``include_bodies``."""
        data = {name: getattr(self, name) for name in _REPLY_FIELD_NAMES}
        if include_bodies:
            data["request_body"] = deepcopy(self.request_body)
            data["response_body"] = deepcopy(self.response_body)
        # Drop what is unset, but keep a 0 (``0 == False``): "0 cached tokens" is not "unknown".
        # The summary counters are 0 for almost every reply: leave those out.
        kept = {
            k: v
            for k, v in data.items()
            if v is not None
            and v != ""
            and v != ()
            and v is not False
            and not (k in _ZERO_UNSET and v == 0)
        }
        if "unseen" in kept:
            kept["unseen"] = list(kept["unseen"])
        return kept

    def without_bodies(self) -> ReplyInfo:
        """The record without the request and response bodies (what an import may keep)."""
        return replace(self, request_body=None, response_body=None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReplyInfo:
        """Read a reply record, ignoring keys this version does not know."""
        if not isinstance(data, Mapping):
            raise InvalidDocument("A reply record must be an object.")
        values = {k: v for k, v in data.items() if k in _REPLY_FIELD_TYPES}
        for key, value in values.items():
            if not _has_type(value, _REPLY_FIELD_TYPES[key]):
                raise InvalidDocument(f"A reply record's {key} is not {_KIND_WORDS[key]}.")
            if isinstance(value, int) and not isinstance(value, bool) and value < 0:
                raise InvalidDocument(f"A reply record's {key} is negative ({value}).")
            if isinstance(value, int) and not isinstance(value, bool) and value > MAX_COUNT:
                raise InvalidDocument(f"A reply record's {key} is implausibly large.")
        if "unseen" in data:
            values["unseen"] = _positions(data["unseen"])
        return cls(**values)


_ZERO_UNSET = frozenset(
    {"summary_calls", "summary_input_tokens", "summary_output_tokens", "summary_request_bytes"}
)
_REPLY_FIELD_NAMES = tuple(
    f.name for f in fields(ReplyInfo) if f.name not in ("request_body", "response_body")
)

# What each saved ReplyInfo field must hold (``None`` is allowed where the field allows it).
_REPLY_FIELD_TYPES: dict[str, tuple[type, bool]] = {
    "provider": (str, False),
    "model": (str, False),
    "mode": (str, False),
    "input_tokens": (int, True),
    "output_tokens": (int, True),
    "cached_input_tokens": (int, True),
    "tokens_estimated": (bool, False),
    "request_bytes": (int, True),
    "response_id": (str, True),
    "previous_response_id": (str, True),
    "stopped": (bool, False),
    "note": (str, False),
    "received_bytes": (int, True),
    "trimmed": (str, False),
    "kept_from": (int, True),
    "summary": (str, False),
    "summary_calls": (int, False),
    "summary_input_tokens": (int, False),
    "summary_output_tokens": (int, False),
    "summary_request_bytes": (int, False),
    "request_body": (dict, True),
    "response_body": (dict, True),
}
_KIND_WORDS = {
    key: {str: "text", int: "a whole number", bool: "true or false", dict: "an object"}[expected]
    for key, (expected, _) in _REPLY_FIELD_TYPES.items()
}


MAX_COUNT = 10**12  # more tokens or bytes than any one call has ever had


def _positions(value: Any) -> tuple[int, ...]:
    """A saved list of message positions, checked."""
    if not isinstance(value, list) or not all(
        isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= MAX_COUNT for p in value
    ):
        raise InvalidDocument("A reply record's unseen is not a list of message positions.")
    return tuple(value)


def _has_type(value: Any, expected_type: tuple[type, bool]) -> bool:
    expected, optional = expected_type
    if value is None:
        return optional
    if expected is int and isinstance(value, bool):
        return False
    return isinstance(value, expected)
