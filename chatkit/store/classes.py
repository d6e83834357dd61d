"""Classes, their students and each student's lesson checks, shared by every replica.

A teacher creates a ``Classroom`` and gets a short code; a student joins with the code and a
display name, once per browser or login (``owner``): joining again from the same owner gives
back the same ``Student``, which is how reload, another tab and another replica keep progress.
The database keeps a name to one student per class, so two replicas taking it at the same
moment cannot both succeed. ``record_check`` keeps, per student and lesson, whether the check
ever passed, how many times it ran, and its latest sentence; ``roster`` is the teacher's view.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cache
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from chatkit.errors import ChatkitError
from chatkit.store.class_rules import (
    ClassJoinError,
    class_code,
    has_ended,
    name_key,
    normal_code,
    utc_time,
    valid_name,
)
from chatkit.store.engine import Database, utc_now
from chatkit.store.rows import storable
from chatkit.store.schema import classes, lesson_progress, students

CODE_ATTEMPTS = 20
JOIN_ATTEMPTS = 3


@dataclass(frozen=True)
class Classroom:
    """A class as the teacher made it, and where the teacher has brought it."""

    id: str
    code: str
    title: str
    created_by: str
    created_at: str
    ends_at: str | None
    share_transcripts: bool
    current_lesson: int
    locked: bool
    lesson_version: int  # raised by every ``bring_to``, so open sessions notice the move


@dataclass(frozen=True)
class Student:
    """One browser's (or login's) membership of one class."""

    id: str
    class_id: str
    display_name: str
    owner: str
    joined_at: str
    lesson: int  # the lesson the student has open


@dataclass(frozen=True)
class LessonProgress:
    """A student's checks on one lesson: passed once stays passed; the sentence is the latest."""

    lesson: int
    passed: bool
    attempts: int
    sentence: str
    updated_at: str


@dataclass(frozen=True)
class RosterRow:
    """One line of the teacher's roster."""

    student: Student
    progress: Mapping[int, LessonProgress]
    last_seen_at: str


_Value = TypeVar("_Value", Classroom, Student, LessonProgress)


class CheckOutcome(Protocol):
    """What ``record_check`` reads from a check's result (``chatkit.lessons.CheckResult``)."""

    @property
    def passed(self) -> bool: ...

    @property
    def sentence(self) -> str: ...


