"""The chat page: the conversation as bubbles, the reply as it streams, and what to do next.

Every action (Enter, Regenerate, Edit, Retry) only asks for a turn (``chatkit.ui.turns.ask``);
the session's turn queue takes turns in the order asked, so messages sent quickly, or while a
reply streams or the model loads, all arrive in order. Regenerate and Edit keep the earlier
versions ("‹ 2 / 3 ›" under the message). Only a window of the latest messages is drawn (``Show
earlier messages`` widens it), so a rerun costs the same at 50 messages as at 5,000.
"""

from contextlib import nullcontext

import streamlit as st

from chatkit.conversation import Conversation
from chatkit.costs import conversation_totals, reply_caption, totals_caption
from chatkit.errors import ChatkitError
from chatkit.markdown import inert_markdown
from chatkit.messages import InContext, Message
from chatkit.next_send import Divider
from chatkit.turn import TRIMMING_LABELS, TrimmingSettings
from chatkit.turn_queue import TurnRequest
from chatkit.ui import next_send, saving, state, turns
from chatkit.ui.lessons import banner as lesson_banner
from chatkit.ui.teaching import model_caption

WINDOW_STEP = 40


# -- callbacks: they only ask; the turn queue does it ---------------------------------------------


def _on_submit() -> None:
    text = st.session_state.get("chat_input")
    if text and text.strip():  # empty input is ignored
        next_send.forget_sent(text)
        turns.ask(TurnRequest(text))


def _on_edit(position: int | None) -> None:
    state.view().editing = position
    if position is not None:
        st.session_state["edit_text"] = state.conversation().messages[position].content


def _on_resend(position: int) -> None:
    turns.ask(TurnRequest(st.session_state.get("edit_text", ""), edit_at=position))


def _on_edit_unsent() -> None:
    queue = state.queue()
    if queue.failure is not None:
        st.session_state["edit_text"] = queue.failure.request.user_text or ""
        state.view().editing = -1


def _on_resend_unsent() -> None:
    state.queue().dismiss_failure()
    turns.ask(TurnRequest(st.session_state.get("edit_text", "")))


def _on_trim_and_retry() -> None:
    failure = state.queue().failure
    if failure is None or failure.trim_budget is None:
        return
    st.session_state["trimming"] = TRIMMING_LABELS["token_budget"]
    st.session_state["trim_max_tokens"] = failure.trim_budget
    turns.retry(TrimmingSettings("token_budget", max_tokens=failure.trim_budget))


def _on_switch(position: int, index: int) -> None:
    try:
        state.queue().update(lambda c: c.switched(position, index))
    except ChatkitError as error:
        state.view().notice = error.message


def _on_clear() -> None:
    current = state.conversation()
    saving.remember_for_undo("Cleared", current)

    def cleared(conversation: Conversation) -> Conversation:
        conversation.clear()
        return conversation

    try:
        state.queue().update(cleared)
    except ChatkitError as error:
        state.view().notice = error.message


def _on_in_context(position: int, choice: InContext) -> None:
    """Pin a message, leave it out, or give it back to trimming (saved with the conversation)."""
    try:
        state.queue().update(lambda c: c.with_in_context(position, choice))
    except ChatkitError as error:
        state.view().notice = error.message


IN_CONTEXT_CAPTIONS = {
    "pinned": ":material/keep: Kept in context: trimming never drops it, no summary replaces it.",
    "left_out": ":material/visibility_off: Left out: never sent to the model.",
}


# Each choice's button: its key prefix, then (icon, help) to turn it on and to turn it off.
IN_CONTEXT_BUTTONS: dict[InContext, tuple[str, tuple[str, str], tuple[str, str]]] = {
    "pinned": (
        "pin",
        (":material/keep:", "Keep in context: always sent"),
        (":material/keep_off:", "Stop keeping it in context"),
    ),
    "left_out": (
        "leave_out",
        (":material/visibility_off:", "Leave out: never sent"),
        (":material/visibility:", "Send it again"),
    ),
}


