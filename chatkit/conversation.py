"""Conversation: a system prompt plus user/assistant turns, with a versioned JSON form."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

from chatkit.errors import EmptyMessage, InvalidDocument
from chatkit.messages import Message, MessageLike, as_message, clip

SCHEMA = "chatkit.conversation"
SCHEMA_VERSION = 1


def new_conversation_id() -> str:
    """An unguessable id, safe to put in a URL (``?c=...``)."""
    return secrets.token_urlsafe(16)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class ReplyInfo:
    """What one assistant reply cost and how it was made, as the provider reported it.

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
    request_body: dict[str, Any] | None = None
    response_body: dict[str, Any] | None = None

    def to_dict(self, *, include_bodies: bool = False) -> dict[str, Any]:
        """A JSON-ready dict; bodies only when ``include_bodies``."""
        data = {name: getattr(self, name) for name in _REPLY_FIELD_NAMES}
        if include_bodies:
            data["request_body"] = deepcopy(self.request_body)
            data["response_body"] = deepcopy(self.response_body)
        # Drop what is unset, but keep a 0 (``0 == False``): "0 cached tokens" is not "unknown".
        return {k: v for k, v in data.items() if v is not None and v != "" and v is not False}

    def without_bodies(self) -> ReplyInfo:
        """The record without the request and response bodies (what an import may keep)."""
        return replace(self, request_body=None, response_body=None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReplyInfo:
        """Read a reply record, ignoring keys this version does not know."""
        if not isinstance(data, Mapping):
            raise InvalidDocument("A reply record must be an object.")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key, value in values.items():
            if not _is_kind(value, _REPLY_FIELD_KINDS[key]):
                raise InvalidDocument(f"A reply record's {key} is not {_KIND_WORDS[key]}.")
            if isinstance(value, int) and not isinstance(value, bool) and value < 0:
                raise InvalidDocument(f"A reply record's {key} is negative ({value}).")
            if isinstance(value, int) and not isinstance(value, bool) and value > MAX_COUNT:
                raise InvalidDocument(f"A reply record's {key} is implausibly large.")
        return cls(**values)


_REPLY_FIELD_NAMES = tuple(
    f.name for f in fields(ReplyInfo) if f.name not in ("request_body", "response_body")
)

# What each saved ReplyInfo field must hold (``None`` is allowed where the field allows it).
_REPLY_FIELD_KINDS: dict[str, tuple[type, bool]] = {
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
    "request_body": (dict, True),
    "response_body": (dict, True),
}
_KIND_WORDS = {
    key: {str: "text", int: "a whole number", bool: "true or false", dict: "an object"}[kind]
    for key, (kind, _) in _REPLY_FIELD_KINDS.items()
}


MAX_COUNT = 10**12  # more tokens or bytes than any one call has ever had


def _is_kind(value: Any, kind: tuple[type, bool]) -> bool:
    expected, optional = kind
    if value is None:
        return optional
    if expected is int and isinstance(value, bool):
        return False
    return isinstance(value, expected)


@dataclass(frozen=True, slots=True)
class Turn:
    """One exchange: a user message and the assistant's reply (``None`` while pending).

    ``assistant_index`` is where the reply stands in ``Conversation.messages``.
    """

    index: int
    user: Message | None
    assistant: Message | None
    reply: ReplyInfo | None = None
    assistant_index: int | None = None


@dataclass(frozen=True)
class TurnLayout:
    """Where the parts of a message list are: the system prompt, the turns, the pending message.

    ``head`` holds the leading system/developer messages. Each of ``turns`` is a user message
    and everything after it up to the next user message (a list that starts with an assistant
    greeting has that as a turn of its own). ``pending`` is a final user message still waiting
    for its reply; it belongs to no turn.
    """

    head: range
    turns: tuple[range, ...]
    pending: int | None

    def turn_numbers(self) -> list[int | None]:
        """The 1-based turn of each position (the pending message is the next turn); None for
        the system prompt."""
        numbers: list[int | None] = [None] * len(self.head)
        for number, turn in enumerate(self.turns, start=1):
            numbers.extend([number] * len(turn))
        if self.pending is not None:
            numbers.append(len(self.turns) + 1)
        return numbers


def split_turns(messages: Sequence[Message]) -> TurnLayout:
    """Split a message list into system prompt, whole turns and the pending user message.

    The one definition of a turn: trimming keeps or drops turns whole, the pages number them,
    and ``Conversation.turns`` pairs each user message with its reply from it.
    """
    head_end = 0
    while head_end < len(messages) and messages[head_end].is_instruction:
        head_end += 1
    end = len(messages)
    pending = None
    if end > head_end and messages[-1].role == "user":
        pending = end - 1
        end -= 1
    starts = [
        index
        for index in range(head_end, end)
        if index == head_end or messages[index].role == "user"
    ]
    stops = [*starts[1:], end] if starts else []
    turns = tuple(range(start, stop) for start, stop in zip(starts, stops, strict=True))
    return TurnLayout(range(head_end), turns, pending)


@dataclass
class Conversation:
    """A system prompt and the messages after it, plus what each reply cost.

    ``messages`` holds the turns (user/assistant, and any summary messages); the system prompt
    lives apart so that every provider can place it where its API wants it. ``replies`` maps
    the index of an assistant message in ``messages`` to its ``ReplyInfo``.
    """

    system_prompt: str = ""
    messages: list[Message] = field(default_factory=list)
    replies: dict[int, ReplyInfo] = field(default_factory=dict)
    id: str = field(default_factory=new_conversation_id)
    title: str = ""
    created_at: str = field(default_factory=_now)
    # The saved version this copy is based on (0: never saved); a storage detail, not exported.
    version: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        self.messages = [as_message(m) for m in self.messages]

    # -- building -----------------------------------------------------------------
    def add_user(self, text: str) -> Message:
        """Append a user message; empty or blank text is refused with ``EmptyMessage``."""
        if not text or not text.strip():
            raise EmptyMessage("The message is empty: type something before sending.")
        message = Message("user", text)
        self.messages.append(message)
        if not self.title:
            self.title = title_from(text)
        return message

    def add_assistant(self, text: str, reply: ReplyInfo | None = None) -> Message:
        """Append an assistant reply, with what it cost when known."""
        message = Message("assistant", text)
        self.messages.append(message)
        if reply is not None:
            self.replies[len(self.messages) - 1] = reply
        return message

    def add(self, message: MessageLike) -> Message:
        """Append any message (a dict or a Message)."""
        converted = as_message(message)
        self.messages.append(converted)
        return converted

    def copy(self) -> Conversation:
        """A cheap independent copy: messages are frozen, so only the lists are copied."""
        return replace(self, messages=list(self.messages), replies=dict(self.replies))

    def clear(self) -> None:
        """Forget every turn and the title taken from them; the system prompt stays."""
        self.messages.clear()
        self.replies.clear()
        self.title = ""

    def without_last_reply(self) -> Conversation:
        """A copy ending at the last user message (for regenerate)."""
        copy = self.copy()
        while copy.messages and copy.messages[-1].role == "assistant":
            copy.replies.pop(len(copy.messages) - 1, None)
            copy.messages.pop()
        return copy

    def without_last_turn(self) -> Conversation:
        """A copy without the last user message and its reply (for edit-and-resend)."""
        copy = self.without_last_reply()
        if copy.messages and copy.messages[-1].role == "user":
            copy.messages.pop()
        return copy

    # -- reading ------------------------------------------------------------------
    def to_messages(self) -> list[Message]:
        """The whole conversation as sent to a model: the system prompt first, if any."""
        head = [Message("system", self.system_prompt)] if self.system_prompt else []
        return head + self.messages

    @property
    def turns(self) -> list[Turn]:
        """The conversation as whole turns: each user message with the reply after it."""
        layout = split_turns(self.messages)
        groups = list(layout.turns)
        if layout.pending is not None:
            groups.append(range(layout.pending, layout.pending + 1))
        turns: list[Turn] = []
        for group in groups:
            first = self.messages[group[0]]
            user = first if first.role == "user" else None
            answers = [i for i in group if self.messages[i].role == "assistant"]
            if not answers:
                turns.append(Turn(len(turns), user, None))
            for number, answer in enumerate(answers):
                # A second reply in a row (no user message between) is a turn of its own.
                asked = user if number == 0 else None
                reply = self.replies.get(answer)
                turns.append(Turn(len(turns), asked, self.messages[answer], reply, answer))
        return turns

    @property
    def last_user_text(self) -> str | None:
        """The text of the newest user message, if any."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content
        return None

    def __len__(self) -> int:
        return len(self.messages)

    # -- JSON ---------------------------------------------------------------------
    def to_dict(self, *, include_bodies: bool = False) -> dict[str, Any]:
        """A versioned, JSON-ready document that ``from_dict`` reads back."""
        messages = []
        for position, message in enumerate(self.messages):
            item: dict[str, Any] = message.to_dict()
            reply = self.replies.get(position)
            if reply is not None:
                item["reply"] = reply.to_dict(include_bodies=include_bodies)
            messages.append(item)
        return {
            "schema": SCHEMA,
            "version": SCHEMA_VERSION,
            "id": self.id,
            "title": self.title,
            "created_at": self.created_at,
            "system_prompt": self.system_prompt,
            "messages": messages,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Conversation:
        """Load a document written by ``to_dict``; anything malformed raises ``InvalidDocument``.

        Everything is checked before the conversation is built, so a bad file never
        half-loads.
        """
        if not isinstance(data, Mapping):
            raise InvalidDocument(
                "This file is not a chatkit conversation (expected a JSON object)."
            )
        if data.get("schema") != SCHEMA:
            raise InvalidDocument(
                "This file is not a chatkit conversation (its schema is missing)."
            )
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise InvalidDocument("This conversation file has no valid version number.")
        if version > SCHEMA_VERSION:
            raise InvalidDocument(
                f"This conversation was saved by a newer chatkit (format version {version}); "
                f"update chatkit to open it."
            )
        if version < 1:
            raise InvalidDocument(f"Format version {version} is not one chatkit ever wrote.")
        raw_messages = data.get("messages")
        if not isinstance(raw_messages, list):
            raise InvalidDocument("This conversation file has no list of messages.")
        system_prompt = data.get("system_prompt", "")
        title = data.get("title", "")
        conversation_id = data.get("id") or new_conversation_id()
        created_at = data.get("created_at") or _now()
        for label, value in (
            ("system prompt", system_prompt),
            ("title", title),
            ("id", conversation_id),
            ("creation time", created_at),
        ):
            if not isinstance(value, str):
                raise InvalidDocument(f"This conversation file's {label} is not text.")
        try:
            datetime.fromisoformat(created_at)
        except ValueError as exc:
            raise InvalidDocument(
                f"This conversation file's creation time ({created_at[:40]!r}) is not a date."
            ) from exc
        messages: list[Message] = []
        replies: dict[int, ReplyInfo] = {}
        for position, item in enumerate(raw_messages):
            if not isinstance(item, Mapping):
                raise InvalidDocument(f"Message {position + 1} is not an object.")
            try:
                messages.append(Message.from_dict(item))
            except InvalidDocument as exc:
                raise InvalidDocument(f"Message {position + 1}: {exc.message}") from exc
            if "reply" in item:
                replies[position] = ReplyInfo.from_dict(item["reply"])
        return cls(
            system_prompt=system_prompt,
            messages=messages,
            replies=replies,
            id=conversation_id,
            title=title,
            created_at=created_at,
        )


TITLE_CHARS = 60


def title_from(text: str) -> str:
    """A short title from the first user message."""
    return clip(text, TITLE_CHARS)


def conversation_from_messages(messages: Iterable[MessageLike]) -> Conversation:
    """Build a Conversation from an API-style list: leading system messages become the prompt."""
    converted = [as_message(m) for m in messages]
    system_parts: list[str] = []
    while converted and converted[0].is_instruction:
        system_parts.append(converted.pop(0).content)
    return Conversation(system_prompt="\n\n".join(system_parts), messages=converted)
