"""Saved conversations: a SQLite file by default, any SQLAlchemy database URL otherwise.

``ConversationStore(url)`` opens the database, applies the schema migrations it has not seen
yet (``MIGRATIONS``, in order) and then saves, loads, lists, renames and deletes
conversations. One store per process is enough (the app keeps it in ``st.cache_resource``); it
is safe to use from several Streamlit sessions (threads) at once, and several processes may
share a SQLite file (WAL mode, a busy timeout, writes in ``BEGIN IMMEDIATE`` transactions) or
a PostgreSQL database.

Nothing here ever sees an API key: a ``Conversation`` holds none, and no method takes one.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.schema import CreateTable

from chatkit.conversation import SCHEMA, SCHEMA_VERSION, Conversation
from chatkit.errors import ChatkitError, InvalidDocument

DATABASE_URL_ENV = "CHATKIT_DATABASE_URL"
DATA_DIR_ENV = "CHATKIT_DATA_DIR"
DEFAULT_DATA_DIR = "data"
DATABASE_FILE = "chatkit.db"
BUSY_TIMEOUT_SECONDS = 30.0

# Any fixed number: PostgreSQL processes opening the database at once queue on this lock.
_MIGRATION_LOCK_KEY = 0x63686174  # "chat"


def default_database_url(environ: Mapping[str, str] | None = None) -> str:
    """``CHATKIT_DATABASE_URL``, else a SQLite file ``chatkit.db`` in ``CHATKIT_DATA_DIR``.

    ``CHATKIT_DATA_DIR`` defaults to ``./data`` (git-ignored). The path is made absolute so
    the URL does not change meaning if the working folder does; the store creates the folder
    when it opens the database.
    """
    env = os.environ if environ is None else environ
    url = env.get(DATABASE_URL_ENV, "").strip()
    if url:
        return url
    folder = Path(env.get(DATA_DIR_ENV, "").strip() or DEFAULT_DATA_DIR).expanduser().absolute()
    return f"sqlite:///{(folder / DATABASE_FILE).as_posix()}"


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """One line of the saved-conversations list."""

    id: str
    title: str
    updated_at: str
    message_count: int
    owner: str | None


# -- schema ------------------------------------------------------------------------------------
# The tables as the queries below see them (the newest schema). Migrations never use these:
# each migration declares the tables as they were at its version, so replaying version 1 on a
# fresh database always builds version 1, whatever later versions add.

_tables = sa.MetaData()

schema_migrations = sa.Table(
    "schema_migrations",
    _tables,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("applied_at", sa.Text, nullable=False),
)

conversations = sa.Table(
    "conversations",
    _tables,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("system_prompt", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=True),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
)

messages = sa.Table(
    "messages",
    _tables,
    sa.Column("conversation_id", sa.Text, primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=True),
    sa.Column("reply", sa.Text, nullable=True),
    sa.Column("digest", sa.Text, nullable=False),
)


def _create_conversations_and_messages(conn: Connection) -> None:
    """Version 1: conversations, their messages (deleted with them), and the list's index.

    ``messages.digest`` chains a hash of every message up to and including that row, so a
    save can tell from the last stored row alone whether the stored rows are still a prefix
    of the conversation (see ``ConversationStore.save``).
    """
    schema = sa.MetaData()
    table = sa.Table(
        "conversations",
        schema,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("system_prompt", sa.Text, nullable=False),
        sa.Column("owner", sa.Text, nullable=True),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Index("ix_conversations_owner_updated_at", "owner", "updated_at"),
    )
    table.create(conn)
    sa.Table(
        "messages",
        schema,
        sa.Column(
            "conversation_id",
            sa.Text,
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("reply", sa.Text, nullable=True),
        sa.Column("digest", sa.Text, nullable=False),
    ).create(conn)


Migration = tuple[int, str, Callable[[Connection], None]]

# Append only: never edit or reorder an entry once it has shipped.
MIGRATIONS: Sequence[Migration] = (
    (1, "create conversations and messages", _create_conversations_and_messages),
)


# -- the store ---------------------------------------------------------------------------------


class ConversationStore:
    """Saved conversations in one database, safe to share between threads and processes."""

    def __init__(self, url: str) -> None:
        self._engine = _create_engine(url)
        self._shown_url = self._engine.url.render_as_string(hide_password=True)
        self._sqlite = self._engine.dialect.name == "sqlite"
        self._in_memory = isinstance(self._engine.pool, StaticPool)
        # SQLite allows one writer at a time; queueing this process's writers here spares
        # them SQLite's busy-wait sleeps. An in-memory database is one shared connection,
        # so every use of it takes the lock.
        self._lock = threading.Lock() if self._sqlite else None
        try:
            self._migrate()
        except ChatkitError:
            self._engine.dispose()
            raise

    @property
    def url(self) -> str:
        """The database URL, with any password hidden."""
        return self._shown_url

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for tools and tests that watch the SQL)."""
        return self._engine

    def close(self) -> None:
        """Close the pooled connections; the store must not be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> ConversationStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------
    def save(self, conversation: Conversation, owner: str | None = None) -> None:
        """Make the saved copy of ``conversation`` equal to it (creating it if new).

        ``owner`` is recorded when the conversation is first saved and kept afterwards: the
        caller decides who may write to a conversation (``owner_of``), the store never moves
        one between owners. Replies are saved without their request and response bodies.
        The list order (``updated_at``) changes only when something saved did change.

        The common case - a turn appended - inserts only the new messages. Otherwise (a
        regenerated reply, an edited or cleared conversation) the messages from the first
        one that differs are deleted and written again.
        """
        rows = _message_rows(conversation)
        now = _now()
        with self._errors("save the conversation"), self._transaction(write=True) as conn:
            _insert_if_missing(
                conn,
                {
                    "id": conversation.id,
                    "title": conversation.title,
                    "system_prompt": conversation.system_prompt,
                    "owner": owner,
                    "created_at": conversation.created_at,
                    "updated_at": now,
                },
            )
            stored = conn.execute(
                sa.select(conversations.c.title, conversations.c.system_prompt)
                .where(conversations.c.id == conversation.id)
                .with_for_update()
            ).one()
            keep, stored_more = _unchanged_prefix(conn, conversation.id, rows)
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
                or stored.title != conversation.title
                or stored.system_prompt != conversation.system_prompt
            )
            if changed:
                conn.execute(
                    sa.update(conversations)
                    .where(conversations.c.id == conversation.id)
                    .values(
                        title=conversation.title,
                        system_prompt=conversation.system_prompt,
                        updated_at=now,
                    )
                )

    def rename(self, conversation_id: str, title: str) -> bool:
        """Set a saved conversation's title; False if there is no such conversation.

        Renaming does not move the conversation up the list. Set the open ``Conversation``'s
        ``title`` too, or its next ``save`` writes the old title back.
        """
        with self._errors("rename the conversation"), self._transaction(write=True) as conn:
            result = conn.execute(
                sa.update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(title=title)
            )
            return result.rowcount > 0

    def delete(self, conversation_id: str) -> bool:
        """Delete a saved conversation and its messages; False if there was none."""
        with self._errors("delete the conversation"), self._transaction(write=True) as conn:
            # The foreign key cascades too; deleting explicitly also covers a database whose
            # foreign keys are switched off.
            conn.execute(sa.delete(messages).where(messages.c.conversation_id == conversation_id))
            result = conn.execute(
                sa.delete(conversations).where(conversations.c.id == conversation_id)
            )
            return result.rowcount > 0

    # -- reading -----------------------------------------------------------------------------
    def load(self, conversation_id: str) -> Conversation | None:
        """The saved conversation, or None if there is none with this id.

        A damaged record raises ``InvalidDocument`` rather than loading in part.
        """
        with self._errors("open the conversation"), self._transaction(write=False) as conn:
            head = conn.execute(
                sa.select(conversations).where(conversations.c.id == conversation_id)
            ).first()
            if head is None:
                return None
            rows = conn.execute(
                sa.select(messages)
                .where(messages.c.conversation_id == conversation_id)
                .order_by(messages.c.position)
            ).all()
        return _conversation_from_rows(head._mapping, [row._mapping for row in rows])

    def owner_of(self, conversation_id: str) -> str | None:
        """Who first saved the conversation; None if nobody in particular, or if it is not saved."""
        with self._errors("look up the conversation"), self._transaction(write=False) as conn:
            return conn.execute(
                sa.select(conversations.c.owner).where(conversations.c.id == conversation_id)
            ).scalar_one_or_none()

    def list(
        self, owner: str | None = None, *, include_all: bool = False
    ) -> builtins.list[ConversationSummary]:
        """Saved conversations, most recently changed first.

        ``include_all=True`` lists everyone's (a local, single-user app). Otherwise only the
        conversations saved with exactly this ``owner`` are listed, so in a hosted app one
        visitor never sees another's; ``owner=None`` then lists only the ownerless ones.
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
        with self._errors("list the saved conversations"), self._transaction(write=False) as conn:
            return [
                ConversationSummary(
                    id=row[0], title=row[1], updated_at=row[2], message_count=row[3], owner=row[4]
                )
                for row in conn.execute(query)
            ]

    # -- plumbing ----------------------------------------------------------------------------
    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Connection]:
        """One transaction; a write one takes SQLite's write lock up front (``BEGIN IMMEDIATE``).

        Taking it up front matters in WAL mode: a transaction that read first and then writes
        after another process committed fails at once instead of waiting its turn.
        """
        guard: AbstractContextManager[Any] = nullcontext()
        if self._lock is not None and (write or self._in_memory):
            guard = self._lock
        with guard, self._engine.connect() as conn:
            conn.execution_options(chatkit_write=write)
            with conn.begin():
                yield conn

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn a database failure into a ChatkitError saying what to check."""
        try:
            yield
        except sa_exc.SQLAlchemyError as exc:
            raise ChatkitError(
                f"Could not {action} at {self._shown_url}; check that "
                f"{DATABASE_URL_ENV} (or the folder in {DATA_DIR_ENV}) points at a database "
                f"this app can read and write."
            ) from exc

    def _migrate(self) -> None:
        """Apply, in order and each in its own transaction, the migrations not yet recorded."""
        with self._errors("open the conversation database"):
            applied = self._applied_versions()
            newest = max((version for version, _, _ in MIGRATIONS), default=0)
            if applied and max(applied) > newest:
                raise ChatkitError(
                    f"The conversation database {self._shown_url} was written by a newer "
                    f"chatkit (schema version {max(applied)}); update chatkit or point "
                    f"{DATABASE_URL_ENV} at another database."
                )
            if all(version in applied for version, _, _ in MIGRATIONS):
                return
            with self._transaction(write=True) as conn:
                _lock_for_migrations(conn)
                conn.execute(CreateTable(schema_migrations, if_not_exists=True))
            for version, name, apply in MIGRATIONS:
                if version not in applied:
                    self._apply(version, name, apply)

    def _apply(self, version: int, name: str, apply: Callable[[Connection], None]) -> None:
        try:
            with self._transaction(write=True) as conn:
                _lock_for_migrations(conn)
                recorded = conn.execute(
                    sa.select(schema_migrations.c.version).where(
                        schema_migrations.c.version == version
                    )
                ).first()
                if recorded is not None:
                    return  # another process applied it after we looked
                apply(conn)
                conn.execute(
                    sa.insert(schema_migrations).values(
                        version=version, name=name, applied_at=_now()
                    )
                )
        except sa_exc.DBAPIError:
            # Where the database cannot serialize migrations (neither SQLite's write lock nor
            # a PostgreSQL advisory lock), two processes can race: the loser's transaction
            # fails on the duplicate table or version. That is fine once the version is in.
            if version not in self._applied_versions():
                raise

    def _applied_versions(self) -> set[int]:
        with self._transaction(write=False) as conn:
            if not sa.inspect(conn).has_table(schema_migrations.name):
                return set()
            return set(conn.execute(sa.select(schema_migrations.c.version)).scalars())


# -- helpers -----------------------------------------------------------------------------------


def _now() -> str:
    # Microseconds, always UTC: these strings sort in time order.
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _create_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite, the folder is created and the file set up for sharing."""
    try:
        parsed = sa.make_url(url)
    except sa_exc.ArgumentError as exc:
        raise ChatkitError(
            f"{DATABASE_URL_ENV} is not a database URL "
            f"(expected something like sqlite:///data/chatkit.db or postgresql://...)."
        ) from exc
    options: dict[str, Any] = {}
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite:
        options["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS}
        if _is_sqlite_memory(parsed):
            # Every pooled connection to ":memory:" would be its own empty database.
            options["poolclass"] = StaticPool
        elif parsed.query.get("uri") != "true":
            _make_folder(Path(parsed.database or "").parent)
    else:
        options["pool_pre_ping"] = True
    try:
        engine = sa.create_engine(parsed, **options)
    except (sa_exc.ArgumentError, ImportError) as exc:
        raise ChatkitError(
            f"Could not use the conversation database "
            f"{parsed.render_as_string(hide_password=True)}: check {DATABASE_URL_ENV} "
            f"(the kind of database, and that its driver is installed)."
        ) from exc
    if is_sqlite:
        event.listen(engine, "connect", _set_up_sqlite_connection)
        event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _is_sqlite_memory(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ChatkitError(
            f"Could not create the folder {folder} for the conversation database; "
            f"check {DATA_DIR_ENV} or {DATABASE_URL_ENV}."
        ) from exc


def _set_up_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _begin_sqlite_transaction): the sqlite3 module's
    # own transaction handling leaves DDL outside transactions, so a migration could half-run.
    # https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#sqlite-transactions
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _enable_wal(cursor: Any, attempts: int = 200) -> None:
    """Switch the file to WAL. SQLite does not wait on its busy handler for this switch, so
    several first connections to a new file can get "database is locked" at once: retry."""
    for attempt in range(attempts):
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.01)


