"""Conversations as table rows, and back: what a save writes and what a load reads.

Each message row carries ``digest``, a hash chained over every message up to it, so a save can
tell which stored rows are still a prefix of the conversation and write only the rest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from chatkit.conversation import SCHEMA, SCHEMA_VERSION, Conversation
from chatkit.errors import InvalidDocument
from chatkit.store.schema import conversations, messages


def insert_if_missing(conn: Connection, values: dict[str, Any]) -> bool:
    """Insert the conversation row unless it exists, without racing a concurrent insert;
    True when this call created it."""
    if conn.dialect.name == "sqlite":
        statement = sqlite.insert(conversations).values(values).on_conflict_do_nothing()
        return conn.execute(statement).rowcount > 0
    if conn.dialect.name == "postgresql":
        statement = postgresql.insert(conversations).values(values).on_conflict_do_nothing()
        return conn.execute(statement).rowcount > 0
    exists = conn.execute(
        sa.select(conversations.c.id).where(conversations.c.id == values["id"])
    ).first()
    if exists is None:
        conn.execute(sa.insert(conversations).values(values))
    return exists is None


def json_column(value: Any) -> str | None:
    """A JSON value as a column holds it (None for an empty one)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else None


def extra_calls_column(conversation: Conversation) -> str | None:
    """The calls made beside the turns as their column holds them (without their bodies)."""
    return json_column([call.to_dict() for call in conversation.extra_calls])


def storable(text: str) -> str:
    """``text`` as every database can store it: PostgreSQL refuses NUL characters in text, so
    a NUL (which means nothing in a chat) is kept as U+FFFD, the replacement character."""
    return text.replace("\x00", "\ufffd")


@dataclass(frozen=True)
class RowMemo:
    """A conversation's rows as last saved or loaded, with the objects they were made from,
    so the next save works out only the rows of messages that are new or changed."""

    messages: tuple[Any, ...] = ()  # the Message objects, by position
    replies: tuple[Any, ...] = ()  # the ReplyInfo objects (or None), by position
    rows: tuple[dict[str, Any], ...] = ()
    chars: tuple[int, ...] = ()  # characters of the messages up to and including each
    head: tuple[Any, ...] = ()  # version, title, prompt, branches, settings, calls as saved

    def unchanged(self, conversation: Conversation) -> int:
        """How many leading messages (with their replies) are the same as when the rows were
        made, so their rows still hold. Appending is checked at C speed: the usual case."""
        size = len(self.messages)
        if len(conversation.messages) >= size:
            current = tuple(conversation.messages[:size])
            replies = tuple(map(conversation.replies.get, range(size)))
            if current == self.messages and replies == self.replies:
                return size
        count = 0
        for position, (message, reply) in enumerate(zip(self.messages, self.replies, strict=True)):
            if (
                position >= len(conversation.messages)
                or conversation.messages[position] != message
                or conversation.replies.get(position) != reply
            ):
                break
            count += 1
        return count


def message_rows(
    conversation: Conversation, memo: RowMemo | None = None
) -> tuple[list[dict[str, Any]], RowMemo]:
    """The conversation's messages as rows, each with the chained digest up to it, and the
    memo for the next save. Rows the memo still holds (the same message and reply objects at
    the same places) are reused, so appending a turn works out two rows, not all of them."""
    reuse = memo.unchanged(conversation) if memo is not None else 0
    rows = list(memo.rows[:reuse]) if memo is not None else []
    chars = list(memo.chars[:reuse]) if memo is not None else []
    digest = rows[-1]["digest"] if rows else ""
    for position in range(reuse, len(conversation.messages)):
        message = conversation.messages[position]
        info = conversation.replies.get(position)
        reply = (
            json.dumps(info.to_dict(), ensure_ascii=False, sort_keys=True)
            if info is not None
            else None
        )
        name = storable(message.name) if message.name else None
        content = storable(message.content)
        in_context = None if message.in_context == "auto" else message.in_context
        fields = [message.role, content, name, reply] + ([in_context] if in_context else [])
        record = json.dumps(fields, ensure_ascii=False)
        digest = hashlib.sha256(f"{digest}\n{record}".encode()).hexdigest()
        rows.append(
            {
                "conversation_id": conversation.id,
                "position": position,
                "role": message.role,
                "content": content,
                "name": name,
                "reply": reply,
                "digest": digest,
                "in_context": in_context,
            }
        )
        chars.append((chars[-1] if chars else 0) + len(message.content))
    memo = RowMemo(
        tuple(conversation.messages),
        tuple(map(conversation.replies.get, range(len(conversation.messages)))),
        tuple(rows),
        tuple(chars),
    )
    return rows, memo


