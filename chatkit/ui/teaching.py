"""Widgets the teaching pages share: the page header, the provider, the hosted-demo allowance."""

from __future__ import annotations

import streamlit as st

from chatkit.errors import ChatkitError
from chatkit.providers.base import MODE_LABELS, Provider
from chatkit.providers.factory import LOCAL
from chatkit.ui import state


def header(title: str, explanation: str) -> None:
    """A page title and the one sentence that says what the page shows."""
    st.title(title)
    st.markdown(f"<p style='font-size:1.15rem'>{explanation}</p>", unsafe_allow_html=True)


def model_caption() -> str:
    """Which provider, API mode and model the sidebar chose, in words."""
    spec = state.settings().spec
    model = spec.model or ("bundled SmolLM2-135M" if spec.kind == LOCAL else "")
    return f"{spec.kind} · {MODE_LABELS.get(spec.mode, spec.mode)} · {model}"


def active_provider() -> Provider | None:
    """The sidebar's provider, or None after showing why it cannot be used."""
    try:
        return state.provider_for(state.settings().spec)
    except ChatkitError as error:
        st.error(error.message, icon=":material/error:")
        return None


def allowance_refusal() -> str | None:
    """In a hosted demo on the host's key: the sentence refusing more calls, if the limit is hit."""
    config = state.config()
    if config.hosted and state.uses_host_key(state.settings().spec.kind):
        return state.session().allowance.refusal(config)
    return None


def record_use(tokens: int) -> None:
    """Count a call against the hosted demo's allowance (only when it spends the host's key)."""
    config = state.config()
    if config.hosted and state.uses_host_key(state.settings().spec.kind):
        state.session().allowance.record(tokens)
