"""ConversationStore: saved conversations in a real SQLite file, shared by threads and processes."""

from __future__ import annotations

import base64
import inspect
import json
import re
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlalchemy.engine import Engine

from chatkit.conversation import Conversation, ReplyInfo
from chatkit.errors import ChatkitError, InvalidDocument
from chatkit.messages import Message
from chatkit.store import (
    MIGRATIONS,
    ConversationStore,
    ConversationSummary,
    default_database_url,
)
from chatkit.store.rows import storable

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "chatkit.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, db_path: Path) -> Iterator[ConversationStore]:
    """A store on a fresh SQLite file, and on a fresh database of a real PostgreSQL server."""
    if request.param == "sqlite":
        url = f"sqlite:///{db_path}"
    else:
        url = request.getfixturevalue("postgres_url")
    with ConversationStore(url) as opened:
        yield opened


@pytest.fixture
def sqlite_store(db_path: Path) -> Iterator[ConversationStore]:
    """A store on a SQLite file the test also reads directly."""
    with ConversationStore(f"sqlite:///{db_path}") as opened:
        yield opened


def _dropped_from(conversation: Conversation, position: int) -> Conversation:
    """A copy ending before ``position``, what followed dropped (no version kept): the
    largest change a save can meet."""
    head, _ = conversation.branch.cut(position)
    copy = conversation.copy()
    copy.messages, copy.replies = list(head.messages), dict(head.replies)
    copy.forks = {i: f for i, f in head.forks.items() if i < position}
    return copy


def without_last_reply(conversation: Conversation) -> Conversation:
    return _dropped_from(conversation, conversation.trailing_replies_start())


def without_last_turn(conversation: Conversation) -> Conversation:
    start = conversation.trailing_replies_start()
    if start and conversation.messages[start - 1].role == "user":
        start -= 1
    return _dropped_from(conversation, start)


def _alice(**kwargs: Any) -> Conversation:
    conversation = Conversation(system_prompt="You are a friendly tutor.", **kwargs)
    conversation.add_user("My name is Alice")
    conversation.add_assistant(
        "Nice to meet you, Alice!",
        ReplyInfo(provider="openai", model="gpt-4o-mini", input_tokens=12, output_tokens=7),
    )
    conversation.add_user("What is my name?")
    conversation.add_assistant(
        "Your name is Alice!",
        ReplyInfo(provider="openai", model="gpt-4o-mini", input_tokens=30, output_tokens=6),
    )
    return conversation


def _without_bodies(replies: dict[int, ReplyInfo]) -> dict[int, ReplyInfo]:
    return {k: replace(v, request_body=None, response_body=None) for k, v in replies.items()}


