"""Saved conversations, in a SQLite file by default or any SQLAlchemy database.

The door: ``ConversationStore`` (save, load, list, rename, delete), and where the database is
(``default_database_url``). Inside: ``engine`` (the database and its transactions), ``schema``
(tables and ordered migrations), ``rows`` (conversations as rows and back).
"""

from chatkit.store.conversations import ConversationStore, ConversationSummary
from chatkit.store.engine import (
    DATA_DIR_ENV,
    DATABASE_URL_ENV,
    Database,
    default_database_url,
)
from chatkit.store.schema import MIGRATIONS

__all__ = [
    "DATABASE_URL_ENV",
    "DATA_DIR_ENV",
    "MIGRATIONS",
    "ConversationStore",
    "ConversationSummary",
    "Database",
    "default_database_url",
]
