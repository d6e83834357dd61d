"""Conversation: a system prompt plus user/assistant turns, with a versioned JSON form."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from chatkit.branches import Branch, Fork, forks_from_dict, forks_to_dict, message_items
from chatkit.errors import EmptyMessage, InvalidDocument
from chatkit.messages import InContext, Message, MessageLike, as_message, clip
from chatkit.replies import ReplyInfo

__all__ = ["Conversation", "ReplyInfo", "Turn", "TurnLayout", "split_turns"]

SCHEMA = "chatkit.conversation"
# 2: branches ("forks") and the settings a conversation was had with; a version 2 document
# may also hold "extra_calls" (an older chatkit opens it, leaving them out of its totals).
SCHEMA_VERSION = 2


def new_conversation_id() -> str:
    """An unguessable id, safe to put in a URL (``?c=...``)."""
    return secrets.token_urlsafe(16)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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

    ``messages`` holds the turns (user/assistant, and any summary messages) of the branch on
    screen; the system prompt lives apart so that every provider can place it where its API
    wants it. ``replies`` maps the index of an assistant message in ``messages`` to its
    ``ReplyInfo``. ``forks`` keeps the other versions (``chatkit.branches``) by position.
    ``settings`` are the choices the conversation was had with (provider, mode, model,
    trimming), plain JSON, restored when it is opened again. ``extra_calls`` are the calls made
    for it outside its turns (a summary asked for on the Summary page), counted in its totals.
    """

    system_prompt: str = ""
    messages: list[Message] = field(default_factory=list)
    replies: dict[int, ReplyInfo] = field(default_factory=dict)
    id: str = field(default_factory=new_conversation_id)
    title: str = ""
    created_at: str = field(default_factory=_now)
    forks: dict[int, Fork] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    extra_calls: list[ReplyInfo] = field(default_factory=list)
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
        """A cheap independent copy: messages are frozen, so only the containers are copied."""
        return replace(
            self,
            messages=list(self.messages),
            replies=dict(self.replies),
            forks=dict(self.forks),
            settings=dict(self.settings),
            extra_calls=list(self.extra_calls),
        )

    def with_in_context(self, position: int, choice: InContext) -> Conversation:
        """A copy where the message at ``position`` is pinned, left out, or back to "auto"
        (trimming decides)."""
        copy = self.copy()
        copy.messages[position] = replace(copy.messages[position], in_context=choice)
        return copy

    def clear(self) -> None:
        """Forget every turn, every branch, the calls made for them and the title taken from
        them; the system prompt stays."""
        self.messages.clear()
        self.replies.clear()
        self.forks.clear()
        self.extra_calls.clear()
        self.title = ""

    # -- branches ---------------------------------------------------------------------
    @property
    def branch(self) -> Branch:
        """The branch on screen, as ``chatkit.branches`` works on it."""
        return Branch(tuple(self.messages), dict(self.replies), dict(self.forks))

    def _with_branch(self, branch: Branch) -> Conversation:
        copy = self.copy()
        copy.messages, copy.replies = list(branch.messages), dict(branch.replies)
        copy.forks = dict(branch.forks)
        return copy

    def trailing_replies_start(self) -> int:
        """Where the replies after the last user message start (``len`` if there are none)."""
        start = len(self.messages)
        while start and self.messages[start - 1].role == "assistant":
            start -= 1
        return start

    def branched_at(self, position: int) -> Conversation:
        """A copy ending before ``position``, with everything from there on kept as a version
        at that point (Regenerate and Edit start a new version this way)."""
        return self._with_branch(self.branch.fork(position))

    def switched(self, position: int, index: int) -> Conversation:
        """A copy showing version ``index`` of the fork at ``position``."""
        return self._with_branch(self.branch.switch(position, index))

    def versions_at(self, position: int) -> tuple[int, int] | None:
        """``(shown, count)`` for the fork at ``position`` (1-based ``shown``), else None."""
        fork = self.forks.get(position)
        return None if fork is None else (fork.active + 1, fork.count)

    def all_replies(self) -> list[ReplyInfo]:
        """Every reply record: the branch on screen's and every other version's."""
        return [
            *self.replies.values(),
            *(r for fork in self.forks.values() for r in fork.stashed_replies()),
        ]

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
        messages = message_items(self.messages, self.replies, include_bodies=include_bodies)
        document = {
            "schema": SCHEMA,
            "version": SCHEMA_VERSION,
            "id": self.id,
            "title": self.title,
            "created_at": self.created_at,
            "system_prompt": self.system_prompt,
            "messages": messages,
        }
        if self.forks:
            document["forks"] = forks_to_dict(self.forks)
        if self.settings:
            document["settings"] = dict(self.settings)
        if self.extra_calls:
            document["extra_calls"] = [
                call.to_dict(include_bodies=include_bodies) for call in self.extra_calls
            ]
        return document

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
        settings = data.get("settings") or {}
        if not isinstance(settings, Mapping):
            raise InvalidDocument("This conversation file's settings are not an object.")
        return cls(
            system_prompt=system_prompt,
            messages=messages,
            replies=replies,
            id=conversation_id,
            title=title,
            created_at=created_at,
            forks=forks_from_dict(data.get("forks"), len(messages)),
            settings=dict(settings),
            extra_calls=_extra_calls_from(data.get("extra_calls")),
        )


MAX_EXTRA_CALLS = 10_000  # so that an imported file cannot grow without bound


def _extra_calls_from(data: Any) -> list[ReplyInfo]:
    """The ``extra_calls`` of a document (none in one saved before there were any)."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise InvalidDocument(
            "This conversation file's calls made beside its turns are not a list."
        )
    if len(data) > MAX_EXTRA_CALLS:
        raise InvalidDocument(
            f"This conversation file records more than {MAX_EXTRA_CALLS:,} calls."
        )
    return [ReplyInfo.from_dict(item) for item in data]


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
