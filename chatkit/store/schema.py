"""The tables, and the ordered migrations that build them.

``migrate(database)`` applies, in order and each in its own transaction, the migrations a
database has not recorded yet. Append to ``MIGRATIONS`` only: never edit or reorder an entry
once it has shipped. Several processes opening a database at once take turns (SQLite's write
lock, a PostgreSQL advisory lock).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateTable

from chatkit.errors import ChatkitError
from chatkit.store.engine import DATABASE_URL_ENV, Database, utc_now

# Any fixed number: PostgreSQL processes opening the database at once queue on this lock.
_MIGRATION_LOCK_KEY = 0x63686174  # "chat"

# The tables as the queries see them (the newest schema). Migrations never use these: each
# migration declares the tables as they were at its version, so replaying version 1 on a
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
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("visitor", sa.Text, nullable=True),
    sa.Column("chars", sa.BigInteger, nullable=False),
    sa.Column("forks", sa.Text, nullable=True),
    sa.Column("settings", sa.Text, nullable=True),
    sa.Column("extra_calls", sa.Text, nullable=True),
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
    sa.Column("in_context", sa.Text, nullable=True),
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


quota_counters = sa.Table(
    "quota_counters",
    _tables,
    sa.Column("subject", sa.Text, primary_key=True),
    sa.Column("period", sa.Text, primary_key=True),
    sa.Column("calls", sa.Integer, nullable=False),
    sa.Column("tokens", sa.BigInteger, nullable=False),
    sa.Column("reserved_tokens", sa.BigInteger, nullable=False),
    sa.Column("cost_micros", sa.BigInteger, nullable=False),
    sa.Column("reserved_cost_micros", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
)


def _add_versions_visitors_and_quotas(conn: Connection) -> None:
    """Version 2: each conversation's version (saves that would overwrite newer turns from
    another tab are refused), the visitor who made it and its size (hosted caps), and the
    quota counters (per visitor and for the host, per day and per minute)."""
    for column in (
        "version INTEGER NOT NULL DEFAULT 0",
        "visitor TEXT",
        "chars BIGINT NOT NULL DEFAULT 0",
    ):
        conn.execute(sa.text(f"ALTER TABLE conversations ADD COLUMN {column}"))
    conn.execute(
        sa.text(
            "UPDATE conversations SET chars = (SELECT COALESCE(SUM(LENGTH(content)), 0) "
            "FROM messages WHERE messages.conversation_id = conversations.id)"
        )
    )
    conn.execute(sa.text("CREATE INDEX ix_conversations_visitor ON conversations (visitor)"))
    schema = sa.MetaData()
    sa.Table(
        "quota_counters",
        schema,
        sa.Column("subject", sa.Text, primary_key=True),
        sa.Column("period", sa.Text, primary_key=True),
        sa.Column("calls", sa.Integer, nullable=False, server_default="0"),
        sa.Column("tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("reserved_tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cost_micros", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("reserved_cost_micros", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.Text, nullable=False),
    ).create(conn)


def _add_branches_and_settings(conn: Connection) -> None:
    """Version 3: each conversation's other versions (branches, as JSON) and the settings it
    was had with (provider, mode, model, trimming), restored when it is opened."""
    for column in ("forks TEXT", "settings TEXT"):
        conn.execute(sa.text(f"ALTER TABLE conversations ADD COLUMN {column}"))


def _add_extra_calls(conn: Connection) -> None:
    """Version 6: the calls made for a conversation outside its turns (a summary asked for on
    the Summary page), as JSON, so that its totals count them."""
    conn.execute(sa.text("ALTER TABLE conversations ADD COLUMN extra_calls TEXT"))


def has_fts5(conn: Connection) -> bool:
    """True when this SQLite has the FTS5 extension (almost every build does)."""
    options = conn.exec_driver_sql("PRAGMA compile_options").scalars().all()
    return "ENABLE_FTS5" in options


def _add_search_index(conn: Connection) -> None:
    """Version 4: full-text search over message text (FTS5 in SQLite, GIN in PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.text(
                "CREATE INDEX ix_messages_search ON messages "
                "USING GIN (to_tsvector('simple', content))"
            )
        )
    elif conn.dialect.name == "sqlite" and has_fts5(conn):
        for statement in (
            "CREATE VIRTUAL TABLE messages_search USING fts5("
            "content, content='messages', content_rowid='rowid', tokenize='unicode61')",
            "CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN "
            "INSERT INTO messages_search(rowid, content) VALUES (new.rowid, new.content); END",
            "CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN "
            "INSERT INTO messages_search(messages_search, rowid, content) "
            "VALUES ('delete', old.rowid, old.content); END",
            "CREATE TRIGGER messages_search_update AFTER UPDATE ON messages BEGIN "
            "INSERT INTO messages_search(messages_search, rowid, content) "
            "VALUES ('delete', old.rowid, old.content); "
            "INSERT INTO messages_search(rowid, content) VALUES (new.rowid, new.content); END",
            "INSERT INTO messages_search(messages_search) VALUES ('rebuild')",
        ):
            conn.exec_driver_sql(statement)


