"""The Summary page: the recent turns at a glance, a model-written summary, and a fresh start."""

import streamlit as st

from chatkit.conversation import Conversation
from chatkit.errors import ChatkitError
from chatkit.markdown import inert_markdown
from chatkit.session import settings_snapshot
from chatkit.summary import recent_summary, seeded_conversation
from chatkit.ui import saving, state
from chatkit.ui.teaching import active_provider, header, model_caption

LLM_SUMMARY_KEY = "summary_llm"
SWITCH_KEY = "summary_switch_to_chat"
CHAT_PAGE = "app_pages/chat.py"


def _start_seeded(summary_text: str) -> None:
    """Button callback: open a new conversation carrying the summary, then go to Chat.

    A callback runs before the script, so the sidebar's system prompt box can still be set.
    """
    seeded = seeded_conversation(state.conversation(), summary_text)
    seeded.settings = settings_snapshot(state.settings())  # the sidebar stays as it is
    saving.open_conversation(seeded)
    st.session_state[SWITCH_KEY] = True


def _seed_button(summary_text: str, key: str, label: str) -> None:
    st.button(
        label,
        icon=":material/forward:",
        key=key,
        on_click=_start_seeded,
        args=(summary_text,),
        disabled=not summary_text.strip(),
    )


def _llm_summary(conversation: Conversation) -> str | None:
    remembered = st.session_state.get(LLM_SUMMARY_KEY)
    if remembered and remembered[0] == (conversation.id, len(conversation.messages)):
        return remembered[1]
    return None


if st.session_state.pop(SWITCH_KEY, False):
    st.switch_page(CHAT_PAGE)
header(
    "Conversation summary",
    "A long conversation can be carried on in a new one that starts from its summary: "
    "the model keeps the facts without rereading every turn.",
)
st.caption(model_caption())
conversation = state.conversation()
if not conversation.messages:
    st.info(
        "This conversation has no messages yet: chat on the Chat page first.",
        icon=":material/info:",
    )
    st.stop()
turns = len(conversation.turns)
st.subheader("The recent turns")
narrow, _ = st.columns([1, 3])
shown = int(
    narrow.number_input(
        "Turns to show", min_value=1, max_value=max(turns, 1), value=min(3, turns), key="sum_n"
    )
)
st.caption("Each message cut to one line of at most 100 characters; no model call.")
recent = recent_summary(conversation, shown)
with st.container(border=True):
    st.text(recent)
_seed_button(recent, "seed_recent", "Start a new conversation from these lines")

st.subheader("A summary written by the model")
written = _llm_summary(conversation)
if st.button("Summarize the whole conversation", icon=":material/auto_awesome:"):
    provider = active_provider()
    if provider is not None:
        with st.spinner(f"Asking {provider.model or provider.name} for a summary…"):
            try:
                written = state.session().summarize(provider)  # counted in its totals
            except ChatkitError as error:
                st.error(inert_markdown(error.message), icon=":material/error:")
            else:
                st.session_state[LLM_SUMMARY_KEY] = (
                    (conversation.id, len(conversation.messages)),
                    written,
                )
if written is None:
    st.caption(
        f"Asks the sidebar's model ({model_caption()}) to summarize all {turns} turns, "
        f"keeping every fact you stated."
    )
    st.stop()
with st.container(border=True):
    st.markdown(inert_markdown(written))
_seed_button(written, "seed_llm", "Start a new conversation from this summary")
