"""ClassStore: classes, students and lesson progress, on a SQLite file and a real PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc

import chatkit.store.classes as classes_module
from chatkit.conversation import Conversation
from chatkit.errors import ChatkitError
from chatkit.store import (
    MIGRATIONS,
    ClassJoinError,
    Classroom,
    ClassStore,
    ConversationStore,
    Student,
)
from chatkit.store import schema as schema_module
from chatkit.store.class_rules import CODE_ALPHABET
from chatkit.store.schema import lesson_progress, students

TEACHER = "user:teacher@example.org"


@dataclass(frozen=True)
class Result:
    """What a lesson's check returns, as far as the store reads it."""

    passed: bool
    sentence: str


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh SQLite file, and a fresh database of a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'chatkit.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def conversations(url: str) -> Iterator[ConversationStore]:
    with ConversationStore(url) as opened:
        yield opened


@pytest.fixture
def store(conversations: ConversationStore) -> ClassStore:
    return ClassStore(conversations.database)


@pytest.fixture
def room(store: ClassStore) -> Classroom:
    return store.create_class("Multi-turn conversations", created_by=TEACHER)


def _passed_at(store: ConversationStore, student_id: str, lesson: int) -> str | None:
    with store.database.transaction(write=False) as conn:
        return conn.execute(
            sa.select(lesson_progress.c.passed_at).where(
                lesson_progress.c.student_id == student_id, lesson_progress.c.lesson == lesson
            )
        ).scalar_one()


# -- classes -----------------------------------------------------------------------------------


def test_a_new_class_has_a_short_unambiguous_code_and_starts_at_lesson_one(
    store: ClassStore, room: Classroom
) -> None:
    assert len(room.code) == 6 and set(room.code) <= set(CODE_ALPHABET)
    assert not set(room.code) & set("0O1IL")
    assert (room.title, room.created_by, room.ends_at) == (
        "Multi-turn conversations",
        TEACHER,
        None,
    )
    assert (room.current_lesson, room.locked, room.lesson_version) == (1, False, 0)
    assert room.share_transcripts is False
    assert store.get_class(room.id) == room


def test_a_code_is_found_however_it_is_typed(store: ClassStore, room: Classroom) -> None:
    typed = f"  {room.code[:3].lower()} {room.code[3:].lower()} "
    assert store.class_by_code(typed) == room
    assert store.class_by_code(f"{room.code[:3]}-{room.code[3:]}") == room
    assert store.class_by_code("ZZZZZZ" if room.code != "ZZZZZZ" else "YYYYYY") is None
    assert store.get_class("no-such-id") is None
    assert store.class_by_code("AB\x00CDE") is None