def memo_of(
    conversation: Conversation, rows: Sequence[dict[str, Any]], head: Mapping[str, Any]
) -> RowMemo:
    """The memo for a conversation just loaded from ``rows`` (its stored rows) and ``head``
    (its stored conversation row)."""
    chars: list[int] = []
    for message in conversation.messages:
        chars.append((chars[-1] if chars else 0) + len(message.content))
    return RowMemo(
        tuple(conversation.messages),
        tuple(map(conversation.replies.get, range(len(conversation.messages)))),
        tuple(rows),
        tuple(chars),
        (
            head["version"],
            head["title"],
            head["system_prompt"],
            head["forks"],
            head["settings"],
            head["extra_calls"],
        ),
    )


def unchanged_prefix(
    conn: Connection, conversation_id: str, rows: Sequence[Mapping[str, Any]]
) -> tuple[int, bool]:
    """How many leading stored rows equal ``rows``, and whether more rows are stored than that.

    Fast path: the digest chains every message before it, so if the last stored row's digest
    equals the conversation's at that position, all stored rows are a prefix.
    """
    last = conn.execute(
        sa.select(messages.c.position, messages.c.digest)
        .where(messages.c.conversation_id == conversation_id)
        .order_by(messages.c.position.desc())
        .limit(1)
    ).first()
    if last is None:
        return 0, False
    if last.position < len(rows) and rows[last.position]["digest"] == last.digest:
        return last.position + 1, False
    keep = 0
    stored = conn.execute(
        sa.select(messages.c.position, messages.c.digest)
        .where(messages.c.conversation_id == conversation_id)
        .order_by(messages.c.position)
    )
    for position, digest in stored:
        if position != keep or keep >= len(rows) or rows[keep]["digest"] != digest:
            break
        keep += 1
    return keep, True


def conversation_from_rows(
    head: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]
) -> Conversation:
    """Rebuild a conversation through ``Conversation.from_dict``, so checks are shared."""
    items: list[dict[str, Any]] = []
    for expected, row in enumerate(rows):
        if row["position"] != expected:
            raise InvalidDocument(
                f"The saved conversation {head['id']} is damaged: message {expected + 1} "
                f"is missing."
            )
        item: dict[str, Any] = {"role": row["role"], "content": row["content"]}
        if row["name"] is not None:
            item["name"] = row["name"]
        if row.get("in_context"):
            item["in_context"] = row["in_context"]
        if row["reply"] is not None:
            try:
                item["reply"] = json.loads(row["reply"])
            except (TypeError, ValueError) as exc:
                raise InvalidDocument(
                    f"The saved conversation {head['id']} is damaged: the reply record of "
                    f"message {expected + 1} is not JSON."
                ) from exc
        items.append(item)
    document = {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "id": head["id"],
        "title": head["title"],
        "created_at": head["created_at"],
        "system_prompt": head["system_prompt"],
        "messages": items,
    }
    for column in ("forks", "settings", "extra_calls"):
        if head.get(column):
            try:
                document[column] = json.loads(head[column])
            except ValueError as exc:
                raise InvalidDocument(
                    f"The saved conversation {head['id']} is damaged: its {column} are not JSON."
                ) from exc
    try:
        conversation = Conversation.from_dict(document)
    except InvalidDocument as exc:
        raise InvalidDocument(
            f"The saved conversation {head['id']} is damaged: {exc.message}"
        ) from exc
    conversation.version = int(head["version"])
    return conversation