class StatementLog:
    """The rows each SQL statement touched, as seen by the engine's cursor."""

    def __init__(self) -> None:
        self.rows: Counter[tuple[str, str]] = Counter()

    def __call__(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        words = statement.split()
        verb = words[0].upper()
        table = {"INSERT": 2, "DELETE": 2, "UPDATE": 1}.get(verb)
        if table is not None:
            self.rows[verb, words[table].strip('"')] += len(parameters) if executemany else 1

    def count(self, verb: str, table: str) -> int:
        return self.rows[verb, table]


@contextmanager
def watching(target: Engine | type[Engine]) -> Iterator[StatementLog]:
    log = StatementLog()
    event.listen(target, "before_cursor_execute", log)
    try:
        yield log
    finally:
        event.remove(target, "before_cursor_execute", log)


def _sql(db_path: Path, query: str, *params: Any) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(db_path)
    try:
        with connection:
            return connection.execute(query, params).fetchall()
    finally:
        connection.close()


# -- round trip --------------------------------------------------------------------------------


def test_a_saved_conversation_loads_back_equal(store: ConversationStore) -> None:
    conversation = _alice()
    store.save(conversation)
    assert store.load(conversation.id) == conversation


def test_unicode_names_and_summary_messages_survive(store: ConversationStore) -> None:
    conversation = Conversation(system_prompt="Réponds en français 🇫🇷\nligne deux")
    conversation.add_user("Ünïcödé ☃ — 日本語 — emoji 🧑‍🚀 — NUL \x00 inside")
    conversation.add_assistant("D'accord ✓", ReplyInfo(note="« cité »", cached_input_tokens=0))
    conversation.add(Message("system", "Summary of earlier turns: 🐍"))
    conversation.add({"role": "user", "content": "named", "name": "bob"})
    store.save(conversation)
    loaded = store.load(conversation.id)
    # PostgreSQL cannot store NUL in text: every backend keeps it as U+FFFD.
    expected = conversation.copy()
    expected.messages[0] = Message("user", "Ünïcödé ☃ — 日本語 — emoji 🧑‍🚀 — NUL \ufffd inside")
    expected.title = expected.title.replace("\x00", "\ufffd")
    assert loaded == expected
    assert loaded is not None and loaded.replies[1].cached_input_tokens == 0
    store.save(loaded)  # the loaded copy is what is saved: nothing to write
    assert store.load(conversation.id).version == loaded.version


def test_replies_are_saved_without_their_bodies(store: ConversationStore) -> None:
    conversation = Conversation()
    conversation.add_user("hi")
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    conversation.add_assistant("hello", ReplyInfo(model="m", request_body=body, response_body={}))
    store.save(conversation)
    loaded = store.load(conversation.id)
    assert loaded is not None
    assert loaded.replies == {1: ReplyInfo(model="m")}


def test_calls_made_beside_the_turns_are_saved_without_their_bodies(
    store: ConversationStore,
) -> None:
    conversation = _alice()
    store.save(conversation)
    summary = ReplyInfo(model="m", input_tokens=30, output_tokens=5, request_body={"model": "m"})
    conversation.extra_calls.append(summary)
    store.save(conversation)
    loaded = store.load(conversation.id)
    assert loaded is not None and loaded.extra_calls == [summary.without_bodies()]
    assert loaded.version == conversation.version == 2  # the call alone made a new version


def test_an_unknown_id_loads_as_none(store: ConversationStore) -> None:
    assert store.load("no-such-conversation") is None
    assert store.owner_of("no-such-conversation") is None


def test_a_new_store_on_the_same_file_loads_what_another_saved(db_path: Path) -> None:
    conversation = _alice()
    with ConversationStore(f"sqlite:///{db_path}") as first:
        first.save(conversation, owner="alice")
    with ConversationStore(f"sqlite:///{db_path}") as second:
        assert second.load(conversation.id) == conversation
        assert second.owner_of(conversation.id) == "alice"


def test_another_process_reads_and_writes_the_same_file(db_path: Path) -> None:
    conversation = _alice()
    with ConversationStore(f"sqlite:///{db_path}") as store:
        store.save(conversation)
    script = (
        "import json, sys\n"
        "from chatkit.store import ConversationStore\n"
        "from chatkit.conversation import Conversation\n"
        "store = ConversationStore(sys.argv[1])\n"
        "print(json.dumps(store.load(sys.argv[2]).to_dict()))\n"
        "reply = Conversation(id=sys.argv[3])\n"
        "reply.add_user('written by process ' + sys.argv[3])\n"
        "store.save(reply)\n"
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, f"sqlite:///{db_path}", conversation.id, f"child-{n}"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        assert Conversation.from_dict(json.loads(out)) == conversation
    with ConversationStore(f"sqlite:///{db_path}") as store:
        for n in range(2):
            loaded = store.load(f"child-{n}")
            assert loaded is not None
            assert loaded.messages == [Message("user", f"written by process child-{n}")]


# -- efficient saves ---------------------------------------------------------------------------


def test_appending_a_turn_inserts_only_the_new_messages(store: ConversationStore) -> None:
    conversation = _alice()
    for n in range(3):
        conversation.add_user(f"question {n}")
        conversation.add_assistant(f"answer {n}")
    store.save(conversation)
    conversation.add_user("one more")
    conversation.add_assistant("and its answer")
    with watching(store.engine) as log:
        store.save(conversation)
    assert log.count("INSERT", "messages") == 2
    assert log.count("DELETE", "messages") == 0
    assert store.load(conversation.id) == conversation


def test_saving_an_unchanged_conversation_writes_nothing(store: ConversationStore) -> None:
    older, newer = _alice(), _alice()
    store.save(older)
    store.save(newer)
    with watching(store.engine) as log:
        store.save(older)
    assert log.count("INSERT", "messages") == 0
    assert log.count("DELETE", "messages") == 0
    assert log.count("UPDATE", "conversations") == 0
    # ... so an old conversation merely re-saved keeps its place in the list.
    assert [item.id for item in store.list()] == [newer.id, older.id]


def test_regenerate_rewrites_only_the_last_reply(store: ConversationStore) -> None:
    conversation = _alice()
    store.save(conversation)
    regenerated = without_last_reply(conversation)
    regenerated.add_assistant("You are Alice.", ReplyInfo(model="other", output_tokens=3))
    with watching(store.engine) as log:
        store.save(regenerated)
    assert log.count("DELETE", "messages") == 1
    assert log.count("INSERT", "messages") == 1
    assert store.load(conversation.id) == regenerated


def test_regenerating_the_same_text_still_saves_the_new_reply_info(
    store: ConversationStore,
) -> None:
    conversation = _alice()
    store.save(conversation)
    regenerated = without_last_reply(conversation)
    regenerated.add_assistant("Your name is Alice!", ReplyInfo(model="other", stopped=True))
    store.save(regenerated)
    loaded = store.load(conversation.id)
    assert loaded is not None
    assert loaded.replies[3] == ReplyInfo(model="other", stopped=True)


def test_edit_and_resend_rewrites_from_the_edited_message(store: ConversationStore) -> None:
    conversation = _alice()
    store.save(conversation)
    edited = without_last_turn(conversation)
    edited.add_user("What is my name, please?")
    with watching(store.engine) as log:
        store.save(edited)
    assert log.count("INSERT", "messages") == 1
    assert store.load(conversation.id) == edited
    assert store.list()[0].message_count == 3


def test_clear_removes_every_message_but_keeps_the_prompt(store: ConversationStore) -> None:
    conversation = _alice()
    store.save(conversation)
    conversation.clear()
    store.save(conversation)
    loaded = store.load(conversation.id)
    assert loaded == conversation
    assert loaded is not None and loaded.messages == [] and loaded.system_prompt


def test_a_rebuilt_conversation_ending_like_the_old_one_is_saved_whole(
    store: ConversationStore,
) -> None:
    # Same length and same last message as what is stored, different earlier messages:
    # looking at the last stored row alone would wrongly skip the write.
    conversation = Conversation()
    conversation.add_user("first")
    conversation.add_assistant("one")
    conversation.add_user("same ending")
    store.save(conversation)
    conversation.clear()
    conversation.add_user("another start")
    conversation.add_assistant("two", ReplyInfo(model="m"))
    conversation.add_user("same ending")
    store.save(conversation)
    assert store.load(conversation.id) == conversation


def test_system_prompt_and_title_changes_are_saved(store: ConversationStore) -> None:
    conversation = _alice()
    store.save(conversation)
    conversation.system_prompt = "Answer like a pirate."
    conversation.title = "Pirate Alice"
    store.save(conversation)
    loaded = store.load(conversation.id)
    assert loaded is not None
    assert (loaded.system_prompt, loaded.title) == ("Answer like a pirate.", "Pirate Alice")


# -- listing and owners ------------------------------------------------------------------------


def test_the_list_is_newest_first_with_titles_and_counts(store: ConversationStore) -> None:
    first, second, third = _alice(), _alice(), Conversation()
    third.add_user("Third conversation")
    for conversation in (first, second, third):
        store.save(conversation)
    first.add_user("bumped")
    store.save(first)
    listed = store.list()
    assert [item.id for item in listed] == [first.id, third.id, second.id]
    assert listed[0] == ConversationSummary(
        id=first.id,
        title="My name is Alice",
        updated_at=listed[0].updated_at,
        message_count=5,
        owner=None,
    )
    assert listed[1].message_count == 1
    assert listed[0].updated_at > listed[1].updated_at > listed[2].updated_at


def test_owners_never_see_each_others_lists(store: ConversationStore) -> None:
    alices, bobs, nobodys = _alice(), _alice(), _alice()
    store.save(alices, owner="user:alice@example.com")
    store.save(bobs, owner="user:bob@example.com")
    store.save(nobodys)
    assert [c.id for c in store.list("user:alice@example.com")] == [alices.id]
    assert [c.id for c in store.list("user:bob@example.com")] == [bobs.id]
    assert [c.id for c in store.list("user:eve@example.com")] == []
    # owner=None without include_all lists only conversations saved without an owner.
    assert [c.id for c in store.list()] == [nobodys.id]
    assert {c.id for c in store.list(include_all=True)} == {alices.id, bobs.id, nobodys.id}
    assert {c.id for c in store.list("user:alice@example.com", include_all=True)} == {
        alices.id,
        bobs.id,
        nobodys.id,
    }
    assert store.owner_of(alices.id) == "user:alice@example.com"
    assert store.owner_of(nobodys.id) is None


def test_a_later_save_keeps_the_first_owner(store: ConversationStore) -> None:
    conversation = _alice()
    store.save(conversation, owner="session:a")
    conversation.add_user("continued in another browser session")
    store.save(conversation, owner="session:b")
    assert store.owner_of(conversation.id) == "session:a"
    assert store.list("session:b") == []
    loaded = store.load(conversation.id)
    assert loaded is not None and loaded.messages[-1].content.startswith("continued")


def test_rename_changes_the_title_and_says_whether_it_found_one(
    store: ConversationStore,
) -> None:
    conversation = _alice()
    store.save(conversation)
    assert store.rename(conversation.id, "Names") is True
    assert store.rename("missing", "Nothing") is False
    loaded = store.load(conversation.id)
    assert loaded is not None and loaded.title == "Names"
    assert store.list()[0].title == "Names"


def test_delete_removes_the_conversation_and_its_messages(
    sqlite_store: ConversationStore, db_path: Path
) -> None:
    kept, deleted = _alice(), _alice()
    sqlite_store.save(kept)
    sqlite_store.save(deleted)
    assert sqlite_store.delete(deleted.id) is True
    assert sqlite_store.delete(deleted.id) is False
    assert sqlite_store.load(deleted.id) is None
    assert [item.id for item in sqlite_store.list()] == [kept.id]
    assert _sql(db_path, "SELECT count(*) FROM messages WHERE conversation_id = ?", deleted.id) == [
        (0,)
    ]
    # Saving the same id again starts from nothing: no old message comes back.
    fresh = Conversation(id=deleted.id)
    fresh.add_user("starting over")
    sqlite_store.save(fresh)
    assert sqlite_store.load(deleted.id) == fresh


# -- migrations --------------------------------------------------------------------------------


def test_a_fresh_database_records_each_migration(
    sqlite_store: ConversationStore, db_path: Path
) -> None:
    recorded = _sql(db_path, "SELECT version, name, applied_at FROM schema_migrations")
    assert [(version, name) for version, name, _ in recorded] == [
        (version, name) for version, name, _ in MIGRATIONS
    ]
    assert recorded[0][:2] == (1, "create conversations and messages")
    assert re.match(r"\d{4}-\d\d-\d\dT", recorded[0][2])


def test_a_conversation_saved_before_extra_calls_loads_and_gains_them(db_path: Path) -> None:
    url = f"sqlite:///{db_path}"
    conversation = _alice()
    with ConversationStore(url) as store:
        store.save(conversation)
    with sqlite3.connect(db_path) as db:  # the database as chatkit left it before version 6
        db.execute("ALTER TABLE conversations DROP COLUMN extra_calls")
        db.execute("DELETE FROM schema_migrations WHERE version = 6")
    with ConversationStore(url) as upgraded:
        loaded = upgraded.load(conversation.id)
        assert loaded == conversation and loaded.extra_calls == []
        loaded.extra_calls.append(ReplyInfo(model="m", input_tokens=3, output_tokens=1))
        upgraded.save(loaded)
    with ConversationStore(url) as reopened:
        assert reopened.load(conversation.id).extra_calls == loaded.extra_calls


def test_reopening_does_not_run_migrations_again(
    sqlite_store: ConversationStore, db_path: Path
) -> None:
    before = _sql(db_path, "SELECT * FROM schema_migrations")
    with watching(Engine) as log, ConversationStore(f"sqlite:///{db_path}"):
        pass
    assert log.count("INSERT", "schema_migrations") == 0
    assert _sql(db_path, "SELECT * FROM schema_migrations") == before


def test_many_threads_opening_a_fresh_database_at_once_migrate_it_once(db_path: Path) -> None:
    url = f"sqlite:///{db_path}"
    start = threading.Barrier(6)
    opened: list[ConversationStore] = []
    failures: list[BaseException] = []

    def open_store() -> None:
        start.wait()
        try:
            opened.append(ConversationStore(url))
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert [row[0] for row in _sql(db_path, "SELECT version FROM schema_migrations")] == [
        version for version, _, _ in MIGRATIONS
    ]
    for store in opened:
        conversation = _alice()
        store.save(conversation)
        assert store.load(conversation.id) == conversation
        store.close()


def test_a_database_from_a_newer_chatkit_is_refused(db_path: Path) -> None:
    ConversationStore(f"sqlite:///{db_path}").close()
    _sql(db_path, "INSERT INTO schema_migrations VALUES (99, 'from the future', 'now')")
    with pytest.raises(ChatkitError, match="newer chatkit"):
        ConversationStore(f"sqlite:///{db_path}")


# -- threads -----------------------------------------------------------------------------------


def test_concurrent_saves_from_many_threads_all_land(store: ConversationStore) -> None:
    conversations = [Conversation(title=f"thread {n}") for n in range(8)]
    start = threading.Barrier(len(conversations))
    failures: list[BaseException] = []

    def chat(conversation: Conversation) -> None:
        start.wait()
        try:
            for turn in range(5):
                conversation.add_user(f"{conversation.title}: question {turn}")
                conversation.add_assistant(f"answer {turn}", ReplyInfo(output_tokens=turn))
                store.save(conversation, owner=conversation.title)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=chat, args=(c,)) for c in conversations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    for conversation in conversations:
        assert store.load(conversation.id) == conversation
        assert [item.id for item in store.list(conversation.title)] == [conversation.id]
    assert len(store.list(include_all=True)) == len(conversations)


def test_an_in_memory_database_works_across_threads() -> None:
    with ConversationStore("sqlite://") as store:
        conversations = [_alice() for _ in range(4)]
        threads = [threading.Thread(target=store.save, args=(c,)) for c in conversations]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(store.list()) == 4
        assert all(store.load(c.id) == c for c in conversations)


# -- damaged records and errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE messages SET reply = '{not json' WHERE position = 1",
        'UPDATE messages SET reply = \'{"input_tokens": "many"}\' WHERE position = 1',
        "UPDATE messages SET reply = '[1, 2]' WHERE position = 1",
        "UPDATE messages SET role = 'robot' WHERE position = 2",
        "UPDATE messages SET content = x'ff00' WHERE position = 0",
        "DELETE FROM messages WHERE position = 1",
        "UPDATE conversations SET title = x'ff'",
    ],
)
def test_a_damaged_record_raises_invalid_document(
    sqlite_store: ConversationStore, db_path: Path, damage: str
) -> None:
    conversation = _alice()
    sqlite_store.save(conversation)
    _sql(db_path, damage)
    with pytest.raises(InvalidDocument, match="damaged"):
        sqlite_store.load(conversation.id)


