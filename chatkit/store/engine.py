"""The database under the stores: an engine for any SQLAlchemy URL, set up for sharing.

A SQLite file (the default, ``./data/chatkit.db``) is opened for several threads and processes
at once: WAL mode, a busy timeout, foreign keys on, and write transactions that take SQLite's
write lock up front (``BEGIN IMMEDIATE``). Any other URL (PostgreSQL) is used as it is, with
pooled connections checked before use.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import StaticPool

from chatkit.errors import ChatkitError

DATABASE_URL_ENV = "CHATKIT_DATABASE_URL"
DATA_DIR_ENV = "CHATKIT_DATA_DIR"
DEFAULT_DATA_DIR = "data"
DATABASE_FILE = "chatkit.db"
BUSY_TIMEOUT_SECONDS = 30.0


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


def utc_now() -> str:
    """The time as stored: microseconds, always UTC, so these strings sort in time order."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Database:
    """One database: its engine, its transactions, and its failures as plain sentences."""

    def __init__(self, url: str) -> None:
        self.engine = _create_engine(url)
        self.shown_url = self.engine.url.render_as_string(hide_password=True)
        self.dialect = self.engine.dialect.name
        self._in_memory = isinstance(self.engine.pool, StaticPool)
        # SQLite allows one writer at a time; queueing this process's writers here spares
        # them SQLite's busy-wait sleeps. An in-memory database is one shared connection,
        # so every use of it takes the lock.
        self._lock = threading.Lock() if self.dialect == "sqlite" else None

    def close(self) -> None:
        """Close the pooled connections; the database must not be used afterwards."""
        self.engine.dispose()

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Connection]:
        """One transaction; a write one takes SQLite's write lock up front (``BEGIN IMMEDIATE``).

        Taking it up front matters in WAL mode: a transaction that read first and then writes
        after another process committed fails at once instead of waiting its turn.
        """
        guard: AbstractContextManager[Any] = nullcontext()
        if self._lock is not None and (write or self._in_memory):
            guard = self._lock
        with guard, self.engine.connect() as conn:
            conn.execution_options(chatkit_write=write)
            with conn.begin():
                yield conn

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Turn a database failure into a ChatkitError saying what to check."""
        try:
            yield
        except sa_exc.SQLAlchemyError as exc:
            raise ChatkitError(
                f"Could not {action} at {self.shown_url}; check that "
                f"{DATABASE_URL_ENV} (or the folder in {DATA_DIR_ENV}) points at a database "
                f"this app can read and write."
            ) from exc


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
