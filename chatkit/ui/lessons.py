"""The lessons in the app: who is learning, in which class, the lesson open, its check.

A learner is a ``Student`` of a class in the store: of the class they joined with its code, or
else of their own "Self-study" class, made the first time they open a lesson. Either way the
student is this browser (or this login), so progress survives a reload, another tab and
another replica. A lesson's check reads the requests this session's turns really sent
(``ChatSession.calls``, those made since the lesson was opened) and what it finds is kept in
the store, where the teacher page reads it.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from chatkit.errors import ChatkitError
from chatkit.lessons import (
    LESSONS,
    CapturedCall,
    CheckResult,
    Lesson,
    check_lesson,
    lesson,
    passed_earlier,
    run_snippet,
)
from chatkit.markdown import inert_markdown
from chatkit.providers import Provider, provider_kind
from chatkit.store import Classroom, ClassStore, LessonProgress, Student
from chatkit.turn import TRIMMING_LABELS
from chatkit.turn_queue import TurnRequest
from chatkit.ui import state

SELF_STUDY = "Self-study"
LESSON_KEY = "lesson_number"  # the lesson open in this session
CHECKED_KEY = "lesson_checked"  # {lesson: (passed, sentence)} as last kept in the store
SINCE_KEY = "lesson_since"  # {lesson: ChatSession.calls_made when the lesson was opened}
VERSION_KEY = "lesson_class_version"  # the class's lesson_version this session followed
SNIPPET_CALLS_KEY = "snippet_calls"  # what the last snippet run sent (lesson 8)
SNIPPET_LESSON = 8


# -- the store and who is learning ------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _class_store(url: str) -> ClassStore:
    target = state.store()
    assert target is not None
    return ClassStore(target.database)


def class_store() -> ClassStore | None:
    """The process-wide class store (None when the database cannot be opened)."""
    target = state.store()
    return None if target is None else _class_store(target.url)


def learner() -> Student | None:
    """This browser's place in a class: the class it joined, else its self-study class (made
    now, the first time). None when the database cannot be opened."""
    classes = class_store()
    if classes is None:
        return None
    owner = state.session().owner
    student = classes.student_of(owner)
    if student is None and not state.config().classroom.enabled:
        mine = classes.create_class(SELF_STUDY, created_by=f"self:{owner}")
        student = classes.join(mine.code, "You", owner)
    return student


def classroom(student: Student | None) -> Classroom | None:
    """The class ``student`` belongs to (None for none)."""
    classes = class_store()
    if student is None or classes is None:
        return None
    return classes.get_class(student.class_id)


def in_a_class(student: Student | None, room: Classroom | None) -> bool:
    """True when the learner is in a teacher's class (not their own self-study one)."""
    return student is not None and room is not None and not room.created_by.startswith("self:")


def login_name() -> str:
    """The logged-in person's name (or e-mail) where ``st.login`` is configured, else ""."""
    user = getattr(st, "user", None)
    if user is None or not getattr(user, "is_logged_in", False):
        return ""
    return str(user.get("name") or user.get("email") or "")[:40]


def shares_transcripts(code: str) -> bool:
    """True when the class with ``code`` lets its teacher read students' conversations."""
    classes = class_store()
    room = classes.class_by_code(code) if classes is not None and code.strip() else None
    return room is not None and room.share_transcripts


def join(code: str, name: str) -> str | None:
    """Join the class with ``code`` as ``name``; the sentence saying why not, or None."""
    classes = class_store()
    if classes is None:
        return "The class list cannot be opened right now: try again in a moment."
    try:
        student = classes.join(code, name, state.session().owner)
    except ChatkitError as error:
        return error.message
    open_lesson(student.lesson or 1)
    return None


# -- the lesson open --------------------------------------------------------------------------


def current() -> Lesson:
    """The lesson open in this session (the student's lesson in the store, at first)."""
    number = st.session_state.get(LESSON_KEY)
    if number is None:
        student = learner()
        number = student.lesson if student is not None and student.lesson else 1
        st.session_state[LESSON_KEY] = number
    return lesson(number)


def open_lesson(number: int) -> None:
    """Make lesson ``number`` the open one; its check reads only the calls made from now on."""
    number = min(max(number, 1), len(LESSONS))
    st.session_state[LESSON_KEY] = number
    st.session_state.setdefault(SINCE_KEY, {})[number] = state.session().calls_made
    classes, student = class_store(), learner()
    if classes is not None and student is not None:
        classes.set_lesson(student.id, number)


def calls_for(number: int) -> list[CapturedCall]:
    """The calls made since lesson ``number`` was opened in this session, oldest first (for
    the snippets lesson: those the last snippet run made)."""
    if number == SNIPPET_LESSON:
        return list(st.session_state.get(SNIPPET_CALLS_KEY, ()))
    chat = state.session()
    since = st.session_state.get(SINCE_KEY, {}).get(number, 0)
    fresh = max(chat.calls_made - since, 0)
    return chat.calls[-fresh:] if fresh else []


