"""The chat page: the conversation as bubbles, a streamed reply, and the turn controls.

Every action (Enter in the input box, Regenerate, Resend, Retry) is a widget callback that
only records a ``TurnRequest``; the run that follows draws the conversation the turn starts
from and streams the reply under it (``chatkit.ui.turns``), so the page never shows a reply
that is about to be replaced. When a turn ends the app reruns once, so the sidebar (saved
list, downloads) and the controls match the saved conversation.

The page is deliberately not an ``st.fragment``: a click inside a fragment does not interrupt
a run in progress (``_fragment_run_should_not_preempt_script`` in Streamlit's script
requests), and the Stop button must interrupt the run that is streaming.

Only a window of the latest messages is drawn (``Show earlier messages`` widens it), so a
rerun costs the same at 50 messages as at 5,000.
"""

import streamlit as st

from chatkit.chat import TRIMMING_LABELS
from chatkit.conversation import Conversation
from chatkit.costs import conversation_totals, reply_caption, totals_caption
from chatkit.markdown import inert_markdown
from chatkit.messages import Message
from chatkit.ui import state
from chatkit.ui.state import TurnRequest
from chatkit.ui.teaching import model_caption
from chatkit.ui.turns import bubble, settle_pending, take_turn

WINDOW_STEP = 40


# -- callbacks: they only record what was asked; the run after them does it ------------------


def _request(request: TurnRequest) -> None:
    data = state.session()
    data.request, data.failure, data.editing = request, None, False


def _on_submit() -> None:
    text = st.session_state.get("chat_input")
    if text and text.strip():  # empty input is ignored
        _request(TurnRequest(text))


def _on_resend() -> None:
    _request(TurnRequest(st.session_state.get("edit_text", ""), drop="last_turn"))


def _on_retry() -> None:
    failure = state.session().failure
    if failure is not None:
        _request(failure.request)


def _on_trim_and_retry() -> None:
    failure = state.session().failure
    if failure is None or failure.trim_budget is None:
        return
    st.session_state["trimming"] = TRIMMING_LABELS["token_budget"]
    st.session_state["trim_max_tokens"] = failure.trim_budget
    _request(failure.request)


def _on_edit(editing: bool) -> None:
    state.session().editing = editing


def _on_clear() -> None:
    current = state.conversation()
    current.clear()
    state.session().forget_turn()
    state.save(current)


def _on_show_more(count: int | None) -> None:
    data = state.session()
    data.visible_messages = count if count is not None else data.visible_messages + WINDOW_STEP


# -- drawing -----------------------------------------------------------------------------------


def _history(current: Conversation) -> None:
    data = state.session()
    total = len(current.messages)
    start = max(0, total - data.visible_messages)
    if start > 0:
        left, right, _ = st.columns([2, 1, 3])
        left.button(
            f"Show earlier messages ({start} hidden)",
            key="show_earlier",
            on_click=_on_show_more,
            args=(None,),
        )
        right.button("Show all", key="show_all", on_click=_on_show_more, args=(total,))
    for position in range(start, total):
        info = current.replies.get(position)
        bubble(current.messages[position], reply_caption(info) if info is not None else None)


def _controls(current: Conversation) -> None:
    data = state.session()
    if not current.messages or data.editing:
        return
    has_reply = current.messages[-1].role == "assistant"
    with st.container(horizontal=True, key="turn_controls"):
        if has_reply:
            st.button(
                "Regenerate",
                icon=":material/refresh:",
                key="regenerate",
                on_click=_request,
                args=(TurnRequest(None, drop="last_reply"),),
            )
        if current.last_user_text is not None:
            st.button("Edit", icon=":material/edit:", key="edit", on_click=_on_edit, args=(True,))
        st.button("Clear", icon=":material/delete_sweep:", key="clear", on_click=_on_clear)


def _edit_box(current: Conversation) -> None:
    if not state.session().editing:
        return
    st.text_area("Edit your last message", value=current.last_user_text or "", key="edit_text")
    with st.container(horizontal=True):
        st.button("Resend", type="primary", key="resend", on_click=_on_resend)
        st.button("Cancel", key="cancel_edit", on_click=_on_edit, args=(False,))


def _failure_box(current: Conversation) -> None:
    """The turn that failed: its message, what it said, and how to go on."""
    data = state.session()
    failure = data.failure
    if failure is None or data.editing:
        return
    text = failure.request.user_text
    if text is not None and failure.request.drop == "nothing":
        bubble(Message("user", text), "not sent")
    alert = st.warning if failure.kind == "warning" else st.error
    alert(inert_markdown(failure.message), icon=":material/error:")
    with st.container(horizontal=True):
        st.button(
            "Retry", icon=":material/replay:", key="retry", type="primary", on_click=_on_retry
        )
        if failure.trim_budget is not None:
            st.button(
                f"Trim to {failure.trim_budget:,} tokens and retry",
                icon=":material/content_cut:",
                key="trim_and_retry",
                on_click=_on_trim_and_retry,
            )


# -- the page ----------------------------------------------------------------------------------

settle_pending()  # app.py settles first; this keeps the page right when run on its own
data = state.session()
current = state.conversation()
st.subheader(inert_markdown(current.title) or "New conversation", anchor=False)
totals = st.empty()
if data.notice:
    st.info(inert_markdown(data.notice), icon=":material/info:")
    data.notice = None
request, data.request = data.request, None
base = request.base(current) if request is not None else current
_history(base)
if request is not None:
    take_turn(request, base)
    if request.drop != "nothing":
        st.rerun()  # it failed before streaming: draw the conversation as it still is
_failure_box(current)
_controls(current)
_edit_box(current)
st.chat_input("Message", key="chat_input", on_submit=_on_submit)
totals.caption(f"{model_caption()} — {totals_caption(conversation_totals(current))}")
