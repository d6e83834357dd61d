"""The Lessons and Teacher pages under AppTest: a lesson's task done with "Show me" passes its
check on the requests the protocol server received, progress is kept, the teacher page is
closed to anyone without the teacher's password, and a class joined shows on its roster."""

from __future__ import annotations

import pytest

from chatkit.providers import ProviderSpec
from chatkit.session import Settings
from chatkit.store import ClassStore, ConversationStore
from chatkit.turn_queue import TurnRequest
from tests.apptest_helpers import ChatApp, new_app

LESSONS_PAGE = "app_pages/lessons.py"
TEACHER_PAGE = "app_pages/teacher.py"
PASSWORD = "correct-horse-battery"


def on_page(at: ChatApp, page: str) -> ChatApp:
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def settle(at: ChatApp, page: str) -> ChatApp:
    """Wait for the session's turns to end, then draw ``page`` again."""
    session = at.session_state["session"]
    assert session.queue.wait(30), "the turns did not finish"
    return on_page(at, page)


def test_show_me_does_lesson_one_and_its_check_passes(app) -> None:
    at = on_page(new_app(), LESSONS_PAGE)
    assert any("0 of 8 lessons passed" in p.text for p in at.get("progress"))
    at.button(key="show_me_1").click().run()
    at = settle(at, LESSONS_PAGE)
    assert any(s.value.startswith("Passed") for s in at.success), at.error
    session = at.session_state["session"]
    first, second = session.calls[-2:]
    assert first.conversation_id != second.conversation_id
    assert any("1 of 8 lessons passed" in p.text for p in at.get("progress"))


def test_lesson_two_the_wrong_way_fails_with_one_sentence_and_a_hint(app) -> None:
    at = on_page(new_app(), LESSONS_PAGE)
    at.radio(key="lesson_choice_1").set_value(2).run()
    at = on_page(at, LESSONS_PAGE)
    # A new conversation for each message: what lesson 2 warns against.
    session = at.session_state["session"]
    settings = Settings(spec=ProviderSpec("OpenAI", "chat", "gpt-4o-mini"))
    session.ask(TurnRequest("My name is Alice.", fresh=True), settings)
    session.ask(TurnRequest("What is my name?", fresh=True), settings)
    at = settle(at, LESSONS_PAGE)
    assert len(at.error) == 1 and at.error[0].value.count(". ") == 0, at.error
    assert any(e.label == "Hint" for e in at.expander)


def test_the_teacher_page_says_what_to_do_without_teacher_access(app) -> None:
    at = on_page(new_app(), TEACHER_PAGE)
    assert "Teacher access is not set up" in at.error[0].value


def test_a_student_without_the_password_sees_only_the_gate(app, monkeypatch) -> None:
    monkeypatch.setenv("CHATKIT_TEACHER_PASSWORD", PASSWORD)
    at = on_page(new_app(), TEACHER_PAGE)
    (gate,) = at.info
    assert "for the class's teacher" in gate.value
    assert gate.value.endswith(".") and gate.value.count(". ") == 0  # one sentence
    at.text_input(key="teacher_password").set_value("guess").run()
    at.button[0].click().run()
    assert "not the teacher password" in at.error[0].value
    assert not at.dataframe


def test_a_joined_student_shows_on_the_teachers_roster(app, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CHATKIT_TEACHER_PASSWORD", PASSWORD)
    teacher = on_page(new_app(), TEACHER_PAGE)
    teacher.text_input(key="teacher_password").set_value(PASSWORD).run()
    teacher.button[0].click().run()
    teacher.text_input(key="class_title").set_value("Period 3").run()
    teacher.button[0].click().run()
    teacher = on_page(teacher, TEACHER_PAGE)
    with ConversationStore(f"sqlite:///{tmp_path / 'chatkit.db'}") as store:
        (room,) = ClassStore(store.database).classes_by("teacher")
    assert any(room.code in m.value for m in teacher.markdown)
    student = on_page(new_app({"join": room.code}), LESSONS_PAGE)
    student.text_input(key="join_name").set_value("Ada").run()
    next(b for b in student.button if b.label == "Join").click().run()
    assert not student.error, student.error
    teacher = on_page(teacher, TEACHER_PAGE)
    frame = teacher.dataframe[0].value
    assert list(frame["Student"]) == ["Ada"]


def test_the_make_a_class_form_is_open_until_there_is_a_class_and_stays_as_it_is(
    app, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("CHATKIT_TEACHER_PASSWORD", PASSWORD)
    teacher = on_page(new_app(), TEACHER_PAGE)
    teacher.text_input(key="teacher_password").set_value(PASSWORD).run()
    teacher.button[0].click().run()
    assert teacher.expander[0].label == "Make a class" and teacher.expander[0].proto.expanded
    with ConversationStore(f"sqlite:///{tmp_path / 'chatkit.db'}") as store:
        ClassStore(store.database).create_class("Period 1", created_by="teacher")
    # another session of the teacher, with a class already: the form starts closed, and
    # typing a title (a rerun) leaves it as the teacher opened it, not closing under them
    again = on_page(new_app(), TEACHER_PAGE)
    again.text_input(key="teacher_password").set_value(PASSWORD).run()
    again.button[0].click().run()
    assert not again.expander[0].proto.expanded
    again.text_input(key="class_title").set_value("Period 2").run()
    assert not again.expander[0].proto.expanded


@pytest.mark.parametrize("code", ["", "ZZZZZZ"])
def test_a_wrong_code_gets_one_sentence(app, code) -> None:
    at = on_page(new_app({"join": code} if code else None), LESSONS_PAGE)
    at.text_input(key="join_code").set_value(code or "nope").run()
    at.text_input(key="join_name").set_value("Ada").run()
    next(b for b in at.button if b.label == "Join").click().run()
    assert len(at.error) == 1


def test_the_join_form_says_when_the_teacher_can_read_conversations(app, tmp_path) -> None:
    on_page(new_app(), LESSONS_PAGE)  # makes the database
    with ConversationStore(f"sqlite:///{tmp_path / 'chatkit.db'}") as store:
        room = ClassStore(store.database).create_class(
            "Open book", created_by="teacher", share_transcripts=True
        )
    at = on_page(new_app({"join": room.code}), LESSONS_PAGE)
    assert any("can read your conversations" in w.value for w in at.warning)


def test_a_present_link_opens_the_lessons_in_presenter_view(app) -> None:
    at = on_page(new_app({"present": "1"}), LESSONS_PAGE)
    assert at.toggle(key="present").value is True
    assert any("font-size: 1.45rem" in h.proto.body for h in at.get("html"))
    at.toggle(key="present").set_value(False).run()  # the toggle still turns it off
    assert not at.exception
    assert at.toggle(key="present").value is False


def test_show_me_draws_its_check_when_its_turns_end_with_no_other_action(app) -> None:
    at = on_page(new_app(), LESSONS_PAGE)
    at.button(key="show_me_1").click().run()  # the run follows the turns to their end
    assert not at.exception
    assert any(s.value.startswith("Passed") for s in at.success), [i.value for i in at.info]
    assert any("1 of 8 lessons passed" in p.text for p in at.get("progress"))