def check(number: int) -> CheckResult | None:
    """Lesson ``number``'s check on the calls made since it opened (None before any), kept in
    the store when its result changed."""
    calls = calls_for(number)
    if not calls:
        return None
    result = check_lesson(number, calls)
    checked = st.session_state.setdefault(CHECKED_KEY, {})
    seen = (result.passed, result.sentence, len(calls), calls[-1].reply.response_id)
    if checked.get(number) != seen:
        classes, student = class_store(), learner()
        if classes is not None and student is not None:
            classes.record_check(student.id, number, result)
        checked[number] = seen
    return result


def progress() -> dict[int, LessonProgress]:
    """This learner's progress, by lesson number, as the store keeps it."""
    classes, student = class_store(), learner()
    if classes is None or student is None:
        return {}
    return classes.progress(student.id)


def allowed(number: int, room: Classroom | None) -> bool:
    """Whether a lesson may be opened: in a locked class, only up to the teacher's lesson."""
    return room is None or not room.locked or number <= max(room.current_lesson, 1)


def follow_the_teacher(room: Classroom | None) -> bool:
    """Move to the teacher's lesson when they brought the class there since this session last
    looked; True when it moved."""
    if room is None or room.created_by.startswith("self:"):
        return False
    followed = st.session_state.get(VERSION_KEY)
    st.session_state[VERSION_KEY] = room.lesson_version
    if followed is None or followed == room.lesson_version or not room.current_lesson:
        return False
    open_lesson(room.current_lesson)
    return True


def chat_provider() -> Provider | None:
    """The sidebar's provider in chat mode (the snippets choose their own API), or None after
    saying why it cannot be used."""
    spec = replace(state.settings().spec, mode="chat")
    try:
        return state.provider_for(spec)
    except ChatkitError as error:
        st.error(inert_markdown(error.message), icon=":material/error:")
        return None


def run_chosen_snippet(name: str, provider: Provider) -> None:
    """Run one of lesson 8's snippets (our code, never the student's) and keep its calls."""
    try:
        st.session_state[SNIPPET_CALLS_KEY] = run_snippet(name, provider)
    except ChatkitError as error:
        st.session_state[SNIPPET_CALLS_KEY] = []
        st.error(inert_markdown(error.message), icon=":material/error:")


# -- "show me": the task done in the live chat ---------------------------------------------------


def mode_problem(item: Lesson) -> str | None:
    """Why the sidebar's provider cannot do this lesson's task, or None."""
    kind = state.kind()
    if item.mode in kind.modes:
        return None
    able = [name for name in _provider_names() if item.mode in provider_kind(name).modes]
    return (
        f"{kind.name} has no “{item.mode}” API mode: choose {' or '.join(able) or 'another'} "
        f"provider in the sidebar for this lesson."
    )


def _provider_names() -> list[str]:
    from chatkit.hosted import visitor_providers

    return list(visitor_providers(state.config()))


def show_me(number: int) -> None:
    """A callback: set the sidebar for the lesson and send its task's messages, in order."""
    item = lesson(number)
    if mode_problem(item):
        return
    open_lesson(number)
    settings = state.settings()
    kind = state.kind()
    st.session_state[f"api_mode_{kind.name}"] = kind.mode_label(item.mode)
    st.session_state["api_mode_code"] = item.mode
    spec = replace(settings.spec, mode=item.mode)
    trimming = item.show_me.trimming or settings.trimming
    if item.show_me.trimming is not None:
        st.session_state["trimming"] = TRIMMING_LABELS[trimming.strategy]
        st.session_state["trim_last_n"] = trimming.last_n
        st.session_state["trim_max_tokens"] = trimming.max_tokens
    chosen = replace(settings, spec=spec, trimming=trimming)
    chat, key = state.session(), state.typed_api_key(kind.name)
    for index, text in enumerate(item.show_me.messages):
        fresh = index == 0 or item.show_me.new_conversation_each  # each turn in its own chat?
        chat.ask(TurnRequest(text, fresh=fresh), chosen, key)


# -- drawing ---------------------------------------------------------------------------------------


def verdict(result: CheckResult | None, kept: LessonProgress | None) -> None:
    """The check's answer: passed, or what is wrong in one sentence."""
    if result is not None and result.passed:
        st.success(inert_markdown(result.sentence), icon=":material/check_circle:")
    elif result is not None:
        st.error(inert_markdown(result.sentence), icon=":material/cancel:")
    elif kept is not None and kept.passed:
        st.success(inert_markdown(passed_earlier(kept.sentence)), icon=":material/check:")
    else:
        st.info("Not checked yet: do the task in the chat.", icon=":material/pending:")


def banner() -> None:
    """The open lesson above the chat: its task, its check on what was sent, hint, show me."""
    if not st.session_state.get(LESSON_KEY):
        return
    item = current()
    result = check(item.number)
    with st.container(border=True):
        top = st.container(horizontal=True, vertical_alignment="center")
        top.markdown(f"**Lesson {item.number}: {item.title}** · {inert_markdown(item.task)}")
        top.page_link("app_pages/lessons.py", label="Back to the lesson", icon=":material/school:")
        verdict(result, progress().get(item.number))
        if result is not None and not result.passed:
            st.caption("Hint: " + inert_markdown(item.hint))
