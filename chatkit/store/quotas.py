"""Quotas held in the database, so every session, tab and replica of the app shares them.

A counter is one row per (subject, period): calls made, tokens and money spent, and tokens
and money reserved by calls still running. ``reserve`` checks every limit and books a call in
one write transaction (SQLite's write lock, or PostgreSQL row locks), so two sessions of one
visitor cannot both spend the last of an allowance; ``settle`` replaces the reservation with
what the call really cost. A reservation never settled (the process died) stays counted: the
counters err on the side of the host.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

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
        keys = tuple(sorted((limit.subject, limit.period) for limit in limits))
        where = _key_params(keys)
        with self._database.errors("check the demo's allowance"):
            for attempt in _attempts():
                with attempt, self._database.transaction(write=True) as conn:
                    conn.execute(
                        _create_statement(conn.dialect.name),
                        [{"b_subject": s, "b_period": p, "b_now": now} for s, p in keys],
                    )
                    locked = conn.execute(_lock_statement(len(keys)), where)
                    counters = {
                        (c.subject, c.period): c for c in (_counter(r._mapping) for r in locked)
                    }
                    for limit in limits:
                        counter = counters[limit.subject, limit.period]
                        refusal = _check(limit, counter, tokens, cost_micros)
                        if refusal is not None:
                            return refusal
                    conn.execute(
                        _reserve_statement(len(keys)),
                        {**where, "b_tokens": tokens, "b_cost": cost_micros, "b_now": now},
                    )
        return Reservation(keys, tokens, cost_micros)

    def settle(self, reservation: Reservation, tokens: int, cost_micros: int = 0) -> None:
        """Replace what ``reservation`` booked with what the call really cost."""
        params = {
            **_key_params(reservation.counters),
            "b_tokens": tokens,
            "b_cost": cost_micros,
            "b_reserved_tokens": reservation.tokens,
            "b_reserved_cost": reservation.cost_micros,
            "b_now": utc_now(),
        }
        with self._database.errors("record what the call cost"):
            for attempt in _attempts():
                with attempt, self._database.transaction(write=True) as conn:
                    # Lock in the one order every transaction uses, then change: no deadlock.
                    conn.execute(_lock_statement(len(reservation.counters)), params)
                    conn.execute(_settle_statement(len(reservation.counters)), params)

    def counter(self, subject: str, period: str) -> Counter:
        """The counter as it stands (all zero if nothing was booked on it yet)."""
        with (
            self._database.errors("read the demo's allowance"),
            self._database.transaction(write=False) as conn,
        ):
            row = conn.execute(
                sa.select(quota_counters).where(
                    quota_counters.c.subject == subject, quota_counters.c.period == period
                )
            ).first()
        return _counter(row._mapping) if row is not None else Counter(subject, period)


RETRIES = 5


class _Attempt:
    """One try of a transaction; a deadlock or serialization failure (PostgreSQL aborts one
    of two transactions that wait on each other) is retried, anything else raised."""

    def __init__(self, last: bool) -> None:
        self.last = last
        self.failed = False

    def __enter__(self) -> _Attempt:
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, _tb: object) -> bool:
        code = getattr(getattr(error, "orig", None), "sqlstate", None)
        if isinstance(error, sa_exc.DBAPIError) and code in ("40P01", "40001") and not self.last:
            self.failed = True
            time.sleep(random.uniform(0.001, 0.02))
            return True  # swallowed: the next attempt runs
        return False


def _attempts() -> Iterator[_Attempt]:
    for number in range(RETRIES):
        attempt = _Attempt(last=number == RETRIES - 1)
        yield attempt
        if not attempt.failed:
            return


# The statements are built once per number of counters (they run on every call): their
# values are bound parameters s0/p0, s1/p1, ... for the counters' keys.


def _key_params(keys: Sequence[tuple[str, str]]) -> dict[str, str]:
    params: dict[str, str] = {}
    for number, (subject, period) in enumerate(keys):
        params[f"s{number}"], params[f"p{number}"] = subject, period
    return params


def _where(count: int) -> sa.ColumnElement[bool]:
    return sa.or_(
        *(
            sa.and_(
                quota_counters.c.subject == sa.bindparam(f"s{number}"),
                quota_counters.c.period == sa.bindparam(f"p{number}"),
            )
            for number in range(count)
        )
    )


@cache
def _create_statement(dialect_name: str) -> sa.Executable:
    """Create a counter at zero unless it exists (executed once per counter)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(quota_counters)
        .values(
            subject=sa.bindparam("b_subject"),
            period=sa.bindparam("b_period"),
            calls=0,
            tokens=0,
            reserved_tokens=0,
            cost_micros=0,
            reserved_cost_micros=0,
            updated_at=sa.bindparam("b_now"),
        )
        .on_conflict_do_nothing()
    )


@cache
def _lock_statement(count: int) -> sa.Select[Any]:
    return (
        sa.select(quota_counters)
        .where(_where(count))
        .order_by(quota_counters.c.subject, quota_counters.c.period)  # one lock order for all
        .with_for_update()
    )


@cache
def _reserve_statement(count: int) -> sa.Update:
    c = quota_counters.c
    return (
        sa.update(quota_counters)
        .where(_where(count))
        .values(
            calls=c.calls + 1,
            reserved_tokens=c.reserved_tokens + sa.bindparam("b_tokens"),
            reserved_cost_micros=c.reserved_cost_micros + sa.bindparam("b_cost"),
            updated_at=sa.bindparam("b_now"),
        )
    )


@cache
def _settle_statement(count: int) -> sa.Update:
    c = quota_counters.c
    return (
        sa.update(quota_counters)
        .where(_where(count))
        .values(
            tokens=c.tokens + sa.bindparam("b_tokens"),
            reserved_tokens=c.reserved_tokens - sa.bindparam("b_reserved_tokens"),
            cost_micros=c.cost_micros + sa.bindparam("b_cost"),
            reserved_cost_micros=c.reserved_cost_micros - sa.bindparam("b_reserved_cost"),
            updated_at=sa.bindparam("b_now"),
        )
    )


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