def test_the_store_creates_a_missing_data_folder(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folders" / "chatkit.db"
    with ConversationStore(f"sqlite:///{path}") as store:
        store.save(_alice())
    assert path.is_file()


def test_a_folder_that_cannot_be_created_is_a_plain_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(ChatkitError, match="CHATKIT_DATA_DIR") as raised:
        ConversationStore(f"sqlite:///{blocker / 'data' / 'chatkit.db'}")
    assert isinstance(raised.value.__cause__, OSError)


def test_a_file_that_is_not_a_database_is_a_plain_error(tmp_path: Path) -> None:
    path = tmp_path / "chatkit.db"
    path.write_bytes(b"this is not a SQLite database, just some text" * 100)
    with pytest.raises(ChatkitError, match="CHATKIT_DATABASE_URL") as raised:
        ConversationStore(f"sqlite:///{path}")
    assert raised.value.__cause__ is not None


def test_a_read_only_database_refuses_saves_with_a_plain_error(db_path: Path) -> None:
    ConversationStore(f"sqlite:///{db_path}").close()
    with ConversationStore(f"sqlite:///file:{db_path}?mode=ro&uri=true") as read_only:
        assert read_only.list() == []
        with pytest.raises(ChatkitError, match="Could not save the conversation") as raised:
            read_only.save(_alice())
    assert raised.value.__cause__ is not None


@pytest.mark.parametrize(
    "url", ["not a database url", "nosuchdatabase://somewhere/db", "sqlite+nodriver:///x.db"]
)
def test_a_bad_url_is_a_plain_error(url: str) -> None:
    with pytest.raises(ChatkitError, match="CHATKIT_DATABASE_URL") as raised:
        ConversationStore(url)
    assert raised.value.__cause__ is not None


def test_a_password_in_the_url_is_never_shown() -> None:
    with pytest.raises(ChatkitError) as raised:
        ConversationStore("nosuchdatabase://user:hunter2@db.example/chat")
    assert "hunter2" not in str(raised.value)


# -- ids, keys and defaults --------------------------------------------------------------------


def test_conversation_ids_are_unguessable_and_url_safe() -> None:
    ids = [Conversation().id for _ in range(500)]
    assert len(set(ids)) == len(ids)
    for conversation_id in ids[:20]:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", conversation_id)
        raw = base64.urlsafe_b64decode(conversation_id + "=" * (-len(conversation_id) % 4))
        assert len(raw) >= 16


def test_key_like_text_is_stored_as_given_and_no_method_takes_a_key(
    sqlite_store: ConversationStore, db_path: Path
) -> None:
    conversation = _alice()
    note = "user pasted fake-key-0123456789abcdef into the note"
    conversation.replies[3] = replace(conversation.replies[3], note=note)
    sqlite_store.save(conversation)
    loaded = sqlite_store.load(conversation.id)
    assert loaded is not None and loaded.replies[3].note == note
    for name, method in inspect.getmembers(ConversationStore, inspect.isfunction):
        assert not any("key" in p.lower() for p in inspect.signature(method).parameters), name


def test_the_default_url_honours_the_environment(tmp_path: Path) -> None:
    assert default_database_url({"CHATKIT_DATABASE_URL": "postgresql://h/db"}) == (
        "postgresql://h/db"
    )
    assert default_database_url({"CHATKIT_DATA_DIR": str(tmp_path / "d")}) == (
        f"sqlite:///{(tmp_path / 'd' / 'chatkit.db').as_posix()}"
    )
    default = default_database_url({})
    assert default == f"sqlite:///{(Path.cwd() / 'data' / 'chatkit.db').as_posix()}"


# -- property: any edit history saves and loads back equal -------------------------------------

# Few distinct texts, so that histories often repeat earlier messages (the hard case for a
# save that writes only what changed), plus any text at all.
_texts = st.sampled_from(["", "a", "b", "ü 🐍"]) | st.text(max_size=12)
_user_texts = st.sampled_from(["a", "b", "ü 🐍"]) | st.text(min_size=1, max_size=12).filter(
    str.strip
)
_replies = st.builds(
    ReplyInfo,
    provider=st.sampled_from(["", "openai", "anthropic"]),
    input_tokens=st.none() | st.integers(0, 10**9),
    cached_input_tokens=st.none() | st.integers(0, 10),
    tokens_estimated=st.booleans(),
    stopped=st.booleans(),
    note=_texts,
    request_body=st.none() | st.just({"model": "m", "messages": []}),
)
_operations = st.lists(
    st.one_of(
        st.tuples(st.just("add_user"), _user_texts),
        st.tuples(st.just("add_assistant"), _texts, st.none() | _replies),
        st.tuples(st.just("add_summary"), _user_texts),
        st.tuples(st.just("system_prompt"), _texts),
        st.tuples(st.just("title"), _texts),
        st.tuples(st.just("without_last_reply")),
        st.tuples(st.just("without_last_turn")),
        st.tuples(st.just("clear")),
        st.tuples(st.just("save")),
    ),
    max_size=25,
)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConversationStore]:
    path = tmp_path_factory.mktemp("property") / "chatkit.db"
    with ConversationStore(f"sqlite:///{path}") as opened:
        yield opened


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=_operations)
def test_any_edit_history_saves_and_loads_back_equal(
    shared_store: ConversationStore, operations: list[tuple[Any, ...]]
) -> None:
    conversation = Conversation()
    for operation in operations:
        match operation:
            case ("add_user", text):
                conversation.add_user(text)
            case ("add_assistant", text, reply):
                conversation.add_assistant(text, reply)
            case ("add_summary", text):
                conversation.add(Message("system", text))
            case ("system_prompt", text):
                conversation.system_prompt = text
            case ("title", text):
                conversation.title = text
            case ("without_last_reply",):
                conversation = without_last_reply(conversation)
            case ("without_last_turn",):
                conversation = without_last_turn(conversation)
            case ("clear",):
                conversation.clear()
            case ("save",):
                shared_store.save(conversation)
    shared_store.save(conversation)
    loaded = shared_store.load(conversation.id)
    assert loaded is not None
    assert loaded.messages == [  # NUL is kept as U+FFFD (PostgreSQL cannot store it)
        Message(m.role, storable(m.content), m.name and storable(m.name))
        for m in conversation.messages
    ]
    assert loaded.system_prompt == storable(conversation.system_prompt)
    assert loaded.title == storable(conversation.title)
    assert loaded.created_at == conversation.created_at
    assert loaded.replies == _without_bodies(conversation.replies)


