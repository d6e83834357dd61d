"""Saved conversations and quotas, in a SQLite file by default or any SQLAlchemy database.

The door: ``ConversationStore`` (save, load, list, rename, delete), and where the database is
(``default_database_url``). Inside: ``engine`` (the database and its transactions), ``schema``
(tables and ordered migrations), ``rows`` (conversations as rows and back), ``quotas`` (the
hosted demo's counters, shared by every session and replica).
"""

from chatkit.store.conversations import ConversationStore, ConversationSummary
from chatkit.store.engine import (
    DATA_DIR_ENV,
    DATABASE_URL_ENV,
    Database,
    default_database_url,
)
from chatkit.store.quotas import Counter, Limit, QuotaStore, Refusal, Reservation
from chatkit.store.schema import MIGRATIONS

__all__ = [
    "DATABASE_URL_ENV",
    "DATA_DIR_ENV",
    "MIGRATIONS",
    "ConversationStore",
    "ConversationSummary",
    "Counter",
    "Database",
    "Limit",
    "QuotaStore",
    "Refusal",
    "Reservation",
    "default_database_url",
]
