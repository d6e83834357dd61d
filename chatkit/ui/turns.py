"""Turns in the app: asking for them, and drawing them as they are taken.

A click or Enter only asks (``ask``): the turn goes into this session's ``TurnQueue`` with the
sidebar's settings of that moment, and a worker thread takes the turns in order. The page
draws what the queue holds: the reply arriving (``live_slot`` then ``follow``), the messages
waiting their turn, and a failure with what to do. A rerun (any click) never cuts a reply:
the worker keeps streaming and the next run follows it again.
"""

from __future__ import annotations

import streamlit as st

from chatkit.markdown import inert, inert_markdown
from chatkit.messages import Message
from chatkit.providers import provider_kind
from chatkit.turn import TrimmingSettings
from chatkit.turn_queue import TurnQueue, TurnRequest
from chatkit.ui import state

FOLLOW_SECONDS = 0.1  # how often a streaming reply is drawn again (ten times a second)
ROLE_AVATARS = {"user": "user", "assistant": "assistant", "system": ":material/summarize:"}


# -- asking ---------------------------------------------------------------------------------------


def ask(request: TurnRequest) -> None:
    """Queue a turn (a callback) with the sidebar's settings of this moment: it is taken after
    every turn asked for before it."""
    view = state.view()
    view.editing, view.notice, view.undo = None, None, None
    settings = state.settings()
    state.session().ask(request, settings, state.typed_api_key(settings.spec.kind))


def retry(trimming: TrimmingSettings | None = None) -> None:
    """Take the failed turn again, with the sidebar's settings as they are now (``trimming`` in
    place of the sidebar's, when given)."""
    settings = state.settings()
    state.session().retry(settings, state.typed_api_key(settings.spec.kind), trimming=trimming)


# -- drawing ---------------------------------------------------------------------------------------


def bubble(message: Message, caption: str | None = None) -> None:
    """One message as a chat bubble; its text can never load anything (``inert_markdown``)."""
    with st.chat_message(ROLE_AVATARS.get(message.role, message.role)):
        st.markdown(inert_markdown(message.content))
        # Always a caption line, empty without a caption: a run that follows a reply lasts
        # until the reply ends, and the browser keeps what the run before drew in a place this
        # one leaves out ("queued" under the message whose reply now streams) until then.
        if caption:
            st.caption(inert_markdown(caption))
        else:
            st.empty()


def live_slot(queue: TurnQueue) -> st.delta_generator.DeltaGenerator | None:
    """The turn being taken: its message, and the place its reply is drawn (or None)."""
    live = queue.live
    if live is None:
        return None
    text = live.job.request.user_text
    if text is not None:
        bubble(Message("user", text))
    with st.chat_message("assistant"):
        st.button(
            "Stop", icon=":material/stop_circle:", key="stop", on_click=queue.stop, type="tertiary"
        )
        slot = st.empty()
        slot.markdown(inert(live.text) or _waiting_words(queue))
    return slot


def _waiting_words(queue: TurnQueue) -> str:
    live = queue.live
    if live is not None and live.waiting is not None:
        return f"*{live.waiting.sentence()}*"
    if live is None or live.phase == "streaming":
        return "…"
    if provider_kind(live.job.provider.name).capabilities.loads_in_process:
        return "*Waiting for the local model (it loads on first use, and answers one at a time)…*"
    return "*Sending…*"


def queued(queue: TurnQueue) -> None:
    """The messages waiting their turn, in the order they were sent."""
    jobs = queue.queued
    waiting = "waits for the message above" if queue.failure else "queued: sent after the reply"
    for job in jobs:
        if job.request.user_text is not None:
            bubble(Message("user", job.request.user_text), waiting)


def follow(queue: TurnQueue, slot: st.delta_generator.DeltaGenerator | None) -> None:
    """While turns are being taken, draw the reply as it arrives; when the turn drawn ends (or
    the next one starts), draw the page again. Returns at once when the queue is idle and
    nothing changed since this run began."""
    if not queue.busy:
        view = state.view()
        if queue.version != view.drawn_version:
            view.drawn_version = queue.version  # once: the next run starts from here
            st.rerun()  # a turn ended while this run drew: draw everything (the sidebar) again
        return
    drawn = queue.live
    shown = ""
    while queue.busy:
        live = queue.live
        if live is not drawn:
            break  # another turn started (or this one ended): draw the page for it
        if live is not None and slot is not None:
            words = inert(live.text) or _waiting_words(queue)
            if words != shown:
                shown = words
                slot.markdown(words)
        # Wakes at once when the turn ends or its first words arrive; otherwise the reply is
        # drawn again every FOLLOW_SECONDS, however fast its tokens come.
        queue.wait(FOLLOW_SECONDS, since=queue.version)
    state.view().drawn_version = queue.version  # the next run draws this state whole
    st.rerun()
