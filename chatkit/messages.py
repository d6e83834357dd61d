"""Messages and roles: the one message type chatkit passes around, and role normalization."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, cast

from chatkit.errors import InvalidDocument

Role: TypeAlias = Literal["system", "developer", "user", "assistant"]
ROLES: tuple[Role, ...] = ("system", "developer", "user", "assistant")
INSTRUCTION_ROLES: frozenset[str] = frozenset({"system", "developer"})
ROLE_LABELS: dict[str, str] = {
    "system": "System",
    "developer": "Developer",
    "user": "User",
    "assistant": "Assistant",
}

MessageLike: TypeAlias = "Message | Mapping[str, Any]"

# What the user chose for a message's place in the context: trimming decides ("auto"), always
# sent ("pinned": trimming never drops it, a summary never replaces it), or never sent.
InContext: TypeAlias = Literal["auto", "pinned", "left_out"]
IN_CONTEXT: tuple[InContext, ...] = ("auto", "pinned", "left_out")


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation: who said it, what was said, an optional name, and
    whether the user pinned it or left it out of the context (``in_context``)."""

    role: Role
    content: str
    name: str | None = None
    in_context: InContext = "auto"

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise InvalidDocument(
                f"A message has the role {self.role!r}; chatkit knows only {', '.join(ROLES)}."
            )
        if not isinstance(self.content, str):
            raise InvalidDocument("A message's content must be text.")
        if self.name == "":
            object.__setattr__(self, "name", None)  # an empty name is no name
        if self.in_context not in IN_CONTEXT:
            raise InvalidDocument(
                f"A message's in_context is {self.in_context!r}; chatkit knows only "
                f"{', '.join(IN_CONTEXT)}."
            )

    @property
    def pinned(self) -> bool:
        """True when the user keeps this message in every request."""
        return self.in_context == "pinned"

    @property
    def left_out(self) -> bool:
        """True when the user keeps this message out of every request."""
        return self.in_context == "left_out"

    @property
    def is_instruction(self) -> bool:
        """True for ``system`` and ``developer`` messages (the system prompt)."""
        return self.role in INSTRUCTION_ROLES

    def to_dict(self) -> dict[str, str]:
        """The message as the plain ``{"role", "content"[, "name"]}`` dict the APIs use
        (``in_context`` is chatkit's own, never sent)."""
        data = {"role": self.role, "content": self.content}
        if self.name:
            data["name"] = self.name
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        """Build a message from a ``{"role", "content"}`` mapping, or say clearly why not."""
        if not isinstance(data, Mapping):
            raise InvalidDocument("A message must be an object with a role and content.")
        role, content = data.get("role"), data.get("content")
        if role is None or content is None:
            raise InvalidDocument("A message is missing its role or its content.")
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            raise InvalidDocument("A message's name must be text.")
        in_context = data.get("in_context", "auto")
        return cls(
            role=cast(Role, role),
            content=_text_of(content),
            name=name or None,
            in_context=cast(InContext, in_context),
        )


def _text_of(content: Any) -> str:
    """Flatten API content (a string or a list of text parts) into text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                raise InvalidDocument("Only text message parts are supported.")
        return "".join(parts)
    raise InvalidDocument("A message's content must be text.")


def as_message(message: MessageLike) -> Message:
    """Return ``message`` as a ``Message`` (dicts are converted, Messages pass through)."""
    return message if isinstance(message, Message) else Message.from_dict(message)


def as_messages(messages: Iterable[MessageLike]) -> list[Message]:
    """Convert a sequence of dicts or Messages into a new list of Messages."""
    return [as_message(m) for m in messages]


def _like_input(template: MessageLike, message: Message) -> MessageLike:
    """Return ``message`` in the same kind as ``template``: a new dict for dicts."""
    return message if isinstance(template, Message) else message.to_dict()


def merge_consecutive(messages: Sequence[Message]) -> list[Message]:
    """Merge consecutive same-role, same-name user/assistant messages with a newline.

    System and developer messages stay where they are and are never merged. Pure: the input
    is not changed, and merging twice gives the same list as merging once.
    """
    return [merged for _, merged in _merged_runs(messages)]


def _merged_runs(messages: Sequence[MessageLike]) -> list[tuple[MessageLike, Message]]:
    """Each run of mergeable messages: its first original, and the run merged into one."""
    runs: list[tuple[MessageLike, Message]] = []
    for original in messages:
        message = as_message(original)
        previous = runs[-1][1] if runs else None
        if (
            previous is not None
            and previous.role == message.role
            and not message.is_instruction
            and previous.name == message.name
        ):
            runs[-1] = (
                runs[-1][0],
                Message(previous.role, previous.content + "\n" + message.content, previous.name),
            )
        else:
            runs.append((original, message))
    return runs


def normalize_messages(messages: Sequence[MessageLike]) -> list[MessageLike]:
    """Merge consecutive same-role user/assistant messages with a newline.

    System and developer messages stay where they are and are never merged. Returns new
    objects of the kind it was given (dicts stay dicts, Messages stay Messages) and never
    mutates its input, unlike the classic snippet that edits the caller's dict in place.
    Idempotent: normalizing twice gives the same list as normalizing once.
    """
    return [_like_input(original, merged) for original, merged in _merged_runs(messages)]


def clip(text: str, limit: int = 100) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis only if it was cut."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
