"""Widgets the teaching pages share: the page header, the provider in use and its caption."""

from __future__ import annotations

import streamlit as st

from chatkit.errors import ChatkitError
from chatkit.markdown import inert_markdown
from chatkit.providers import Provider
from chatkit.ui import state


def header(title: str, explanation: str) -> None:
    """A page title and the one sentence that says what the page shows."""
    st.title(title)
    st.markdown(f"<p style='font-size:1.15rem'>{explanation}</p>", unsafe_allow_html=True)


def model_caption() -> str:
    """Which provider, API mode and model the sidebar chose, in words."""
    spec = state.settings().spec
    kind = state.kind()
    return f"{spec.kind} · {kind.mode_label(spec.mode)} · {kind.model_label(spec.model)}"


def active_provider() -> Provider | None:
    """The sidebar's provider, or None after showing why it cannot be used."""
    try:
        return state.provider_for(state.settings().spec)
    except ChatkitError as error:
        st.error(inert_markdown(error.message), icon=":material/error:")
        return None
