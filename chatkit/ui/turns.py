"""Taking a turn in the app: stream the reply under the history, and keep it however it ends.

A turn is asked for by a callback (a ``TurnRequest``) and taken by the next run:
``take_turn`` prepares it with chatkit, streams the reply into the page, and saves the result.
A click during the stream (Stop, or any other) interrupts that run; ``settle_pending``, called
at the top of the next run, keeps what arrived. A failure records a ``Failure`` with Retry.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace

import streamlit as st

from chatkit.chat import (
    DEFAULT_MAX_INPUT_CHARS,
    finish_stopped,
    finish_turn,
    make_strategy,
    prepare_turn,
)
from chatkit.conversation import Conversation
from chatkit.errors import (
    ChatkitError,
    ContextOverflow,
    ContextTooLong,
    QuotaExceeded,
    StreamInterrupted,
)
from chatkit.markdown import inert, inert_markdown
from chatkit.messages import Message
from chatkit.providers import GenerationOptions, Provider
from chatkit.tokens import count_message_tokens
from chatkit.ui import state
from chatkit.ui.state import Failure, TurnRequest

REDRAW_SECONDS = 0.05
ROLE_AVATARS = {"user": "user", "assistant": "assistant", "system": ":material/summarize:"}
STOPPED_EMPTY = "The reply was stopped before any text arrived: nothing was added."


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
        updated = finish_turn(pending.prepared, result)
    else:
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
    elif isinstance(error, QuotaExceeded):
        data.failure = Failure(request, error.message, kind="warning")
    else:
        data.failure = Failure(request, error.message)


def bubble(message: Message, caption: str | None = None) -> None:
    """One message as a chat bubble; its text can never load anything (``inert_markdown``)."""
    with st.chat_message(ROLE_AVATARS.get(message.role, message.role)):
        st.markdown(inert_markdown(message.content))
        if caption:
            st.caption(inert_markdown(caption))


def show_stream(chunks: Iterable[str]) -> str:
    """Draw a reply as it arrives, redrawn at most every ``REDRAW_SECONDS`` (each redraw sends
    the whole text to the browser), made inert like every message; returns the text."""
    placeholder = st.empty()
    text, drawn_at = "", 0.0
    for chunk in chunks:
        text += chunk
        now = time.monotonic()
        if now - drawn_at >= REDRAW_SECONDS:
            placeholder.markdown(inert(text))
            drawn_at = now
    placeholder.markdown(inert(text))
    return text


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


def take_turn(request: TurnRequest, base: Conversation) -> None:
    """Send one turn from ``base`` and stream the reply under the history.

    A failure before any text arrives leaves the conversation as it was and records a
    ``Failure`` (shown with Retry); a stream cut off midway keeps the text that arrived.
    """
    data = state.session()
    settings = state.settings()
    config = state.config()
    max_chars = config.limits.max_message_chars if config.hosted else DEFAULT_MAX_INPUT_CHARS
    try:
        provider = state.provider_for(settings.spec)
        if provider.capabilities.loads_in_process:
            with st.spinner("Loading the local model (first use only)…", show_time=True):
                provider.context_window()
        strategy = make_strategy(settings.trimming, provider)
        prepared = prepare_turn(
            base,
            request.user_text,
            provider,
            strategy,
            settings.options,
            max_input_chars=max_chars,
        )
    except ContextOverflow as error:
        budget = _trim_budget(base, request.user_text, provider, settings.options)
        data.failure = Failure(request, error.message, kind="warning", trim_budget=budget)
        return
    except ChatkitError as error:
        kind = "warning" if isinstance(error, QuotaExceeded) else "error"
        data.failure = Failure(request, error.message, kind=kind)
        return
    if request.user_text is not None:
        bubble(Message("user", request.user_text))
    with st.chat_message("assistant"):
        # Clicking Stop reruns the app, which interrupts this run; settle_pending keeps the text.
        st.button("Stop", icon=":material/stop_circle:", key="stop")
        reply = provider.stream(prepared.messages, settings.options, prepared.previous_response_id)
        pending = state.Pending(prepared, provider, reply, settings.options, request)
        data.pending = pending
        try:
            show_stream(reply)
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