def _in_context_buttons(message: Message, position: int) -> None:
    for choice, (prefix, turn_on, turn_off) in IN_CONTEXT_BUTTONS.items():
        chosen = message.in_context == choice
        icon, words = turn_off if chosen else turn_on
        st.button(
            "",
            icon=icon,
            key=f"{prefix}_{position}",
            help=words,
            on_click=_on_in_context,
            args=(position, "auto" if chosen else choice),
            type="tertiary",
        )


def _on_show_more(count: int | None) -> None:
    view = state.view()
    view.visible_messages = count if count is not None else view.visible_messages + WINDOW_STEP


# -- drawing --------------------------------------------------------------------------------------


def _versions(current: Conversation, position: int) -> None:
    """ "‹ 2 / 3 ›" under a message that has other versions."""
    shown = current.versions_at(position)
    if shown is None:
        return
    index, count = shown
    with st.container(
        horizontal=True, vertical_alignment="center", gap="small", key=f"versions_{position}"
    ):
        st.button(
            "‹",
            key=f"older_{position}",
            disabled=index == 1,
            on_click=_on_switch,
            args=(position, index - 2),
            type="tertiary",
            help="The previous version",
        )
        # only as wide as its text: at the default width it fills the row, › at the far end
        st.caption(f"{index} / {count}", width="content")
        st.button(
            "›",
            key=f"newer_{position}",
            disabled=index == count,
            on_click=_on_switch,
            args=(position, index),
            type="tertiary",
            help="The next version",
        )


def _divider(current: Conversation, divider: Divider) -> None:
    """The line above which trimming sends nothing (but what is kept in context), or where a
    summary stands in for the older messages (click to read it)."""
    kept = sum(m.pinned for m in current.messages[: divider.before])
    words = divider.words + (f" — except {kept} kept in context" if kept else "")
    with st.container(key="not_sent_divider"):
        if divider.summary:
            with st.expander(words, icon=":material/summarize:"):
                st.markdown(inert_markdown(divider.summary).replace("\n", "  \n"))
        else:
            st.caption(f":material/vertical_align_top: {words}")


def _message(current: Conversation, position: int, busy: bool) -> None:
    message = current.messages[position]
    info = current.replies.get(position)
    if info is not None and info.trimmed:
        st.caption(f":material/content_cut: {inert_markdown(info.trimmed)}")
    faded = (
        st.container(key=f"{next_send.LEFT_OUT_PREFIX}{position}")
        if message.left_out
        else nullcontext()
    )
    with faded, st.chat_message(turns.ROLE_AVATARS.get(message.role, message.role)):
        st.markdown(inert_markdown(message.content))
        if message.in_context in IN_CONTEXT_CAPTIONS:
            st.caption(IN_CONTEXT_CAPTIONS[message.in_context])
        if info is not None:
            st.caption(inert_markdown(reply_caption(info)))
        with st.container(horizontal=True, key=f"actions_{position}"):
            with st.popover("", icon=":material/content_copy:", help="Copy this message"):
                st.code(message.content, language=None, wrap_lines=True)
            if message.role == "user" and not busy:
                st.button(
                    "",
                    icon=":material/edit:",
                    key=f"edit_{position}",
                    help="Edit this message: the conversation from here is kept as a version",
                    on_click=_on_edit,
                    args=(position,),
                    type="tertiary",
                )
            if not busy:
                _in_context_buttons(message, position)
        _versions(current, position)
    if state.view().editing == position:
        _edit_box(position)


def _edit_box(position: int) -> None:
    st.text_area("Edit your message", key="edit_text")
    with st.container(horizontal=True):
        st.button("Resend", type="primary", key="resend", on_click=_on_resend, args=(position,))
        st.button("Cancel", key="cancel_edit", on_click=_on_edit, args=(None,))


def _history(current: Conversation, busy: bool, divider: Divider | None) -> None:
    view = state.view()
    total = len(current.messages)
    start = max(0, total - view.visible_messages)
    if start > 0:
        left, right, _ = st.columns([2, 1, 3])
        left.button(
            f"Show earlier messages ({start} hidden)",
            key="show_earlier",
            on_click=_on_show_more,
            args=(None,),
        )
        right.button("Show all", key="show_all", on_click=_on_show_more, args=(total,))
    if any(m.left_out for m in current.messages[start:]):
        st.html(next_send.LEFT_OUT_CSS)
    for position in range(start, total):
        if divider is not None and divider.before == position:
            _divider(current, divider)
        _message(current, position, busy)
    if divider is not None and divider.before == total:  # only the message being typed is sent
        _divider(current, divider)


