"""The chat page: the conversation as bubbles, a streamed reply, and the turn controls.

Every action (Enter in the input box, Regenerate, Resend, Retry) is a widget callback that
only records a ``TurnRequest``; the run that follows draws the conversation the turn starts
from and streams the reply under it, so the page never shows a reply that is about to be
replaced. When a turn ends the app reruns once, so the sidebar (saved list, downloads) and the
controls match the saved conversation.

The page is deliberately not an ``st.fragment``: a click inside a fragment does not interrupt
a run in progress (``_fragment_run_should_not_preempt_script`` in Streamlit's script
requests), and the Stop button must interrupt the run that is streaming.

Only a window of the latest messages is drawn (``Show earlier messages`` widens it), so a
rerun costs the same at 50 messages as at 5,000.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from chatkit.chat import (
    TRIMMING_LABELS,
    finish_stopped,
    finish_turn,
    make_strategy,
    prepare_turn,
)
from chatkit.conversation import Conversation
from chatkit.costs import conversation_totals, reply_caption, totals_caption
from chatkit.errors import ChatkitError, ContextOverflow, ContextTooLong, StreamInterrupted
from chatkit.messages import Message
from chatkit.providers.base import MODE_LABELS, GenerationOptions, Provider
from chatkit.tokens import count_message_tokens
from chatkit.ui import state
from chatkit.ui.state import Failure, TurnRequest

WINDOW_STEP = 40
ROLE_AVATARS = {"user": "user", "assistant": "assistant", "system": ":material/summarize:"}
STOPPED_EMPTY = "The reply was stopped before any text arrived: nothing was added."


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


def settle_pending() -> None:
    """A run that streamed was interrupted (the Stop button, or any click): keep what arrived.

    With Streamlit's fast reruns (``runner.fastReruns``, on by default) the interrupted run
    may still be waiting for its next chunk in its own thread, so this never touches the SDK
    stream (that run closes it when it wakes); it keeps the text that has arrived so far.
    ``turn_lock`` makes sure exactly one of the two runs finishes the turn.
    """
    data = state.session()
    with data.turn_lock:
        pending = data.pending
        if pending is None:
            return
        data.pending = None
        _settle(pending)


def _settle(pending: state.Pending) -> None:
    """(Under ``turn_lock``.) Add the reply: whole if it finished, else what arrived, stopped."""
    reply = pending.reply
    result = reply.result
    if result is not None:
        _record_use(result.usage.total_tokens if result.usage else 0)
        updated = finish_turn(pending.prepared, result)
    else:
        _record_use(pending.prepared.prompt_tokens)
        text = reply.partial_text
        if not text:
            state.session().failure = Failure(pending.request, STOPPED_EMPTY, kind="warning")
            return
        updated = finish_stopped(pending.prepared, pending.provider, text, pending.options)
    state.set_conversation(updated)
    state.save(updated)


def _settle_failure(pending: state.Pending, error: ChatkitError) -> None:
    """(Under ``turn_lock``.) Record why the turn failed; a cut-off stream keeps its text."""
    data = state.session()
    request = pending.request
    if isinstance(error, StreamInterrupted) and error.partial_text:
        _record_use(pending.prepared.prompt_tokens)
        updated = finish_stopped(
            pending.prepared, pending.provider, error.partial_text, pending.options
        )
        position = len(updated.messages) - 1
        updated.replies[position] = replace(updated.replies[position], note=error.message)
        state.set_conversation(updated)
        state.save(updated)
        # Retry regenerates the reply, replacing the partial one.
        data.failure = Failure(TurnRequest(None, drop="last_reply"), error.message)
    elif isinstance(error, ContextTooLong):
        trimming = state.settings().trimming
        trim = trimming.max_tokens if trimming.kind == "none" else None
        data.failure = Failure(request, error.message, kind="warning", trim_budget=trim)
    else:
        data.failure = Failure(request, error.message)


def _record_use(tokens: int) -> None:
    """Count a turn against the hosted demo's allowance when it spent the host's key."""
    config = state.config()
    if config.hosted and state.uses_host_key(state.settings().spec.kind):
        state.session().allowance.record(tokens)


def _bubble(message: Message, caption: str | None = None) -> None:
    with st.chat_message(ROLE_AVATARS.get(message.role, message.role)):
        st.markdown(message.content)
        if caption:
            st.caption(caption)


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
        _bubble(current.messages[position], reply_caption(info) if info is not None else None)


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
        _bubble(Message("user", text), "not sent")
    alert = st.warning if failure.kind == "warning" else st.error
    alert(failure.message, icon=":material/error:")
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


def _trim_budget(
    base: Conversation, user_text: str | None, provider: Provider, options: GenerationOptions
) -> int | None:
    """A token budget that would make the turn fit, or None when trimming cannot help.

    Trimming drops older turns; it cannot help when the newest message alone (with the system
    prompt and the room kept for the reply) is already too large.
    """
    window = provider.context_window()
    if window is None or not base.messages:
        return None
    reserve = options.max_output_tokens or 0
    budget = window - reserve - window // 50  # a little room for counting differences
    newest = [Message("user", user_text or base.last_user_text or "")]
    if base.system_prompt:
        newest.insert(0, Message("system", base.system_prompt))
    needed = count_message_tokens(newest, provider.model, tokenizer=provider.tokenizer()).total
    return budget if needed < budget else None


def _take_turn(request: TurnRequest, base: Conversation) -> None:
    """Send one turn from ``base`` and stream the reply under the history.

    A failure before any text arrives leaves the conversation as it was and records a
    ``Failure`` (shown with Retry); a stream cut off midway keeps the text that arrived.
    """
    data = state.session()
    settings = state.settings()
    config = state.config()
    if config.hosted and state.uses_host_key(settings.spec.kind):
        refusal = data.allowance.refusal(config)
        if refusal:
            data.failure = Failure(request, refusal, kind="warning")
            return
    try:
        provider = state.provider_for(settings.spec)
        if provider.capabilities.loads_in_process:
            with st.spinner("Loading the local model (first use only)…", show_time=True):
                provider.context_window()
        strategy = make_strategy(settings.trimming, provider)
        prepared = prepare_turn(base, request.user_text, provider, strategy, settings.options)
    except ContextOverflow as error:
        budget = _trim_budget(base, request.user_text, provider, settings.options)
        data.failure = Failure(request, error.message, kind="warning", trim_budget=budget)
        return
    except ChatkitError as error:
        data.failure = Failure(request, error.message)
        return
    if request.user_text is not None:
        _bubble(Message("user", request.user_text))
    with st.chat_message("assistant"):
        # Clicking Stop reruns the app, which interrupts this run; settle_pending keeps the text.
        st.button("Stop", icon=":material/stop_circle:", key="stop")
        reply = provider.stream(prepared.messages, settings.options, prepared.previous_response_id)
        pending = state.Pending(prepared, provider, reply, settings.options, request)
        data.pending = pending
        try:
            st.write_stream(reply)
        except ChatkitError as error:
            with data.turn_lock:
                if data.pending is not pending:
                    return  # another run already settled this turn
                data.pending = None
                _settle_failure(pending, error)
            st.rerun()
        finally:
            if not reply.done:
                # Interrupted (Stop, or any other click): close the SDK stream here, in the
                # thread that reads it. A finished or failed stream needs nothing.
                reply.stop()
    with data.turn_lock:
        if data.pending is not pending:
            return  # a Stop in another run already kept this reply
        data.pending = None
        _settle(pending)
    st.rerun()  # draw the page (and the sidebar's list and downloads) from the saved turn


def render_chat_page() -> None:
    """Which provider, mode and model are in use, the conversation, and the input box."""
    settle_pending()  # app.py settles first; this keeps the page right when run on its own
    data = state.session()
    spec = state.settings().spec
    model = spec.model or ("bundled SmolLM2-135M" if spec.kind == "Local" else "")
    current = state.conversation()
    st.subheader(current.title or "New conversation", anchor=False)
    totals = st.empty()
    if data.notice:
        st.info(data.notice, icon=":material/info:")
        data.notice = None
    request, data.request = data.request, None
    base = request.base(current) if request is not None else current
    _history(base)
    if request is not None:
        _take_turn(request, base)
        if request.drop != "nothing":
            st.rerun()  # it failed before streaming: draw the conversation as it still is
    _failure_box(current)
    _controls(current)
    _edit_box(current)
    st.chat_input("Message", key="chat_input", on_submit=_on_submit)
    summary = totals_caption(conversation_totals(current))
    totals.caption(f"{spec.kind} · {MODE_LABELS[spec.mode]} · {model} — {summary}")
