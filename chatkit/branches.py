"""Branches: earlier versions of a conversation kept beside the one on screen.

Regenerating a reply or editing an earlier message does not throw the old text away: the tail
of the conversation from that point is kept as a *version* at a *fork*, and "‹ 2 / 3 ›"
switches between versions. The conversation's ``messages`` are always the branch on screen (so
everything that reads a conversation reads that branch); a ``Fork`` at a position holds the
other versions of everything from there on, each with its own replies and its own forks
further down. Positions inside a version are relative to its fork.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatkit.errors import InvalidDocument
from chatkit.messages import Message
from chatkit.replies import ReplyInfo

MAX_VERSIONS = 100  # per fork, so that an imported file cannot grow without bound


@dataclass(frozen=True)
class Version:
    """One version of a conversation's tail: its messages, their replies, its own forks."""

    messages: tuple[Message, ...] = ()
    replies: Mapping[int, ReplyInfo] = field(default_factory=dict)
    forks: Mapping[int, Fork] = field(default_factory=dict)

    def all_replies(self) -> Iterator[ReplyInfo]:
        yield from self.replies.values()
        for fork in self.forks.values():
            yield from fork.stashed_replies()


@dataclass(frozen=True)
class Fork:
    """The versions of everything from one position on. ``active`` is the version on screen;
    its slot is ``None`` (its text is the conversation's own)."""

    versions: tuple[Version | None, ...]
    active: int

    @property
    def count(self) -> int:
        return len(self.versions)

    def stashed_replies(self) -> Iterator[ReplyInfo]:
        """Every reply of the versions not on screen (and of the forks inside them)."""
        for version in self.versions:
            if version is not None:
                yield from version.all_replies()


@dataclass(frozen=True)
class Branch:
    """A conversation's branch on screen: messages, replies by position, forks by position."""

    messages: tuple[Message, ...]
    replies: Mapping[int, ReplyInfo]
    forks: Mapping[int, Fork]

    def cut(self, position: int) -> tuple[Branch, Version]:
        """The branch before ``position``, and the version from it on (its forks further down
        go with it; a fork exactly at ``position`` stays)."""
        head = Branch(
            self.messages[:position],
            {i: r for i, r in self.replies.items() if i < position},
            {i: f for i, f in self.forks.items() if i <= position},
        )
        tail = Version(
            self.messages[position:],
            {i - position: r for i, r in self.replies.items() if i >= position},
            {i - position: f for i, f in self.forks.items() if i > position},
        )
        return head, tail

    def attach(self, position: int, version: Version) -> Branch:
        """This branch (ending at ``position``) continued by ``version``."""
        return Branch(
            self.messages + version.messages,
            {**self.replies, **{i + position: r for i, r in version.replies.items()}},
            {**self.forks, **{i + position: f for i, f in version.forks.items()}},
        )

    def fork(self, position: int) -> Branch:
        """Keep everything from ``position`` on as a version, and start a new, empty version
        there (the caller adds the new messages): what Regenerate and Edit do."""
        head, tail = self.cut(position)
        if not tail.messages:
            return self
        existing = head.forks.get(position)
        if existing is None:
            versions: list[Version | None] = [tail, None]
        else:
            versions = list(existing.versions)
            versions[existing.active] = tail
            versions.append(None)
        if len(versions) > MAX_VERSIONS:
            versions = versions[-MAX_VERSIONS:]  # the oldest versions go first
        forks = {**head.forks, position: Fork(tuple(versions), len(versions) - 1)}
        return Branch(head.messages, head.replies, forks)

    def switch(self, position: int, index: int) -> Branch:
        """Show version ``index`` of the fork at ``position`` (the one shown now is kept)."""
        fork = self.forks.get(position)
        if fork is None or not 0 <= index < fork.count or index == fork.active:
            return self
        head, tail = self.cut(position)
        chosen = fork.versions[index] or Version()
        versions = list(fork.versions)
        versions[fork.active], versions[index] = tail, None
        forks = {**head.forks, position: Fork(tuple(versions), index)}
        return Branch(head.messages, head.replies, forks).attach(position, chosen)


# -- JSON ----------------------------------------------------------------------------------------


def message_items(
    messages: Sequence[Message],
    replies: Mapping[int, ReplyInfo],
    *,
    include_bodies: bool = False,
) -> list[dict[str, Any]]:
    """Messages as JSON items, each with its reply record where there is one."""
    items = []
    for position, message in enumerate(messages):
        item: dict[str, Any] = message.to_dict()
        if message.in_context != "auto":
            item["in_context"] = message.in_context
        if position in replies:
            item["reply"] = replies[position].to_dict(include_bodies=include_bodies)
        items.append(item)
    return items


def forks_to_dict(forks: Mapping[int, Fork]) -> dict[str, Any]:
    """Forks as JSON: ``{"position": {"active": i, "versions": [version or null, ...]}}``."""
    return {
        str(position): {
            "active": fork.active,
            "versions": [
                None
                if version is None
                else {
                    "messages": message_items(version.messages, version.replies),
                    "forks": forks_to_dict(version.forks),
                }
                for version in fork.versions
            ],
        }
        for position, fork in sorted(forks.items())
    }


def forks_from_dict(data: Any, length: int) -> dict[int, Fork]:
    """Forks read back from JSON, for a branch of ``length`` messages; anything malformed
    raises ``InvalidDocument``."""
    if data in (None, {}):
        return {}
    if not isinstance(data, Mapping):
        raise InvalidDocument("This conversation file's branches are not an object.")
    forks: dict[int, Fork] = {}
    for key, item in data.items():
        try:
            position = int(key)
        except (TypeError, ValueError) as exc:
            raise InvalidDocument("A branch point of this conversation is not a number.") from exc
        if not 0 <= position <= length or not isinstance(item, Mapping):
            raise InvalidDocument(f"The branch point at message {position + 1} is malformed.")
        versions = item.get("versions")
        active = item.get("active")
        if (
            not isinstance(versions, list)
            or not 2 <= len(versions) <= MAX_VERSIONS
            or not isinstance(active, int)
            or isinstance(active, bool)
            or not 0 <= active < len(versions)
            or versions[active] is not None
            or sum(version is None for version in versions) != 1
        ):
            raise InvalidDocument(f"The versions at message {position + 1} are malformed.")
        forks[position] = Fork(tuple(_version_from_dict(v) for v in versions), active)
    return forks


def _version_from_dict(data: Any) -> Version | None:
    if data is None:
        return None
    if not isinstance(data, Mapping) or not isinstance(data.get("messages"), list):
        raise InvalidDocument("A version of this conversation is malformed.")
    messages: list[Message] = []
    replies: dict[int, ReplyInfo] = {}
    for position, item in enumerate(data["messages"]):
        if not isinstance(item, Mapping):
            raise InvalidDocument("A message in a version of this conversation is malformed.")
        messages.append(Message.from_dict(item))
        if "reply" in item:
            replies[position] = ReplyInfo.from_dict(item["reply"])
    return Version(tuple(messages), replies, forks_from_dict(data.get("forks"), len(messages)))