def _failure_box() -> None:
    """The turn that failed: its message, what it said, and how to go on."""
    queue = state.queue()
    failure = queue.failure
    if failure is None:
        return
    text = failure.request.user_text
    unsent = text is not None and failure.request.edit_at is None
    if state.view().editing == -1 and unsent:
        _edit_unsent_box()
    elif unsent:
        turns.bubble(Message("user", text or ""), "not sent")
    alert = st.warning if failure.severity == "warning" else st.error
    alert(inert_markdown(failure.message), icon=":material/error:")
    with st.container(horizontal=True):
        st.button(
            "Retry", icon=":material/replay:", key="retry", type="primary", on_click=turns.retry
        )
        if failure.trim_budget is not None:
            st.button(
                f"Trim to {failure.trim_budget:,} tokens and retry",
                icon=":material/content_cut:",
                key="trim_and_retry",
                on_click=_on_trim_and_retry,
            )
        if unsent:
            st.button("Edit", icon=":material/edit:", key="edit_unsent", on_click=_on_edit_unsent)
        st.button("Discard", key="discard", on_click=queue.dismiss_failure)


def _edit_unsent_box() -> None:
    st.text_area("Edit your message", key="edit_text")
    with st.container(horizontal=True):
        st.button("Send", type="primary", key="send_edited", on_click=_on_resend_unsent)
        st.button("Cancel", key="cancel_unsent", on_click=_on_edit, args=(None,))


def _controls(current: Conversation, busy: bool) -> None:
    if not current.messages or busy:
        return
    with st.container(horizontal=True, key="turn_controls"):
        if current.messages[-1].role == "assistant":
            st.button(
                "Regenerate",
                icon=":material/refresh:",
                key="regenerate",
                on_click=turns.ask,
                args=(TurnRequest(None),),
                help="Ask again: this reply is kept as a version",
            )
        st.button("Clear", icon=":material/delete_sweep:", key="clear", on_click=_on_clear)


def _undo_box() -> None:
    view = state.view()
    if view.undo is None:
        return
    left, right = st.columns([4, 1])
    title = view.undo.conversation.title or "Untitled"
    left.info(f"{view.undo.label} “{inert_markdown(title)}”.", icon=":material/info:")
    right.button("Undo", icon=":material/undo:", key="undo", on_click=saving.undo)


def _totals(current: Conversation) -> str:
    """The running totals, worked out once per version of the conversation (a rerun with
    nothing new must not add up 5,000 replies again)."""
    view = state.view()
    key = (
        id(current),
        current.version,
        len(current.messages),
        len(current.forks),
        len(current.extra_calls),
    )
    if view.totals[0] != key:
        shown = conversation_totals(current)
        every = conversation_totals(current, every_version=True)
        view.totals = (key, totals_caption(shown, every))
    return view.totals[1]


# -- the page -------------------------------------------------------------------------------------

view = state.view()
queue = state.queue()
live = queue.live
current = live.base if live is not None else queue.conversation
busy = queue.busy
st.subheader(inert_markdown(current.title) or "New conversation", anchor=False)
lesson_banner()  # the lesson open, if any: its task and its check on what was sent
totals = st.empty()
if queue.notice:
    view.notice, queue.notice = queue.notice, None
if view.notice:  # shown until the next message is sent
    st.info(inert_markdown(view.notice), icon=":material/info:")
_undo_box()
plan = next_send.current_plan(current, next_send.typed_draft())
_history(current, busy, plan.divider if plan is not None else None)
slot = turns.live_slot(queue)
turns.queued(queue)
_failure_box()
_controls(current, busy)
with st.bottom:
    st.chat_input("Message", key="chat_input", on_submit=_on_submit)
    next_send.line(current)
totals.caption(f"{model_caption()} — {_totals(current)}")
turns.follow(queue, slot)
