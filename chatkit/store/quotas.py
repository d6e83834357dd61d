"""Quotas held in the database, so every session, tab and replica of the app shares them.

A counter is one row per (subject, period): calls made, tokens and money spent, and tokens
and money reserved by calls still running. ``reserve`` checks every limit and books a call in
one write transaction (SQLite's write lock, or PostgreSQL row locks), so two sessions of one
visitor cannot both spend the last of an allowance; ``settle`` replaces the reservation with
what the call really cost. A reservation never settled (the process died) stays counted: the
counters err on the side of the host.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from chatkit.store.engine import Database, utc_now
from chatkit.store.schema import quota_counters


@dataclass(frozen=True)
class Limit:
    """The limits of one counter; ``None`` is no limit on that measure."""

    subject: str
    period: str
    calls: int | None = None
    tokens: int | None = None
    cost_micros: int | None = None


@dataclass(frozen=True)
class Counter:
    """One counter as stored: what was spent, and what running calls have reserved."""

    subject: str
    period: str
    calls: int = 0
    tokens: int = 0
    reserved_tokens: int = 0
    cost_micros: int = 0
    reserved_cost_micros: int = 0

    @property
    def committed_tokens(self) -> int:
        return self.tokens + self.reserved_tokens

    @property
    def committed_cost_micros(self) -> int:
        return self.cost_micros + self.reserved_cost_micros


@dataclass(frozen=True)
class Reservation:
    """What one call booked on which counters, to be settled when the call ends."""

    counters: tuple[tuple[str, str], ...]
    tokens: int
    cost_micros: int


@dataclass(frozen=True)
class Refusal:
    """Why a call was not booked: the limit it would break, and the counter as it stood."""

    limit: Limit
    measure: str  # "calls", "tokens" or "cost_micros"
    counter: Counter
    needed: int


class QuotaStore:
    """Counters for hosted-demo quotas, in the same database as the conversations."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def reserve(
        self, limits: Sequence[Limit], tokens: int, cost_micros: int = 0
    ) -> Reservation | Refusal:
        """Book one call of up to ``tokens`` (and ``cost_micros``) on every counter in
        ``limits``, or refuse without booking anything if any limit would be broken."""
        now = utc_now()
        with (
            self._database.errors("check the demo's allowance"),
            self._database.transaction(write=True) as conn,
        ):
            counters = [self._locked(conn, limit, now) for limit in limits]
            for limit, counter in zip(limits, counters, strict=True):
                refusal = _check(limit, counter, tokens, cost_micros)
                if refusal is not None:
                    return refusal
            for limit in limits:
                conn.execute(
                    sa.update(quota_counters)
                    .where(_key(limit.subject, limit.period))
                    .values(
                        calls=quota_counters.c.calls + 1,
                        reserved_tokens=quota_counters.c.reserved_tokens + tokens,
                        reserved_cost_micros=quota_counters.c.reserved_cost_micros + cost_micros,
                        updated_at=now,
                    )
                )
        keys = tuple((limit.subject, limit.period) for limit in limits)
        return Reservation(keys, tokens, cost_micros)

    def settle(self, reservation: Reservation, tokens: int, cost_micros: int = 0) -> None:
        """Replace what ``reservation`` booked with what the call really cost."""
        now = utc_now()
        with (
            self._database.errors("record what the call cost"),
            self._database.transaction(write=True) as conn,
        ):
            for subject, period in reservation.counters:
                conn.execute(
                    sa.update(quota_counters)
                    .where(_key(subject, period))
                    .values(
                        tokens=quota_counters.c.tokens + tokens,
                        reserved_tokens=quota_counters.c.reserved_tokens - reservation.tokens,
                        cost_micros=quota_counters.c.cost_micros + cost_micros,
                        reserved_cost_micros=quota_counters.c.reserved_cost_micros
                        - reservation.cost_micros,
                        updated_at=now,
                    )
                )

    def counter(self, subject: str, period: str) -> Counter:
        """The counter as it stands (all zero if nothing was booked on it yet)."""
        with (
            self._database.errors("read the demo's allowance"),
            self._database.transaction(write=False) as conn,
        ):
            row = conn.execute(sa.select(quota_counters).where(_key(subject, period))).first()
        return _counter(row._mapping) if row is not None else Counter(subject, period)

    @staticmethod
    def _locked(conn: Connection, limit: Limit, now: str) -> Counter:
        """The counter for ``limit``, created if missing and locked for this transaction."""
        values = {
            "subject": limit.subject,
            "period": limit.period,
            "calls": 0,
            "tokens": 0,
            "reserved_tokens": 0,
            "cost_micros": 0,
            "reserved_cost_micros": 0,
            "updated_at": now,
        }
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(quota_counters).values(values).on_conflict_do_nothing())
        row = conn.execute(
            sa.select(quota_counters).where(_key(limit.subject, limit.period)).with_for_update()
        ).one()
        return _counter(row._mapping)


def _key(subject: str, period: str) -> sa.ColumnElement[bool]:
    return sa.and_(quota_counters.c.subject == subject, quota_counters.c.period == period)


def _counter(row: object) -> Counter:
    values = dict(row)  # type: ignore[call-overload]
    values.pop("updated_at", None)
    return Counter(**values)


def _check(limit: Limit, counter: Counter, tokens: int, cost_micros: int) -> Refusal | None:
    if limit.calls is not None and counter.calls + 1 > limit.calls:
        return Refusal(limit, "calls", counter, 1)
    if limit.tokens is not None and counter.committed_tokens + tokens > limit.tokens:
        return Refusal(limit, "tokens", counter, tokens)
    if (
        limit.cost_micros is not None
        and counter.committed_cost_micros + cost_micros > limit.cost_micros
    ):
        return Refusal(limit, "cost_micros", counter, cost_micros)
    return None
