"""Saved conversations, quotas and classes, in a SQLite file by default or any SQLAlchemy database.

The door: ``ConversationStore`` (save, load, list, rename, delete), ``ClassStore`` (classes,
their students and lesson progress), and where the database is (``default_database_url``).
Inside: ``engine`` (the database and its transactions), ``schema`` (tables and ordered
migrations), ``rows`` (conversations as rows and back), ``quotas`` (the hosted demo's
counters, shared by every session and replica), ``classes`` and ``class_rules`` (class codes,
display names, a class's end).
"""

from chatkit.store.class_rules import ClassJoinError
from chatkit.store.classes import (
    CheckOutcome,
    Classroom,
    ClassStore,
    LessonProgress,
    RosterRow,
    Student,
)
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
    "CheckOutcome",
    "ClassJoinError",
    "ClassStore",
    "Classroom",
    "ConversationStore",
    "ConversationSummary",
    "Counter",
    "Database",
    "LessonProgress",
    "Limit",
    "QuotaStore",
    "Refusal",
    "Reservation",
    "RosterRow",
    "Student",
    "default_database_url",
]
