"""The teacher's page: make a class, put its code on the board, and watch who is stuck."""

from datetime import UTC, datetime, time, timedelta

import pandas as pd
import streamlit as st

from chatkit.lessons import LESSONS
from chatkit.lessons.roster import counted, roster_csv, roster_summary, stuck
from chatkit.markdown import inert_markdown
from chatkit.store import Classroom
from chatkit.ui import lessons, state, teacher_access
from chatkit.ui.teaching import header

ROSTER_SECONDS = 2  # how often the roster is read again


def _on_create() -> None:
    classes = lessons.class_store()
    title = (st.session_state.get("class_title") or "").strip() or "Multi-Turn Conversations"
    ends = st.session_state.get("class_ends")
    ends_at = (
        datetime.combine(ends, time(23, 59), tzinfo=UTC).isoformat() if ends is not None else None
    )
    if classes is None:
        return
    room = classes.create_class(
        title[:80],
        created_by=teacher_access.teacher(),
        ends_at=ends_at,
        share_transcripts=bool(st.session_state.get("class_share")),
    )
    st.session_state["teacher_class"] = room.id


def _create_form(expanded: bool) -> None:
    with st.expander("Make a class", expanded=expanded):
        st.text_input("Title", key="class_title", placeholder="Multi-Turn Conversations")
        st.date_input(
            "Ends on (optional: the code stops working after that day)",
            value=None,
            min_value=datetime.now(UTC).date(),
            max_value=datetime.now(UTC).date() + timedelta(days=366),
            key="class_ends",
        )
        st.checkbox(
            "Let me read students' conversations (they are told so when they join)",
            key="class_share",
        )
        st.button("Make the class", type="primary", on_click=_on_create)


def _board(room: Classroom) -> None:
    """What goes on the board: the link, the short code, and a QR code of the link."""
    link = teacher_access.join_link(room.code)
    left, right = st.columns([2, 1])
    with left:
        st.markdown(f"## Code: `{room.code}`")
        st.markdown(f"Join link: `{link}`")
        if room.ends_at:
            st.caption(f"The code works until {room.ends_at[:16].replace('T', ' ')} UTC.")
        if room.share_transcripts:
            st.caption("Students were told that you can read their conversations.")
    with right:
        picture = teacher_access.qr_png(link)
        if picture is not None:
            st.image(picture, width=180, caption="Scan to join")


def _controls(room: Classroom) -> None:
    classes = lessons.class_store()
    if classes is None:
        return
    left, middle, right = st.columns(3)
    number = left.selectbox(
        "Lesson",
        range(1, len(LESSONS) + 1),
        index=max(room.current_lesson, 1) - 1,
        format_func=lambda n: f"{n}. {LESSONS[n - 1].title}",
        key=f"bring_lesson_{room.id}",
    )
    if middle.button(f"Bring everyone to lesson {number}", icon=":material/group:"):
        classes.bring_to(room.id, number)
        st.toast(f"Everyone is on lesson {number} within a few seconds.")
    locked = right.toggle(
        "Lock at this lesson",
        value=room.locked,
        key=f"lock_{room.id}",
        help="Locked: students cannot open lessons after the class's current one.",
    )
    if locked != room.locked:
        classes.set_locked(room.id, locked)


def _roster_frame(rows: list) -> pd.DataFrame:
    table = []
    for row in rows:
        line = {"Student": row.student.display_name, "On lesson": row.student.lesson or 1}
        for item in LESSONS:
            kept = row.progress.get(item.number)
            line[str(item.number)] = (
                "✓" if kept and kept.passed else ("✗" if kept and kept.attempts else "")
            )
        table.append(line)
    return pd.DataFrame(table)


@st.fragment(run_every=ROSTER_SECONDS)
def _roster(class_id: str) -> None:
    """The class as it is now, read again every few seconds (not the whole page)."""
    classes = lessons.class_store()
    if classes is None:
        st.error("The class list cannot be opened right now: it is tried again in a moment.")
        return
    room = classes.get_class(class_id)
    if room is None:
        st.error("That class is gone: make a new one.")
        return
    rows = classes.roster(room.id)
    st.markdown(f"**{roster_summary(rows)}**")
    blocked = stuck(rows)
    if blocked is not None:
        number, count = blocked
        st.warning(
            f"Stuck: lesson {number} ({LESSONS[number - 1].title}) fails its check for "
            f"{counted(count, 'student')}.",
            icon=":material/report:",
        )
    if not rows:
        st.info("Nobody has joined yet: put the code on the board.", icon=":material/group_add:")
        return
    st.dataframe(_roster_frame(rows), hide_index=True, width="stretch", key="roster_table")
    st.download_button(
        "Download the roster (CSV)",
        roster_csv(rows, len(LESSONS)),
        file_name=f"class-{room.code}.csv",
        mime="text/csv",
        icon=":material/download:",
    )


def _transcripts(room: Classroom) -> None:
    if not room.share_transcripts:
        return
    classes, target = lessons.class_store(), state.store()
    if classes is None or target is None:
        return
    rows = classes.roster(room.id)
    with st.expander("Students' conversations"):
        names = {r.student.display_name: r.student.owner for r in rows}
        name = st.selectbox("Student", list(names), key="transcript_student")
        if name is None:
            return
        for item in target.list(names[name], limit=20):
            opened = target.load(item.id)
            if opened is None:
                continue
            st.markdown(f"**{inert_markdown(opened.title or 'Untitled')}**")
            for message in opened.messages:
                st.markdown(f"*{message.role}:* {inert_markdown(message.content)}")


header("Teacher", "Make a class, put its code on the board, and see who is stuck, live.")
if not teacher_access.gate():
    st.stop()
classes = lessons.class_store()
if classes is None:
    st.error("The class list cannot be opened right now: check the database and reload.")
    st.stop()
mine = classes.classes_by(teacher_access.teacher())
_create_form(expanded=not mine)  # open until there is a class (not closing as a title is typed)
if not mine:
    st.stop()
ids = [room.id for room in mine]
if st.session_state.get("teacher_class") not in ids:
    st.session_state["teacher_class"] = ids[0]
chosen = st.selectbox(
    "Class",
    ids,
    format_func=lambda i: next(f"{r.title} ({r.code})" for r in mine if r.id == i),
    key="teacher_class",
)
room = next(r for r in mine if r.id == chosen)
_board(room)
_controls(room)
_roster(room.id)
_transcripts(room)
