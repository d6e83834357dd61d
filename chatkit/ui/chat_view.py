"""The chat page: the conversation as bubbles, a streamed reply, and the turn controls.

The chat area runs as an ``st.fragment``: sending and streaming a reply reruns only this area,
not the sidebar. Only a window of the latest messages is drawn (``Show earlier messages``
widens it), so a rerun costs the same at 50 messages as at 5,000.
"""

from __future__ import annotations

import streamlit as st

from chatkit.chat import finish_stopped, finish_turn, make_strategy, prepare_turn
from chatkit.conversation import Conversation
from chatkit.costs import conversation_totals, reply_caption, totals_caption
from chatkit.errors import ChatkitError, ContextOverflow, StreamInterrupted
from chatkit.providers.base import MODE_LABELS
from chatkit.ui import state

WINDOW_STEP = 40
ROLE_AVATARS = {"user": "user", "assistant": "assistant", "system": ":material/summarize:"}


def settle_pending() -> None:
    """A rerun while a reply streamed (the Stop button, or any click): keep what arrived."""
    data = state.session()
    pending = data.pending
    if pending is None:
        return
    data.pending = None
    reply = pending.reply
    if reply.done and reply.result is not None:
        updated = finish_turn(pending.prepared, reply.result)
    else:
        reply.stop()
        if not reply.partial_text:
            data.failed_input = pending.prepared.conversation.last_user_text
            data.notice = "The reply was stopped before any text arrived: nothing was added."
            return
        updated = finish_stopped(
            pending.prepared, pending.provider, reply.partial_text, pending.options
        )
    state.set_conversation(updated)
    state.save(updated)


def _history(current: Conversation) -> None:
    data = state.session()
    total = len(current.messages)
    start = max(0, total - data.visible_messages)
    if start > 0:
        left, right, _ = st.columns([2, 1, 3])
        if left.button(f"Show earlier messages ({start} hidden)", key="show_earlier"):
            data.visible_messages += WINDOW_STEP
            st.rerun()
        if right.button("Show all", key="show_all"):
            data.visible_messages = total
            st.rerun()
    for position in range(start, total):
        message = current.messages[position]
        with st.chat_message(ROLE_AVATARS.get(message.role, message.role)):
            st.markdown(message.content)
            info = current.replies.get(position)
            if info is not None:
                st.caption(reply_caption(info))


def _controls(current: Conversation) -> None:
    data = state.session()
    if not current.messages or data.editing:
        return
    columns = st.columns([1, 1, 1, 4])
    has_reply = current.messages[-1].role == "assistant"
    if has_reply and columns[0].button("Regenerate", icon=":material/refresh:", key="regenerate"):
        _take_turn(None, current.without_last_reply())
    if current.last_user_text is not None and columns[1].button(
        "Edit", icon=":material/edit:", key="edit"
    ):
        data.editing = True
        st.rerun()
    if columns[2].button("Clear", icon=":material/delete_sweep:", key="clear"):
        current.clear()
        data.failed_input = None
        state.save(current)
        st.rerun()


def _edit_box(current: Conversation) -> None:
    data = state.session()
    if not data.editing:
        return
    text = st.text_area(
        "Edit your last message", value=current.last_user_text or "", key="edit_text"
    )
    left, right, _ = st.columns([1, 1, 5])
    if left.button("Resend", type="primary", key="resend"):
        data.editing = False
        _take_turn(text, current.without_last_turn())
    elif right.button("Cancel", key="cancel_edit"):
        data.editing = False
        st.rerun()


def _show_error(error: ChatkitError, partial_text: str = "") -> None:
    with st.chat_message("assistant"):
        if partial_text:
            st.markdown(partial_text)
        st.error(error.message, icon=":material/error:")


def _take_turn(user_text: str | None, base: Conversation) -> None:
    """Send one turn from ``base`` and stream the reply; on failure nothing changes."""
    data = state.session()
    settings = state.settings()
    config = state.config()
    data.failed_input = None
    if config.hosted and state.uses_host_key(settings.spec.kind):
        refusal = data.allowance.refusal(config)
        if refusal:
            st.warning(refusal, icon=":material/block:")
            return
    try:
        provider = state.provider_for(settings.spec)
        if provider.capabilities.loads_in_process:
            with st.spinner("Loading the local model (first use only)…", show_time=True):
                provider.context_window()
        strategy = make_strategy(settings.trimming, provider)
        prepared = prepare_turn(base, user_text, provider, strategy, settings.options)
    except ContextOverflow as error:
        data.failed_input = user_text
        st.warning(error.message, icon=":material/data_usage:")
        return
    except ChatkitError as error:
        data.failed_input = user_text
        st.error(error.message, icon=":material/error:")
        return
    if user_text is not None:
        with st.chat_message("user"):
            st.markdown(user_text)
    with st.chat_message("assistant"):
        stop_slot = st.empty()
        stop_slot.button("Stop", icon=":material/stop_circle:", key="stop")
        reply = provider.stream(prepared.messages, settings.options, prepared.previous_response_id)
        data.pending = state.Pending(prepared, provider, reply, settings.options)
        try:
            st.write_stream(reply)
        except ChatkitError as error:
            data.pending = None
            stop_slot.empty()
            data.failed_input = prepared.conversation.last_user_text
            partial = error.partial_text if isinstance(error, StreamInterrupted) else ""
            if partial:
                st.markdown(partial)
            st.error(error.message, icon=":material/error:")
            return
        stop_slot.empty()
        data.pending = None
        result = reply.result
        assert result is not None
        updated = finish_turn(prepared, result)
        st.caption(reply_caption(updated.replies[len(updated.messages) - 1]))
    if config.hosted and state.uses_host_key(settings.spec.kind) and result.usage:
        data.allowance.record(result.usage.total_tokens)
    new_title = not base.title
    state.set_conversation(updated)
    state.save(updated)
    if new_title:
        st.rerun()  # the sidebar lists the new conversation


@st.fragment
def chat_area() -> None:
    """The conversation, its controls and the input box (reruns on its own)."""
    settle_pending()
    data = state.session()
    if data.notice:
        st.info(data.notice, icon=":material/info:")
        data.notice = None
    totals = st.empty()
    current = state.conversation()
    _history(current)
    _controls(current)
    _edit_box(current)
    retry_text = None
    offer_retry = data.failed_input is not None and not data.editing
    if offer_retry and st.button("Retry", icon=":material/replay:", key="retry", type="primary"):
        retry_text, data.failed_input = data.failed_input, None
    prompt = st.chat_input("Message", key="chat_input")
    if retry_text is not None:
        _take_turn(retry_text, state.conversation())
    elif prompt is not None and prompt.strip():  # empty input is ignored
        _take_turn(prompt, state.conversation())
    totals.caption(totals_caption(conversation_totals(state.conversation())))


def render_chat_page() -> None:
    """Which provider, mode and model are in use, then the chat area."""
    spec = state.settings().spec
    model = spec.model or ("bundled SmolLM2-135M" if spec.kind == "Local" else "")
    st.caption(f"{spec.kind} · {MODE_LABELS[spec.mode]} · {model}")
    chat_area()
