"""Lessons: the tutorial in order, each with a task done in the live chat and a check on the
request that chat really sent (so it holds with the offline model too)."""

import streamlit as st

from chatkit.lessons import LESSONS, SNIPPETS, CheckResult, strict_alternation_error
from chatkit.markdown import inert_markdown
from chatkit.messages import normalize_messages
from chatkit.store import LessonProgress
from chatkit.ui import lessons, state, turns
from chatkit.ui.lesson_figures import lesson_picture, presenter_style, presenter_toggle
from chatkit.ui.teaching import header, model_caption

JOIN_ERROR_KEY = "join_error"


def _on_join() -> None:
    code, name = st.session_state.get("join_code", ""), st.session_state.get("join_name", "")
    error = lessons.join(code, name)
    st.session_state[JOIN_ERROR_KEY] = error
    if error is None:
        st.query_params.pop("join", None)


def _join_form(required: bool) -> None:
    """Join a class with its code and a display name (open when the link carried a code)."""
    code = st.query_params.get("join", "")
    if code and "join_code" not in st.session_state:
        st.session_state["join_code"] = code
    if "join_name" not in st.session_state:
        st.session_state["join_name"] = lessons.login_name()  # with st.login: their name
    with st.expander("Join a class", expanded=required or bool(code)):
        st.text_input("Class code", key="join_code", max_chars=12, placeholder="e.g. K7PQ2M")
        st.text_input("Your name, as the teacher will see it", key="join_name", max_chars=40)
        if lessons.shares_transcripts(st.session_state.get("join_code", "")):
            st.warning(
                "In this class your teacher can read your conversations.",
                icon=":material/visibility:",
            )
        st.button("Join", type="primary", on_click=_on_join, icon=":material/login:")
        if error := st.session_state.get(JOIN_ERROR_KEY):
            st.error(inert_markdown(error), icon=":material/error:")
        if required:
            st.caption("This app is running a class: join it with the code on the board.")


def _on_open(number: int) -> None:
    lessons.open_lesson(number)


@st.fragment(run_every=3)
def _follow_the_class() -> None:
    """Every few seconds: if the teacher brought the class to another lesson, go there."""
    room = lessons.classroom(lessons.learner())
    if lessons.follow_the_teacher(room):
        st.rerun(scope="app")


def _alternation_demo() -> None:
    """Lesson 4: two user turns in a row, what a strict API says, and what normalizing does."""
    two_in_a_row = [
        {"role": "user", "content": "My name is Alice."},
        {"role": "user", "content": "What is my name?"},
    ]
    left, right = st.columns(2)
    with left:
        st.markdown("**Two user turns in a row**")
        st.json(two_in_a_row)
        st.error(strict_alternation_error(two_in_a_row) or "", icon=":material/block:")
    with right:
        st.markdown("**After `normalize_messages`** (the input list is left as it was)")
        st.json(normalize_messages(two_in_a_row))


def _snippets(number: int) -> None:
    """Lesson 8: the tutorial's classes, run for real on the sidebar's provider."""
    by_name = {s.name: s for s in SNIPPETS}
    choice = st.radio(
        "Which snippet keeps the conversation?",
        list(by_name),
        format_func=lambda name: by_name[name].title,
        key="snippet_choice",
    )
    st.code(by_name[choice].code, language="python")
    run, show = st.columns(2)
    chosen = None
    if run.button("Run it", icon=":material/play_arrow:", key="snippet_run"):
        chosen = choice
    if show.button("Show me", icon=":material/auto_fix_high:", key="show_me_8"):
        chosen = next(s.name for s in SNIPPETS if s.keeps_context)
    if chosen is not None:
        provider = lessons.chat_provider()
        if provider is not None:
            with st.spinner("Running the snippet against the model…"):
                lessons.run_chosen_snippet(chosen, provider)
        if by_name[chosen].why:
            st.caption(inert_markdown(by_name[chosen].why))


def _lesson(number: int, result: CheckResult | None, kept: LessonProgress | None) -> None:
    item = LESSONS[number - 1]
    st.header(f"{item.number}. {item.title}")
    st.markdown(item.idea)
    lesson_picture(item, lessons.calls_for(item.number))
    if item.number == 4:
        _alternation_demo()
    st.subheader("Your task")
    st.markdown(inert_markdown(item.task))
    if problem := lessons.mode_problem(item):
        st.warning(inert_markdown(problem), icon=":material/swap_horiz:")
    if item.number == 8:
        _snippets(item.number)
        result = lessons.check(item.number)  # on what the snippet just sent
    lessons.verdict(result, kept)
    with st.expander("Hint"):
        st.markdown(inert_markdown(item.hint))
    left, right = st.columns(2)
    if item.number != 8:
        left.page_link("app_pages/chat.py", label="Do it in the chat", icon=":material/chat:")
        right.button(
            "Show me",
            icon=":material/auto_fix_high:",
            key=f"show_me_{item.number}",
            on_click=lessons.show_me,
            args=(item.number,),
            disabled=lessons.mode_problem(item) is not None,
            help="Sets the sidebar and sends the task's messages in the chat for you.",
        )


header(
    "Lessons",
    "The tutorial “Multi-Turn Conversations”, one idea at a time. Each task is done in the "
    "live chat, and checked on the request your chat really sent, not on what the model said.",
)
st.caption(model_caption())
student = lessons.learner()
room = lessons.classroom(student)
in_class = lessons.in_a_class(student, room)
if student is None and state.config().classroom.enabled:
    _join_form(required=True)
    st.stop()
if not in_class:
    _join_form(required=False)
elif room is not None:
    st.caption(f"{inert_markdown(room.title)} · you are {inert_markdown(student.display_name)}")
    _follow_the_class()
if presenter_toggle():
    presenter_style()

current = lessons.current()
if current.number not in st.session_state.get(lessons.SINCE_KEY, {}):
    lessons.open_lesson(current.number)
result = lessons.check(current.number)  # first: the progress below then counts it
done = lessons.progress()
passed = sum(1 for p in done.values() if p.passed)
st.progress(passed / len(LESSONS), text=f"{passed} of {len(LESSONS)} lessons passed")
labels = [
    f"{'✓ ' if done.get(i.number) and done[i.number].passed else ''}{i.number}. {i.title}"
    for i in LESSONS
]
choice = st.radio(
    "Lesson",
    range(1, len(LESSONS) + 1),
    index=current.number - 1,
    format_func=lambda n: labels[n - 1],
    horizontal=True,
    label_visibility="collapsed",
    key=f"lesson_choice_{current.number}",
)
if choice != current.number:
    if lessons.allowed(choice, room):
        lessons.open_lesson(choice)
        st.rerun()
    st.info(
        f"The class is locked at lesson {room.current_lesson if room else 1}: your teacher will "
        f"open the next one.",
        icon=":material/lock:",
    )
_lesson(current.number, result, done.get(current.number))
# "Show me" asks the session's turn queue: draw its turn as it is taken, and the page again as
# each one ends, so the request picture, the check and the progress show what it sent.
queue = state.queue()
turns.follow(queue, turns.live_slot(queue))
