"""Saved conversations: save, load, list, rename and delete, in any SQLAlchemy database.

``ConversationStore(url)`` opens the database (a SQLite file by default), applies the schema
migrations it has not seen yet, and then keeps conversations. One store per process is enough
(the app keeps it in ``st.cache_resource``); it is safe to use from several Streamlit sessions
(threads) at once, and several processes may share a SQLite file or a PostgreSQL database.

Nothing here ever sees an API key: a ``Conversation`` holds none, and no method takes one.
"""

from __future__ import annotations

import builtins
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chatkit.branches import forks_to_dict
from chatkit.conversation import Conversation
from chatkit.errors import ChatkitError, SaveConflict
from chatkit.store.engine import Database, utc_now
from chatkit.store.rows import (
    RowMemo,
    conversation_from_rows,
    extra_calls_column,
    insert_if_missing,
    json_column,
    memo_of,
    message_rows,
    storable,
    unchanged_prefix,
)
from chatkit.store.schema import conversations, messages, migrate
from chatkit.store.search import matching

MEMO_CONVERSATIONS = 256


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """One line of the saved-conversations list."""

    id: str
    title: str
    updated_at: str
    message_count: int
    owner: str | None


class ConversationStore:
    """Saved conversations in one database, safe to share between threads and processes."""

    def __init__(self, url: str) -> None:
        self._database = Database(url)
        # The rows of recently saved or loaded conversations, so a save works out only what
        # changed (``message_rows``): by conversation id, the least recently used dropped.
        self._memos: OrderedDict[str, RowMemo] = OrderedDict()
        self._memo_lock = threading.Lock()
        try:
            migrate(self._database)
        except ChatkitError:
            self._database.close()
            raise

    @property
    def url(self) -> str:
        """The database URL, with any password hidden."""
        return self._database.shown_url

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for tools and tests that watch the SQL)."""
        return self._database.engine

    @property
    def database(self) -> Database:
        """The database this store keeps its conversations in (other stores may share it)."""
        return self._database

    def close(self) -> None:
        """Close the pooled connections; the store must not be used afterwards."""
        self._database.close()

    def __enter__(self) -> ConversationStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------
    def save(
        self, conversation: Conversation, owner: str | None = None, visitor: str | None = None
    ) -> None:
        """Make the saved copy of ``conversation`` equal to it (creating it if new).

        ``owner`` (whose list shows it) and ``visitor`` (whose hosted caps it counts against)
        are recorded when the conversation is first saved and kept afterwards: the caller
        decides who may write to a conversation (``owner_of``), the store never moves one
        between owners. Replies are saved without their request and response bodies. The list
        order (``updated_at``) changes only when something saved did change.

        Every change raises the saved ``version`` by one, and ``conversation.version`` follows.
        A conversation whose version is not the saved one was changed elsewhere (another tab)
        since it was loaded: ``SaveConflict`` is raised and nothing is written.

        The common case - a turn appended - inserts only the new messages. Otherwise (a
        regenerated reply, an edited or cleared conversation) the messages from the first
        one that differs are deleted and written again.
        """
        known = self._memo(conversation.id)
        rows, memo = message_rows(conversation, known)
        title, system_prompt = storable(conversation.title), storable(conversation.system_prompt)
        forks = json_column(forks_to_dict(conversation.forks))
        settings = json_column(conversation.settings)
        calls = extra_calls_column(conversation)
        head = (conversation.version, title, system_prompt, forks, settings, calls)
        if known is not None and known.head == head and known.rows == memo.rows:
            return  # nothing changed since this store last saved or loaded it
        now = utc_now()
        with (
            self._database.errors("save the conversation"),
            self._database.transaction(write=True) as conn,
        ):
            created = insert_if_missing(
                conn,
                {
                    "id": conversation.id,
                    "title": storable(conversation.title),
                    "system_prompt": storable(conversation.system_prompt),
                    "owner": owner,
                    "visitor": visitor,
                    "created_at": conversation.created_at,
                    "updated_at": now,
                    "version": conversation.version,
                    "chars": 0,
                },
            )
            stored = conn.execute(
                sa.select(
                    conversations.c.title,
                    conversations.c.system_prompt,
                    conversations.c.version,
                    conversations.c.forks,
                    conversations.c.settings,
                    conversations.c.extra_calls,
                )
                .where(conversations.c.id == conversation.id)
                .with_for_update()
            ).one()
            if not created and stored.version != conversation.version:
                raise SaveConflict(
                    "This conversation was changed in another tab or window since this one "
                    "opened it, so it was not overwritten."
                )
            keep, stored_more = unchanged_prefix(conn, conversation.id, rows)
            if stored_more:
                conn.execute(
                    sa.delete(messages).where(
                        messages.c.conversation_id == conversation.id,
                        messages.c.position >= keep,
                    )
                )
            if keep < len(rows):
                conn.execute(sa.insert(messages), rows[keep:])
            changed = (
                stored_more
                or keep < len(rows)
                or stored.title != title
                or stored.system_prompt != system_prompt
                or stored.forks != forks
                or stored.settings != settings
                or stored.extra_calls != calls
            )
            if changed or created:
                version = stored.version + 1
                conn.execute(
                    sa.update(conversations)
                    .where(conversations.c.id == conversation.id)
                    .values(
                        title=title,
                        system_prompt=system_prompt,
                        updated_at=now,
                        version=version,
                        chars=memo.chars[-1] if memo.chars else 0,
                        forks=forks,
                        settings=settings,
                        extra_calls=calls,
                    )
                )
                conversation.version = version
        head = (conversation.version, title, system_prompt, forks, settings, calls)
        self._remember(conversation.id, replace(memo, head=head))

    def visitor_totals(self, visitor: str, *, excluding: str | None = None) -> tuple[int, int]:
        """How many conversations a visitor has saved and how many characters they hold
        (leaving out the conversation ``excluding``, if given)."""
        query = sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(conversations.c.chars), 0)
        ).where(conversations.c.visitor == visitor)
        if excluding is not None:
            query = query.where(conversations.c.id != excluding)
        with (
            self._database.errors("count the saved conversations"),
            self._database.transaction(write=False) as conn,
        ):
            count, chars = conn.execute(query).one()
        return int(count), int(chars)

    def rename(self, conversation_id: str, title: str) -> bool:
        """Set a saved conversation's title; False if there is no such conversation.

        Renaming does not move the conversation up the list. Set the open ``Conversation``'s
        ``title`` too, or its next ``save`` writes the old title back.
        """
        with (
            self._database.errors("rename the conversation"),
            self._database.transaction(write=True) as conn,
        ):
            result = conn.execute(
                sa.update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(title=storable(title))
            )
            return result.rowcount > 0

    def delete(self, conversation_id: str) -> bool:
        """Delete a saved conversation and its messages; False if there was none."""
        with (
            self._database.errors("delete the conversation"),
            self._database.transaction(write=True) as conn,
        ):
            # The foreign key cascades too; deleting explicitly also covers a database whose
            # foreign keys are switched off.
            conn.execute(sa.delete(messages).where(messages.c.conversation_id == conversation_id))
            result = conn.execute(
                sa.delete(conversations).where(conversations.c.id == conversation_id)
            )
        with self._memo_lock:
            self._memos.pop(conversation_id, None)
        return result.rowcount > 0

    # -- reading -----------------------------------------------------------------------------
    def load(self, conversation_id: str) -> Conversation | None:
        """The saved conversation, or None if there is none with this id.

        A damaged record raises ``InvalidDocument`` rather than loading in part.
        """
        with (
            self._database.errors("open the conversation"),
            self._database.transaction(write=False) as conn,
        ):
            head = conn.execute(
                sa.select(conversations).where(conversations.c.id == conversation_id)
            ).first()
            if head is None:
                return None
            result = conn.execute(
                sa.select(messages)
                .where(messages.c.conversation_id == conversation_id)
                .order_by(messages.c.position)
            )
            keys = tuple(result.keys())
            found = [dict(zip(keys, row, strict=True)) for row in result]
        conversation = conversation_from_rows(head._mapping, found)
        self._remember(conversation.id, memo_of(conversation, found, head._mapping))
        return conversation

    def _memo(self, conversation_id: str) -> RowMemo | None:
        with self._memo_lock:
            memo = self._memos.get(conversation_id)
            if memo is not None:
                self._memos.move_to_end(conversation_id)
            return memo

    def _remember(self, conversation_id: str, memo: RowMemo) -> None:
        with self._memo_lock:
            self._memos[conversation_id] = memo
            self._memos.move_to_end(conversation_id)
            while len(self._memos) > MEMO_CONVERSATIONS:
                self._memos.popitem(last=False)

    def owner_of(self, conversation_id: str) -> str | None:
        """Who first saved the conversation; None if nobody in particular, or if it is not saved."""
        with (
            self._database.errors("look up the conversation"),
            self._database.transaction(write=False) as conn,
        ):
            return conn.execute(
                sa.select(conversations.c.owner).where(conversations.c.id == conversation_id)
            ).scalar_one_or_none()

    def list(
        self,
        owner: str | None = None,
        *,
        include_all: bool = False,
        search: str = "",
        limit: int | None = None,
    ) -> builtins.list[ConversationSummary]:
        """Saved conversations, most recently changed first (at most ``limit``).

        ``include_all=True`` lists everyone's (a local, single-user app). Otherwise only the
        conversations saved with exactly this ``owner`` are listed, so in a hosted app one
        visitor never sees another's; ``owner=None`` then lists only the ownerless ones.
        ``search`` keeps those whose title or messages hold every word of it.
        """
        count = (
            sa.select(sa.func.count())
            .where(messages.c.conversation_id == conversations.c.id)
            .scalar_subquery()
        )
        query = sa.select(
            conversations.c.id,
            conversations.c.title,
            conversations.c.updated_at,
            count,
            conversations.c.owner,
        ).order_by(conversations.c.updated_at.desc(), conversations.c.id)
        if not include_all:
            query = query.where(
                conversations.c.owner.is_(None) if owner is None else conversations.c.owner == owner
            )
        if limit is not None:
            query = query.limit(limit)
        with (
            self._database.errors("list the saved conversations"),
            self._database.transaction(write=False) as conn,
        ):
            if search.strip():
                query = query.where(matching(conn, search))
            return [
                ConversationSummary(
                    id=row[0], title=row[1], updated_at=row[2], message_count=row[3], owner=row[4]
                )
                for row in conn.execute(query)
            ]
