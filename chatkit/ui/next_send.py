"""The next send on the chat page: its line under the input, live as the user types, and the
"not sent" divider in the transcript.

The chat input tells Python nothing until Enter, so a small listener (a ``components.v2``
component with no HTML of its own) watches the input's text in the browser and hands it over
when typing pauses (``DEBOUNCE_MS``). It lives in a fragment with the line, so a pause in
typing reruns the line alone, never the page. The plan (``chatkit.next_send``) is kept per
conversation version, settings and draft: the same draft is never measured twice.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from chatkit.conversation import Conversation
from chatkit.errors import ChatkitError
from chatkit.markdown import inert_markdown
from chatkit.next_send import NextSend, plan_next_send
from chatkit.session import Settings, uses_host_key
from chatkit.ui import state

DRAFT_KEY = "next_send_draft"
DEBOUNCE_MS = 300
CHAT_INPUT = '[data-testid="stChatInputTextArea"]'

# Watches the chat input from the page's document (the input lives outside the component) and
# reports its text once typing pauses, and "" at once when the message is sent. Only ever reads.
_LISTENER_JS = f"""
export default function(component) {{
    const {{ setStateValue }} = component;
    let timer = null;
    let sent = null;
    const report = (text) => {{
        if (text !== sent) {{ sent = text; setStateValue("draft", text); }}
    }};
    const later = (target) => {{
        clearTimeout(timer);
        timer = setTimeout(() => report(target.value), {DEBOUNCE_MS});
    }};
    const onInput = (event) => {{
        if (event.target.matches && event.target.matches('{CHAT_INPUT}')) later(event.target);
    }};
    const onKey = (event) => {{
        const target = event.target;
        if (!target.matches || !target.matches('{CHAT_INPUT}')) return;
        if (event.key === "Enter" && !event.shiftKey) {{
            clearTimeout(timer);
            setTimeout(() => {{ if (!target.value) report(""); }}, 50);
        }}
    }};
    document.addEventListener("input", onInput, true);
    document.addEventListener("keydown", onKey, true);
    return () => {{
        clearTimeout(timer);
        document.removeEventListener("input", onInput, true);
        document.removeEventListener("keydown", onKey, true);
    }};
}}
"""

_listener = st.components.v2.component("chatkit_draft_listener", js=_LISTENER_JS)

# Left-out messages are drawn faded (their container's key starts with this).
LEFT_OUT_PREFIX = "left_out_message_"
LEFT_OUT_CSS = f"""
<style>
[class*="st-key-{LEFT_OUT_PREFIX}"] {{ opacity: 0.5; }}
[class*="st-key-{LEFT_OUT_PREFIX}"] [data-testid="stChatMessageContent"] p {{
    text-decoration: line-through;
}}
</style>
"""


def typed_draft() -> str:
    """The chat input's text as the listener last reported it ("" once it was sent)."""
    value = st.session_state.get(DRAFT_KEY)
    draft = value.get("draft") if isinstance(value, dict) else getattr(value, "draft", None)
    text = draft if isinstance(draft, str) else ""
    if text and text == state.view().sent_draft:
        return ""  # the listener has not caught up with the send yet
    return text


def forget_sent(text: str) -> None:
    """The message ``text`` was sent: the line stops measuring it as a draft."""
    state.view().sent_draft = text


def current_plan(conversation: Conversation, draft: str) -> NextSend | None:
    """The next send for ``draft`` with the sidebar's settings (None when the provider cannot
    be used: the sidebar or the failed turn says why)."""
    settings: Settings = state.settings()
    key: tuple[Any, ...] = (
        id(conversation),
        conversation.version,
        len(conversation.messages),
        conversation.system_prompt,
        tuple(m.in_context for m in conversation.messages[-200:]),
        settings.spec,
        settings.trimming,
        settings.options,
        state.typed_api_key(settings.spec.kind) is not None,
        draft.strip(),
    )
    view = state.view()
    if view.next_send[0] == key:
        return view.next_send[1]
    try:
        provider = state.provider_for(settings.spec)
        plan = plan_next_send(
            conversation, draft, provider, settings.trimming, options=settings.options
        )
    except ChatkitError:
        plan = None
    view.next_send = (key, plan)
    return plan


def _allowance() -> str:
    """In a hosted demo on the host's key: what the visitor has left today, in a few words."""
    spec = state.settings().spec
    if not state.config().hosted or not uses_host_key(state.typed_api_key(spec.kind)):
        return ""
    meter = state.session().meter()
    if meter is None:
        return ""
    try:
        left = meter.allowance()
    except ChatkitError:
        return ""
    return f"{left.turns_left} turns and {left.tokens_left:,} tokens left today"


@st.fragment
def line(conversation: Conversation) -> None:
    """The "Next request: …" line; reruns alone when typing pauses."""
    _listener(key=DRAFT_KEY, on_draft_change=lambda: None, height=0)
    plan = current_plan(conversation, typed_draft())
    if plan is not None:
        with st.container(key="next_send_line"):
            st.caption(inert_markdown(plan.line(_allowance())))
