"""What a lesson draws: the request the chat really sent, the context window, presenter view."""

from __future__ import annotations

import streamlit as st

from chatkit.errors import ChatkitError
from chatkit.lessons import CapturedCall, Lesson, request_messages, sent_request
from chatkit.markdown import inert_markdown
from chatkit.messages import clip
from chatkit.teaching.context_view import PreviewSummarizer, build_view, context_messages
from chatkit.turn import make_strategy
from chatkit.ui import state
from chatkit.ui.charts import view_chart

REQUEST_PICTURES = ("stateless", "history", "chain", "messages")
WINDOW_PICTURES = ("window", "trimming", "summary")
ROLE_COLOURS = {"system": "violet", "developer": "violet", "user": "blue", "assistant": "green"}
PRESENT_KEY = "present"

# Large type for the back of the room (1024x768): our own rules, nothing loaded from outside.
PRESENTER_CSS = """
<style>
.stMainBlockContainer { max-width: 100%; padding-top: 1.5rem; }
.stMainBlockContainer p, .stMainBlockContainer li, .stMainBlockContainer label
  { font-size: 1.45rem !important; line-height: 1.45; }
.stMainBlockContainer h1 { font-size: 2.6rem !important; }
.stMainBlockContainer h2 { font-size: 2.1rem !important; }
.stMainBlockContainer h3 { font-size: 1.8rem !important; }
.stMainBlockContainer code, .stMainBlockContainer pre { font-size: 1.2rem !important; }
</style>
"""


def presenter_toggle() -> bool:
    """The "Presenter view" toggle, on at first when the link says ``?present=1``; True in
    presenter view. (The link's choice is set before the toggle is drawn: Streamlit refuses a
    widget's value set after it.)"""
    if PRESENT_KEY not in st.session_state and st.query_params.get(PRESENT_KEY) == "1":
        st.session_state[PRESENT_KEY] = True
    return st.toggle(
        "Presenter view", key=PRESENT_KEY, help="Large type for a projector (or ?present=1)."
    )


def presenter_style() -> None:
    """Large type for a projector."""
    st.html(PRESENTER_CSS)


def request_picture(call: CapturedCall | None) -> None:
    """The last request as the model was sent it: one coloured row per message."""
    if call is None:
        st.caption("Nothing sent yet in this lesson: the request will appear here.")
        return
    reply = call.reply
    body = sent_request(call)
    where = f"{reply.provider} · {reply.model} · {reply.mode}".strip(" ·")
    st.markdown(f"**The last request your chat sent** ({inert_markdown(where)})")
    if reply.previous_response_id:
        st.markdown(f":orange-badge[previous_response_id] `{reply.previous_response_id}`")
    for message in request_messages(body):
        colour = ROLE_COLOURS.get(message.role, "gray")
        text = inert_markdown(clip(message.content, 160))
        st.markdown(f":{colour}-badge[{inert_markdown(message.role)}] {text}")
    with st.expander("The request, exactly"):
        st.json(body, expanded=2)


def window_picture() -> None:
    """The open conversation in the model's context window, with the sidebar's trimming."""
    settings = state.settings()
    try:
        provider = state.provider_for(settings.spec)
        window = provider.context_window() or 8192
        tokenizer = provider.tokenizer()
        view = build_view(
            context_messages(state.conversation()),
            make_strategy(settings.trimming, provider, summarizer=PreviewSummarizer()),
            context_window=window,
            reserved_for_reply=settings.options.max_output_tokens or 0,
            tokenizer=tokenizer,
            model=provider.model,
        )
    except ChatkitError as error:
        st.caption(inert_markdown(error.message))
        return
    st.altair_chart(view_chart(view), width="stretch")


def lesson_picture(item: Lesson, calls: list[CapturedCall]) -> None:
    """The figure that goes with a lesson: the request sent, or the context window."""
    if item.picture in REQUEST_PICTURES:
        request_picture(calls[-1] if calls else None)
    elif item.picture in WINDOW_PICTURES:
        window_picture()
        if calls:
            request_picture(calls[-1])