class ClassStore:
    """Classes, students and progress, in the same database as the conversations."""

    def __init__(self, database: Database) -> None:
        self._database = database

    # -- classes -----------------------------------------------------------------------------
    def create_class(
        self,
        title: str,
        *,
        created_by: str,
        ends_at: str | datetime | None = None,
        share_transcripts: bool = False,
    ) -> Classroom:
        """A new class with a fresh code (drawn again if another class has it)."""
        values: dict[str, Any] = {
            "title": storable(title.strip()) or "Class",
            "created_by": created_by,
            "created_at": utc_now(),
            "ends_at": None if ends_at is None else utc_time(ends_at),
            "share_transcripts": share_transcripts,
            "current_lesson": 1,
            "locked": False,
            "lesson_version": 0,
        }
        with self._database.errors("create the class"):
            for _ in range(CODE_ATTEMPTS):
                values.update(id=secrets.token_urlsafe(16), code=class_code())
                try:
                    with self._database.transaction(write=True) as conn:
                        conn.execute(sa.insert(classes).values(values))
                except sa_exc.IntegrityError:
                    if self.class_by_code(values["code"]) is None:
                        raise  # not the code: a real failure
                    continue
                return Classroom(**values)
        raise ChatkitError("Could not find a free class code; try creating the class again.")

    def class_by_code(self, code: str) -> Classroom | None:
        """The class with this code, however it was typed (case and spaces aside)."""
        return self._one_class(classes.c.code == storable(normal_code(code)))

    def get_class(self, class_id: str) -> Classroom | None:
        """The class with this id, or None."""
        return self._one_class(classes.c.id == class_id)

    def classes_by(self, created_by: str) -> list[Classroom]:
        """The classes this teacher created, newest first."""
        query = (
            sa.select(classes)
            .where(classes.c.created_by == created_by)
            .order_by(classes.c.created_at.desc(), classes.c.id)
        )
        with (
            self._database.errors("list the classes"),
            self._database.transaction(write=False) as conn,
        ):
            return [_value(Classroom, row._mapping) for row in conn.execute(query)]

    def bring_to(self, class_id: str, lesson: int) -> Classroom:
        """Move the class to ``lesson``; ``lesson_version`` goes up so open sessions follow."""
        _check_lesson(lesson)
        return self._update_class(
            class_id,
            "bring the class to the lesson",
            current_lesson=lesson,
            lesson_version=classes.c.lesson_version + 1,
        )

    def set_locked(self, class_id: str, locked: bool) -> Classroom:
        """Lock the class to its current lesson, or unlock it."""
        return self._update_class(class_id, "lock or unlock the class", locked=locked)

    # -- students ----------------------------------------------------------------------------
    def join(self, code: str, display_name: str, owner: str) -> Student:
        """Join the class with this code as ``display_name``; the same ``owner`` joining again
        gets its existing Student back (its name unchanged). Raises ClassJoinError for an
        unknown code, an ended class, a bad name, or a name another student has taken."""
        with self._database.errors("join the class"):
            for _ in range(JOIN_ATTEMPTS - 1):
                try:
                    return self._join_once(code, display_name, owner)
                except sa_exc.IntegrityError:
                    # Another join took the name (or this owner joined in another tab) between
                    # our look and our insert: the next look sees it.
                    continue
            return self._join_once(code, display_name, owner)

    def _join_once(self, code: str, display_name: str, owner: str) -> Student:
        with self._database.transaction(write=True) as conn:
            return self._join(conn, code, display_name, owner)

    def _join(self, conn: Connection, code: str, display_name: str, owner: str) -> Student:
        now, typed = utc_now(), storable(normal_code(code))
        if not typed:
            raise ClassJoinError("Type the class code from the board to join the class.")
        row = conn.execute(sa.select(classes).where(classes.c.code == typed)).first()
        if row is None:
            raise ClassJoinError(
                f"There is no class with the code {typed}; check the code on the board and "
                f"type it again."
            )
        classroom = _value(Classroom, row._mapping)
        if has_ended(classroom.ends_at, now):
            raise ClassJoinError(
                f"The class {classroom.title!r} has ended; ask your teacher for a new code."
            )
        # One statement, so one snapshot: under PostgreSQL's READ COMMITTED, two lookups could
        # straddle another tab's join and see its name taken but not its owner.
        key = storable(name_key(display_name))
        found = conn.execute(
            sa.select(students).where(
                students.c.class_id == classroom.id,
                sa.or_(students.c.owner == owner, students.c.name_key == key),
            )
        ).all()
        mine = next((row for row in found if row.owner == owner), None)
        if mine is not None:
            conn.execute(
                sa.update(students).where(students.c.id == mine.id).values(last_seen_at=now)
            )
            return _value(Student, mine._mapping)
        name = valid_name(display_name)
        if found:
            raise ClassJoinError(
                f"Someone in this class already goes by {name!r}; add an initial or choose "
                f"another name."
            )
        values = {
            "id": secrets.token_urlsafe(16),
            "class_id": classroom.id,
            "display_name": name,
            "name_key": name_key(name),
            "owner": owner,
            "joined_at": now,
            "last_seen_at": now,
            "lesson": classroom.current_lesson,
        }
        conn.execute(sa.insert(students).values(values))
        return _value(Student, values)

    def student_of(self, owner: str, class_id: str | None = None) -> Student | None:
        """This browser's membership of the class (or, without ``class_id``, of the class it
        was last seen in, ended or not), or None if it has not joined."""
        query = sa.select(students).where(students.c.owner == owner)
        if class_id is not None:
            query = query.where(students.c.class_id == class_id)
        query = query.order_by(
            students.c.last_seen_at.desc(), students.c.joined_at.desc(), students.c.id
        ).limit(1)
        with (
            self._database.errors("look up the class membership"),
            self._database.transaction(write=False) as conn,
        ):
            row = conn.execute(query).first()
        return None if row is None else _value(Student, row._mapping)

    def set_lesson(self, student_id: str, lesson: int) -> None:
        """Record the lesson the student has open."""
        _check_lesson(lesson)
        with (
            self._database.errors("record the student's lesson"),
            self._database.transaction(write=True) as conn,
        ):
            _touch(conn, student_id, utc_now(), lesson=lesson)

    def record_check(self, student_id: str, lesson: int, result: CheckOutcome) -> None:
        """Record one run of a lesson's check: a lesson once passed stays passed (and keeps
        when it first passed); the attempts count up and the sentence is the latest one."""
        _check_lesson(lesson)
        now = utc_now()
        values = {
            "student_id": student_id,
            "lesson": lesson,
            "passed": bool(result.passed),
            "attempts": 1,
            "sentence": storable(result.sentence),
            "passed_at": now if result.passed else None,
            "updated_at": now,
        }
        with (
            self._database.errors("record the lesson's check"),
            self._database.transaction(write=True) as conn,
        ):
            _touch(conn, student_id, now)
            conn.execute(_upsert_progress(conn.dialect.name), values)

    def progress(self, student_id: str) -> dict[int, LessonProgress]:
        """The student's checks, by lesson number (empty if none ran yet)."""
        query = (
            sa.select(lesson_progress)
            .where(lesson_progress.c.student_id == student_id)
            .order_by(lesson_progress.c.lesson)
        )
        with (
            self._database.errors("read the student's progress"),
            self._database.transaction(write=False) as conn,
        ):
            return {row.lesson: _value(LessonProgress, row._mapping) for row in conn.execute(query)}

    def roster(self, class_id: str) -> list[RosterRow]:
        """The class's students in the order they joined, each with their checks (two
        queries, however many students)."""
        members = (
            sa.select(students)
            .where(students.c.class_id == class_id)
            .order_by(students.c.joined_at, students.c.id)
        )
        checks = (
            sa.select(lesson_progress)
            .join(students, students.c.id == lesson_progress.c.student_id)
            .where(students.c.class_id == class_id)
            .order_by(lesson_progress.c.student_id, lesson_progress.c.lesson)
        )
        with (
            self._database.errors("read the class roster"),
            self._database.transaction(write=False) as conn,
        ):
            rows = [row._mapping for row in conn.execute(members)]
            found: dict[str, dict[int, LessonProgress]] = {row["id"]: {} for row in rows}
            for check in conn.execute(checks):
                found[check.student_id][check.lesson] = _value(LessonProgress, check._mapping)
        return [
            RosterRow(_value(Student, row), found[row["id"]], row["last_seen_at"]) for row in rows
        ]

    # -- helpers -----------------------------------------------------------------------------
    def _one_class(self, where: sa.ColumnElement[bool]) -> Classroom | None:
        with (
            self._database.errors("look up the class"),
            self._database.transaction(write=False) as conn,
        ):
            row = conn.execute(sa.select(classes).where(where)).first()
        return None if row is None else _value(Classroom, row._mapping)

    def _update_class(self, class_id: str, action: str, **values: Any) -> Classroom:
        with self._database.errors(action), self._database.transaction(write=True) as conn:
            conn.execute(sa.update(classes).where(classes.c.id == class_id).values(**values))
            row = conn.execute(sa.select(classes).where(classes.c.id == class_id)).first()
        if row is None:
            raise ChatkitError("That class no longer exists; create a new one.")
        return _value(Classroom, row._mapping)