def _begin_sqlite_transaction(conn: Connection) -> None:
    immediate = conn.get_execution_options().get("chatkit_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _lock_for_migrations(conn: Connection) -> None:
    """Make concurrent openers of a PostgreSQL database take turns (SQLite already does)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})


def _insert_if_missing(conn: Connection, values: dict[str, Any]) -> None:
    """Insert the conversation row unless it exists, without racing a concurrent insert."""
    if conn.dialect.name == "sqlite":
        conn.execute(sqlite.insert(conversations).values(values).on_conflict_do_nothing())
    elif conn.dialect.name == "postgresql":
        conn.execute(postgresql.insert(conversations).values(values).on_conflict_do_nothing())
    else:
        exists = conn.execute(
            sa.select(conversations.c.id).where(conversations.c.id == values["id"])
        ).first()
        if exists is None:
            conn.execute(sa.insert(conversations).values(values))


def _message_rows(conversation: Conversation) -> list[dict[str, Any]]:
    """The conversation's messages as rows, each with the chained digest up to it."""
    rows = []
    digest = ""
    for position, message in enumerate(conversation.messages):
        info = conversation.replies.get(position)
        reply = (
            json.dumps(info.to_dict(), ensure_ascii=False, sort_keys=True)
            if info is not None
            else None
        )
        name = message.name or None
        record = json.dumps([message.role, message.content, name, reply], ensure_ascii=False)
        digest = hashlib.sha256(f"{digest}\n{record}".encode()).hexdigest()
        rows.append(
            {
                "conversation_id": conversation.id,
                "position": position,
                "role": message.role,
                "content": message.content,
                "name": name,
                "reply": reply,
                "digest": digest,
            }
        )
    return rows


def _unchanged_prefix(
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


def _conversation_from_rows(
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
    try:
        return Conversation.from_dict(document)
    except InvalidDocument as exc:
        raise InvalidDocument(
            f"The saved conversation {head['id']} is damaged: {exc.message}"
        ) from exc
