"""Who may open the teacher page, and what goes on the board (join link, QR code).

Teacher access comes from the environment or ``st.secrets``: ``CHATKIT_TEACHER_PASSWORD``
(asked for once per browser session), or, when ``st.login`` is configured, a login whose
e-mail is in ``CHATKIT_TEACHER_EMAILS``.
"""

from __future__ import annotations

import io
from urllib.parse import urlsplit, urlunsplit

import streamlit as st

from chatkit.classroom import TEACHER
from chatkit.ui import state

TEACHER_KEY = "teacher_signed_in"
NOT_SET_UP = (
    "Teacher access is not set up: set CHATKIT_TEACHER_PASSWORD (or CHATKIT_TEACHER_EMAILS with "
    "st.login) in the environment or .streamlit/secrets.toml and restart; `python -m "
    "chatkit.classroom` sets one and prints it."
)
WRONG_PASSWORD = "That is not the teacher password: check it with whoever started the class."
FOR_TEACHERS = (
    "This page is for the class's teacher, with the teacher password: your lessons are on the "
    "Lessons page."
)


def _logged_in_email() -> str | None:
    user = getattr(st, "user", None)
    if user is not None and getattr(user, "is_logged_in", False) and user.get("email"):
        return str(user.get("email")).lower()
    return None


def teacher() -> str:
    """The teacher's name in the store: their login, else "teacher" (the password's holder,
    as ``python -m chatkit.classroom`` makes its class)."""
    email = _logged_in_email()
    return f"user:{email}" if state.config().classroom.is_teacher_email(email) else TEACHER


def _on_password() -> None:
    typed = st.session_state.pop("teacher_password", "") or ""
    ok = state.config().classroom.is_teacher_password(typed)
    st.session_state[TEACHER_KEY] = ok
    st.session_state["teacher_password_wrong"] = not ok


def gate() -> bool:
    """True for a teacher; for anyone else, say what to do (one sentence) and return False."""
    settings = state.config().classroom
    if settings.is_teacher_email(_logged_in_email()):
        return True
    if not settings.teacher_password:
        st.error(NOT_SET_UP, icon=":material/key_off:")
        return False
    if st.session_state.get(TEACHER_KEY):
        return True
    st.info(FOR_TEACHERS, icon=":material/school:")
    st.text_input("Teacher password", type="password", key="teacher_password")
    st.button("Open the teacher page", on_click=_on_password, type="primary")
    if st.session_state.get("teacher_password_wrong"):
        st.error(WRONG_PASSWORD, icon=":material/error:")
    return False


def join_link(code: str) -> str:
    """The link students open: the class's public address (set by the class command), else
    the address this page was opened at, on the Lessons page with the code."""
    base = state.config().classroom.public_url or st.context.url or "http://localhost:8501"
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, "/lessons", f"join={code}", ""))


def qr_png(text: str) -> bytes | None:
    """A QR code of ``text`` as a PNG (None when the qrcode package is missing)."""
    try:
        import qrcode
    except ImportError:
        return None
    picture = qrcode.make(text, box_size=8, border=2)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()