def _check_lesson(lesson: int) -> None:
    if isinstance(lesson, bool) or not isinstance(lesson, int) or lesson < 1:
        raise ValueError(f"lesson numbers start at 1, not {lesson!r}")


def _touch(conn: Connection, student_id: str, now: str, **values: Any) -> None:
    """Mark the student as seen now (with any other changes), or say they are gone."""
    result = conn.execute(
        sa.update(students).where(students.c.id == student_id).values(last_seen_at=now, **values)
    )
    if result.rowcount == 0:
        raise ChatkitError(
            "This student is no longer in the class; join it again with the class code."
        )


@cache
def _upsert_progress(dialect_name: str) -> sa.Executable:
    """Insert a lesson's first check, or fold a later one into its row, in one statement."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(lesson_progress)
    stored, new = lesson_progress.c, statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[stored.student_id, stored.lesson],
        set_={
            "passed": sa.or_(stored.passed, new.passed),
            "attempts": stored.attempts + 1,
            "sentence": new.sentence,
            "passed_at": sa.func.coalesce(
                stored.passed_at, sa.case((new.passed, new.updated_at), else_=None)
            ),
            "updated_at": new.updated_at,
        },
    )


def _value(kind: type[_Value], row: Mapping[str, Any]) -> _Value:
    """A Classroom, Student or LessonProgress from its row (which may hold more columns)."""
    return kind(**{field.name: row[field.name] for field in fields(kind)})