_small_messages = st.lists(
    st.builds(Message, role=st.sampled_from(["user", "assistant"]), content=st.sampled_from("ab")),
    max_size=5,
)


@settings(max_examples=100, deadline=None)
@given(earlier=_small_messages, later=_small_messages)
def test_saving_over_any_earlier_version_leaves_exactly_the_new_one(
    shared_store: ConversationStore, earlier: list[Message], later: list[Message]
) -> None:
    # A tiny alphabet makes "same length, same last message, different before it" common.
    conversation = Conversation(messages=earlier)
    shared_store.save(conversation)
    conversation.messages = list(later)
    shared_store.save(conversation)
    loaded = shared_store.load(conversation.id)
    assert loaded is not None and loaded.messages == later


def test_pins_and_leave_outs_are_saved_and_a_change_of_mind_is_saved_too(
    store: ConversationStore,
) -> None:
    conversation = Conversation(system_prompt="Be brief.")
    conversation.add_user("My name is Alice.")
    conversation.add_assistant("Hello, Alice!")
    conversation.add_user("I live in Paris.")
    conversation = conversation.with_in_context(0, "pinned").with_in_context(1, "left_out")
    store.save(conversation, owner="browser:a")
    loaded = store.load(conversation.id)
    assert [m.in_context for m in loaded.messages] == ["pinned", "left_out", "auto"]
    changed = loaded.with_in_context(0, "auto").with_in_context(2, "left_out")
    store.save(changed, owner="browser:a")
    url = store.database.engine.url.render_as_string(hide_password=False)
    with ConversationStore(url) as other:  # another replica reads the same
        again = other.load(conversation.id)
    assert [m.in_context for m in again.messages] == ["auto", "left_out", "left_out"]