def test_a_code_another_class_has_is_drawn_again(
    store: ClassStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = iter(["ABCDEF", "ABCDEF", "ABCDEF", "GHJKMN"])
    monkeypatch.setattr(classes_module, "class_code", lambda: next(drawn))
    first = store.create_class("First", created_by=TEACHER)
    second = store.create_class("Second", created_by=TEACHER)
    assert (first.code, second.code) == ("ABCDEF", "GHJKMN")
    assert store.class_by_code("abcdef") == first


def test_an_end_time_is_kept_in_utc_and_a_bad_one_is_a_sentence(store: ClassStore) -> None:
    local = store.create_class("Evening", created_by=TEACHER, ends_at="2030-06-30T17:00:00+02:00")
    assert local.ends_at == "2030-06-30T15:00:00.000000+00:00"
    naive = store.create_class("Naive", created_by=TEACHER, ends_at=datetime(2030, 1, 1, 9))
    assert naive.ends_at == "2030-01-01T09:00:00.000000+00:00"
    assert store.get_class(local.id) == local
    with pytest.raises(ChatkitError, match="not a date and time"):
        store.create_class("Bad", created_by=TEACHER, ends_at="next tuesday")


def test_classes_by_lists_a_teachers_own_classes_newest_first(store: ClassStore) -> None:
    older = store.create_class("Monday", created_by=TEACHER, share_transcripts=True)
    newer = store.create_class("Tuesday", created_by=TEACHER)
    store.create_class("Someone else's", created_by="user:other@example.org")
    assert store.classes_by(TEACHER) == [newer, older]
    assert older.share_transcripts is True
    assert store.classes_by("user:nobody@example.org") == []


def test_bring_to_moves_the_class_and_raises_its_lesson_version(
    store: ClassStore, room: Classroom
) -> None:
    moved = store.bring_to(room.id, 3)
    assert (moved.current_lesson, moved.lesson_version) == (3, 1)
    again = store.bring_to(room.id, 3)
    assert (again.current_lesson, again.lesson_version) == (3, 2)
    assert store.get_class(room.id) == again
    assert store.join(room.code, "Late Lucy", "browser:late").lesson == 3


def test_set_locked_locks_and_unlocks(store: ClassStore, room: Classroom) -> None:
    assert store.set_locked(room.id, True).locked is True
    assert store.get_class(room.id).locked is True  # type: ignore[union-attr]
    unlocked = store.set_locked(room.id, False)
    assert unlocked.locked is False and unlocked.lesson_version == room.lesson_version


def test_changing_a_class_that_does_not_exist_is_a_sentence(store: ClassStore) -> None:
    with pytest.raises(ChatkitError, match="no longer exists"):
        store.bring_to("no-such-id", 2)
    with pytest.raises(ChatkitError, match="no longer exists"):
        store.set_locked("no-such-id", True)
    with pytest.raises(ValueError):
        store.bring_to("no-such-id", 0)


# -- joining -----------------------------------------------------------------------------------


def test_joining_makes_a_student_of_this_browser(store: ClassStore, room: Classroom) -> None:
    alice = store.join(room.code.lower(), "  Alice  ", "browser:a")
    assert isinstance(alice, Student)
    assert (alice.class_id, alice.display_name, alice.owner, alice.lesson) == (
        room.id,
        "Alice",
        "browser:a",
        1,
    )
    assert store.student_of("browser:a") == alice
    assert store.student_of("browser:a", room.id) == alice
    assert store.student_of("browser:b") is None
    other = store.create_class("Other", created_by=TEACHER)
    assert store.student_of("browser:a", other.id) is None


def test_joining_again_from_the_same_browser_gives_the_same_student(
    store: ClassStore, room: Classroom
) -> None:
    alice = store.join(room.code, "Alice", "browser:a")
    store.set_lesson(alice.id, 4)
    seen = store.roster(room.id)[0].last_seen_at
    again = store.join(room.code, "Someone else entirely", "browser:a")
    assert (again.id, again.display_name, again.lesson) == (alice.id, "Alice", 4)
    assert store.join(room.code, "", "browser:a").id == alice.id
    [row] = store.roster(room.id)
    assert row.last_seen_at > seen


def test_student_of_without_a_class_is_the_class_last_seen_in(store: ClassStore) -> None:
    monday = store.create_class("Monday", created_by=TEACHER)
    tuesday = store.create_class("Tuesday", created_by=TEACHER)
    store.join(monday.code, "Alice", "browser:a")
    on_tuesday = store.join(tuesday.code, "Alice", "browser:a")
    assert store.student_of("browser:a") == on_tuesday
    on_monday = store.join(monday.code, "Alice", "browser:a")
    assert store.student_of("browser:a") == on_monday


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("ZZZZZ2", "There is no class with the code ZZZZZ2; check the code on the board"),
        ("   ", "Type the class code from the board"),
        ("AB\x00CD", "There is no class with the code"),
    ],
)
def test_a_wrong_code_is_one_sentence(store: ClassStore, code: str, says: str) -> None:
    with pytest.raises(ClassJoinError, match=says):
        store.join(code, "Alice", "browser:a")


def test_an_ended_class_cannot_be_joined(store: ClassStore) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    ended = store.create_class("Yesterday", created_by=TEACHER, ends_at=past)
    with pytest.raises(ClassJoinError, match="'Yesterday' has ended; ask your teacher"):
        store.join(ended.code, "Alice", "browser:a")
    future = datetime.now(UTC) + timedelta(hours=1)
    running = store.create_class("Today", created_by=TEACHER, ends_at=future.isoformat())
    assert store.join(running.code, "Alice", "browser:a").class_id == running.id


@pytest.mark.parametrize("taken", ["Alice", "alice", "  ALICE ", "Ａｌｉｃｅ"])
def test_a_name_taken_in_the_class_is_one_sentence(
    store: ClassStore, room: Classroom, taken: str
) -> None:
    store.join(room.code, "Alice", "browser:a")
    with pytest.raises(ClassJoinError, match=r"already goes by .*add an initial"):
        store.join(room.code, taken, "browser:b")
    other = store.create_class("Other class", created_by=TEACHER)
    assert store.join(other.code, taken, "browser:b").display_name == taken.strip()


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("", "Type a display name"),
        ("   ", "Type a display name"),
        ("x" * 41, "41 characters long; use at most 40"),
        ("Al\nice", "line breaks or other control characters"),
        ("Al\x00ice", "control characters"),
        ("Bob\u202eecilA", "control characters"),
    ],
)
def test_a_bad_display_name_is_one_sentence(
    store: ClassStore, room: Classroom, name: str, says: str
) -> None:
    with pytest.raises(ClassJoinError, match=says):
        store.join(room.code, name, "browser:a")
    assert store.roster(room.id) == []