classes = sa.Table(
    "classes",
    _tables,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("code", sa.Text, nullable=False, unique=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("ends_at", sa.Text, nullable=True),
    sa.Column("share_transcripts", sa.Boolean, nullable=False),
    sa.Column("current_lesson", sa.Integer, nullable=False),
    sa.Column("locked", sa.Boolean, nullable=False),
    sa.Column("lesson_version", sa.Integer, nullable=False),
)

students = sa.Table(
    "students",
    _tables,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("class_id", sa.Text, nullable=False),
    sa.Column("display_name", sa.Text, nullable=False),
    sa.Column("name_key", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("joined_at", sa.Text, nullable=False),
    sa.Column("last_seen_at", sa.Text, nullable=False),
    sa.Column("lesson", sa.Integer, nullable=False),
)

lesson_progress = sa.Table(
    "lesson_progress",
    _tables,
    sa.Column("student_id", sa.Text, primary_key=True),
    sa.Column("lesson", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("sentence", sa.Text, nullable=False),
    sa.Column("passed_at", sa.Text, nullable=True),
    sa.Column("updated_at", sa.Text, nullable=False),
)


def _add_classes_students_and_progress(conn: Connection) -> None:
    """Version 5: classes (a teacher's, joined with a short code), their students (one per
    browser or login), and each student's checks per lesson.

    The database itself keeps a display name to one student per class (``name_key``, the name
    casefolded, is unique within the class) and a browser to one membership per class, so two
    replicas taking the same name at the same moment cannot both succeed.
    """
    schema = sa.MetaData()
    sa.Table(
        "classes",
        schema,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("ends_at", sa.Text, nullable=True),
        sa.Column("share_transcripts", sa.Boolean, nullable=False),
        sa.Column("current_lesson", sa.Integer, nullable=False),
        sa.Column("locked", sa.Boolean, nullable=False),
        sa.Column("lesson_version", sa.Integer, nullable=False),
        sa.UniqueConstraint("code", name="uq_classes_code"),
        sa.Index("ix_classes_created_by_created_at", "created_by", "created_at"),
    ).create(conn)
    sa.Table(
        "students",
        schema,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column(
            "class_id",
            sa.Text,
            sa.ForeignKey("classes.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("name_key", sa.Text, nullable=False),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("joined_at", sa.Text, nullable=False),
        sa.Column("last_seen_at", sa.Text, nullable=False),
        sa.Column("lesson", sa.Integer, nullable=False),
        sa.UniqueConstraint("class_id", "name_key", name="uq_students_class_name"),
        sa.UniqueConstraint("class_id", "owner", name="uq_students_class_owner"),
        sa.Index("ix_students_class_joined_at", "class_id", "joined_at"),
        sa.Index("ix_students_owner_last_seen_at", "owner", "last_seen_at"),
    ).create(conn)
    sa.Table(
        "lesson_progress",
        schema,
        sa.Column(
            "student_id",
            sa.Text,
            sa.ForeignKey("students.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("lesson", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("sentence", sa.Text, nullable=False),
        sa.Column("passed_at", sa.Text, nullable=True),
        sa.Column("updated_at", sa.Text, nullable=False),
    ).create(conn)


def _add_message_context_choices(conn: Connection) -> None:
    """Version 7: each message's context choice (``pinned`` or ``left_out``; NULL: trimming
    decides)."""
    conn.execute(sa.text("ALTER TABLE messages ADD COLUMN in_context TEXT"))


Migration = tuple[int, str, Callable[[Connection], None]]

# Append only: never edit or reorder an entry once it has shipped.
MIGRATIONS: Sequence[Migration] = (
    (1, "create conversations and messages", _create_conversations_and_messages),
    (
        2,
        "conversation versions, visitors and sizes; quota counters",
        _add_versions_visitors_and_quotas,
    ),
    (3, "conversation branches and settings", _add_branches_and_settings),
    (4, "full-text search over messages", _add_search_index),
    (5, "classes, students and lesson progress", _add_classes_students_and_progress),
    (6, "calls made beside the turns", _add_extra_calls),
    (7, "pinned and left-out messages", _add_message_context_choices),
)


def migrate(database: Database) -> None:
    """Apply, in order and each in its own transaction, the migrations not yet recorded."""
    with database.errors("open the conversation database"):
        applied = _applied_versions(database)
        newest = max((version for version, _, _ in MIGRATIONS), default=0)
        if applied and max(applied) > newest:
            raise ChatkitError(
                f"The conversation database {database.shown_url} was written by a newer "
                f"chatkit (schema version {max(applied)}); update chatkit or point "
                f"{DATABASE_URL_ENV} at another database."
            )
        if all(version in applied for version, _, _ in MIGRATIONS):
            return
        with database.transaction(write=True) as conn:
            _lock_for_migrations(conn)
            conn.execute(CreateTable(schema_migrations, if_not_exists=True))
        for version, name, apply in MIGRATIONS:
            if version not in applied:
                _apply(database, version, name, apply)


def _apply(
    database: Database, version: int, name: str, apply: Callable[[Connection], None]
) -> None:
    try:
        with database.transaction(write=True) as conn:
            _lock_for_migrations(conn)
            recorded = conn.execute(
                sa.select(schema_migrations.c.version).where(schema_migrations.c.version == version)
            ).first()
            if recorded is not None:
                return  # another process applied it after we looked
            apply(conn)
            conn.execute(
                sa.insert(schema_migrations).values(
                    version=version, name=name, applied_at=utc_now()
                )
            )
    except sa_exc.DBAPIError:
        # Where the database cannot serialize migrations (neither SQLite's write lock nor
        # a PostgreSQL advisory lock), two processes can race: the loser's transaction
        # fails on the duplicate table or version. That is fine once the version is in.
        if version not in _applied_versions(database):
            raise


def _applied_versions(database: Database) -> set[int]:
    with database.transaction(write=False) as conn:
        if not sa.inspect(conn).has_table(schema_migrations.name):
            return set()
        return set(conn.execute(sa.select(schema_migrations.c.version)).scalars())


def _lock_for_migrations(conn: Connection) -> None:
    """Make concurrent openers of a PostgreSQL database take turns (SQLite already does)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
