"""Finding saved conversations by their words, with the database's own full-text search.

SQLite: an FTS5 index over the messages (kept in step by triggers); PostgreSQL: a GIN index on
``to_tsvector('simple', content)``. Any other database, or a SQLite built without FTS5, falls
back to a plain ``LIKE``. Titles always match by ``LIKE`` too, so a word in a title is found.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chatkit.store.schema import conversations, messages

_WORD = re.compile(r"\w+", re.UNICODE)


def matching(conn: Connection, text: str) -> sa.ColumnElement[bool]:
    """A condition on ``conversations`` true for those whose title or messages hold every
    word of ``text`` (a word's beginning is enough in SQLite)."""
    words = _WORD.findall(text)
    if not words:
        return sa.true()
    title = sa.and_(*(conversations.c.title.ilike(f"%{word}%") for word in words))
    if conn.dialect.name == "postgresql":
        found = sa.select(messages.c.conversation_id).where(
            sa.func.to_tsvector(sa.literal_column("'simple'"), messages.c.content).op("@@")(
                sa.func.plainto_tsquery(sa.literal_column("'simple'"), " ".join(words))
            )
        )
    elif conn.dialect.name == "sqlite" and _search_table_exists(conn):
        query = " AND ".join('"' + word.replace('"', '""') + '"*' for word in words)
        found = sa.select(messages.c.conversation_id).where(
            sa.text(
                "messages.rowid IN (SELECT rowid FROM messages_search "
                "WHERE messages_search MATCH :search)"
            ).bindparams(search=query)
        )
    else:
        found = sa.select(messages.c.conversation_id).where(
            sa.and_(*(messages.c.content.ilike(f"%{word}%") for word in words))
        )
    return sa.or_(title, conversations.c.id.in_(found))


def _search_table_exists(conn: Connection) -> bool:
    return sa.inspect(conn).has_table("messages_search")