def test_names_up_to_forty_characters_and_any_script_are_welcome(
    store: ClassStore, room: Classroom
) -> None:
    for owner, name in enumerate(["x" * 40, "Zoë", "李雷", "👩🏽‍🔬 Ada"]):
        assert store.join(room.code, name, f"browser:{owner}").display_name == name


def test_the_database_itself_refuses_a_second_student_with_a_name(
    conversations: ConversationStore, store: ClassStore, room: Classroom
) -> None:
    alice = store.join(room.code, "Alice", "browser:a")
    row = {
        "id": "another",
        "class_id": room.id,
        "display_name": "ALICE",
        "name_key": "alice",
        "owner": "browser:b",
        "joined_at": alice.joined_at,
        "last_seen_at": alice.joined_at,
        "lesson": 1,
    }
    for clash in ({}, {"id": "third", "name_key": "bob", "owner": "browser:a"}):
        with (
            pytest.raises(sa_exc.IntegrityError),
            conversations.database.transaction(write=True) as conn,
        ):
            conn.execute(sa.insert(students).values({**row, **clash}))


def _join_at_once(store: ClassStore, code: str, owners: list[str]) -> tuple[list, list]:
    start = threading.Barrier(len(owners))
    joined: list[Student] = []
    refused: list[BaseException] = []

    def join(owner: str) -> None:
        start.wait()
        try:
            joined.append(store.join(code, "Alice", owner))
        except BaseException as exc:  # asserted on by the test
            refused.append(exc)

    threads = [threading.Thread(target=join, args=(owner,)) for owner in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return joined, refused


def test_ten_browsers_taking_one_name_at_once_one_wins(
    url: str, conversations: ConversationStore, room: Classroom
) -> None:
    # Each browser through its own ConversationStore, as separate replicas would be.
    replicas = [ConversationStore(url) for _ in range(10)]
    try:
        joined: list[Student] = []
        refused: list[BaseException] = []
        start = threading.Barrier(10)

        def join(number: int) -> None:
            start.wait()
            try:
                joined.append(
                    ClassStore(replicas[number].database).join(room.code, "Alice", f"b:{number}")
                )
            except BaseException as exc:  # asserted on below
                refused.append(exc)

        threads = [threading.Thread(target=join, args=(n,)) for n in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for replica in replicas:
            replica.close()
    assert len(joined) == 1 and len(refused) == 9
    assert all(isinstance(e, ClassJoinError) and "already goes by" in str(e) for e in refused)
    roster = ClassStore(conversations.database).roster(room.id)
    assert [row.student for row in roster] == joined


def test_one_browser_joining_from_ten_tabs_at_once_is_one_student(
    store: ClassStore, room: Classroom
) -> None:
    joined, refused = _join_at_once(store, room.code, ["browser:a"] * 10)
    assert refused == []
    assert len({student.id for student in joined}) == 1
    assert len(store.roster(room.id)) == 1


# -- progress ----------------------------------------------------------------------------------


def test_a_passed_lesson_stays_passed_and_keeps_when_it_passed(
    conversations: ConversationStore, store: ClassStore, room: Classroom
) -> None:
    alice = store.join(room.code, "Alice", "browser:a")
    store.record_check(alice.id, 2, Result(False, "The second request did not carry turn 1."))
    failed = store.progress(alice.id)[2]
    assert (failed.passed, failed.attempts) == (False, 1)
    assert failed.sentence == "The second request did not carry turn 1."
    assert _passed_at(conversations, alice.id, 2) is None

    store.record_check(alice.id, 2, Result(True, "Passed: the history went with it."))
    passed = store.progress(alice.id)[2]
    assert (passed.passed, passed.attempts, passed.sentence) == (
        True,
        2,
        "Passed: the history went with it.",
    )
    first_pass = _passed_at(conversations, alice.id, 2)
    assert first_pass is not None and first_pass == passed.updated_at

    store.record_check(alice.id, 2, Result(False, "This time it forgot."))
    later = store.progress(alice.id)[2]
    assert (later.passed, later.attempts, later.sentence) == (True, 3, "This time it forgot.")
    assert later.updated_at > passed.updated_at
    assert _passed_at(conversations, alice.id, 2) == first_pass


def test_progress_is_by_lesson_and_per_student(store: ClassStore, room: Classroom) -> None:
    alice = store.join(room.code, "Alice", "browser:a")
    bob = store.join(room.code, "Bob", "browser:b")
    store.record_check(alice.id, 1, Result(True, "Passed: it forgot."))
    store.record_check(alice.id, 3, Result(False, "No previous_response_id."))
    assert sorted(store.progress(alice.id)) == [1, 3]
    assert store.progress(bob.id) == {}
    assert store.progress("no-such-student") == {}


def test_a_check_and_a_lesson_change_mark_the_student_as_seen(
    store: ClassStore, room: Classroom
) -> None:
    alice = store.join(room.code, "Alice", "browser:a")
    joined_seen = store.roster(room.id)[0].last_seen_at
    store.record_check(alice.id, 1, Result(True, "Passed."))
    checked_seen = store.roster(room.id)[0].last_seen_at
    assert checked_seen > joined_seen
    store.set_lesson(alice.id, 5)
    [row] = store.roster(room.id)
    assert row.student.lesson == 5 and row.last_seen_at > checked_seen
    assert store.student_of("browser:a") == row.student


def test_writing_for_a_student_who_is_not_there_is_a_sentence(store: ClassStore) -> None:
    with pytest.raises(ChatkitError, match="no longer in the class"):
        store.set_lesson("no-such-student", 2)
    with pytest.raises(ChatkitError, match="no longer in the class"):
        store.record_check("no-such-student", 2, Result(True, "Passed."))
    with pytest.raises(ValueError):
        store.set_lesson("no-such-student", 0)


# -- the roster --------------------------------------------------------------------------------


class Statements:
    """Counts the SQL statements an engine runs."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            self.seen.append(statement)


def test_the_roster_is_in_join_order_with_progress_in_two_queries(
    conversations: ConversationStore, store: ClassStore, room: Classroom
) -> None:
    names = [f"Student {n}" for n in range(12)]
    joined = [store.join(room.code, name, f"browser:{name}") for name in names]
    for number, student in enumerate(joined):
        store.record_check(student.id, 1, Result(True, "Passed."))
        if number % 3 == 0:
            store.record_check(student.id, 2, Result(False, f"Wrong for {number}."))
    store.join(store.create_class("Other", created_by=TEACHER).code, "Elsewhere", "browser:x")

    log = Statements()
    event.listen(conversations.engine, "before_cursor_execute", log)
    try:
        roster = store.roster(room.id)
    finally:
        event.remove(conversations.engine, "before_cursor_execute", log)
    assert len(log.seen) <= 2
    assert [row.student for row in roster] == joined
    assert all(row.progress[1].passed for row in roster)
    assert roster[3].progress[2].sentence == "Wrong for 3."
    assert 2 not in roster[1].progress
    assert all(row.last_seen_at >= row.student.joined_at for row in roster)


def test_an_empty_class_has_an_empty_roster(store: ClassStore, room: Classroom) -> None:
    assert store.roster(room.id) == []
    assert store.roster("no-such-class") == []


# -- migrating an existing database ------------------------------------------------------------


def test_a_database_from_before_classes_gains_them_and_keeps_its_conversations(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every migration but the classes' (the later ones change the conversations table this
    # version of the store writes).
    before_classes = tuple(m for m in MIGRATIONS if m[1] != "classes, students and lesson progress")
    with monkeypatch.context() as patch:
        patch.setattr(schema_module, "MIGRATIONS", before_classes)
        with ConversationStore(url) as old:
            conversation = Conversation(system_prompt="Be brief.")
            conversation.add_user("My name is Alice.")
            conversation.add_assistant("Hello, Alice!")
            old.save(conversation, owner="browser:a")
            assert not sa.inspect(old.engine).has_table("classes")
    with ConversationStore(url) as upgraded:
        with upgraded.database.transaction(write=False) as conn:
            versions = conn.execute(sa.text("SELECT version FROM schema_migrations")).scalars()
            assert sorted(versions) == [version for version, _, _ in MIGRATIONS]
        assert upgraded.load(conversation.id) == conversation
        assert [s.id for s in upgraded.list("browser:a", search="Alice")] == [conversation.id]
        classes = ClassStore(upgraded.database)
        room = classes.create_class("After the upgrade", created_by=TEACHER)
        alice = classes.join(room.code, "Alice", "browser:a")
        classes.record_check(alice.id, 1, Result(True, "Passed."))
        assert classes.roster(room.id)[0].progress[1].passed
