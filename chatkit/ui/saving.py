"""The open conversation and the URL: opening one, keeping ``?c=`` on every page, undo.

A conversation is saved with the settings it was had with (provider, API mode, model, base
URL, trimming, sampling: ``chatkit.session.settings_snapshot``) and opening it restores them in
the sidebar, so a reload or a shared link on any page shows the same conversation the same way.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from chatkit.conversation import Conversation
from chatkit.errors import ChatkitError
from chatkit.hosted import visitor_endpoints, visitor_models, visitor_providers
from chatkit.providers import provider_kind
from chatkit.summary import SEED_HEADING
from chatkit.turn import TRIMMING_LABELS
from chatkit.ui import local_models, state
from chatkit.ui.state import Undo

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
# Where the sidebar keeps the provider's default a widget started from (see sidebar): a value
# restored from a conversation drops it, so that it counts as chosen, not as a default.
PROVIDER_DEFAULT_MARKER = "{}_provider_default"


# -- the settings a conversation was had with ---------------------------------------------------


def apply_settings(saved: dict[str, Any]) -> None:
    """Put a conversation's saved settings into the sidebar's widgets (before it is drawn).

    Only what this app instance offers is restored: a provider, model or endpoint a hosted
    demo does not allow is left as the sidebar has it.
    """
    config = state.config()
    name = saved.get("provider")
    if name not in visitor_providers(config):
        return
    kind = provider_kind(name)
    st.session_state["provider_kind"] = name
    if saved.get("mode") in kind.modes:
        st.session_state[f"api_mode_{name}"] = kind.mode_label(saved["mode"])
    model = saved.get("model")
    allowed_models = visitor_models(config, kind) if config.hosted else None
    if kind.model_field == "path" and not config.hosted and isinstance(model, str):
        local_models.restore_choice(kind, model)
    elif isinstance(model, str) and model and (allowed_models is None or model in allowed_models):
        st.session_state[f"model_{name}"] = model
    base_url = saved.get("base_url")
    allowed_urls = visitor_endpoints(config, kind) if config.hosted else None
    if (
        kind.asks_base_url
        and isinstance(base_url, str)
        and (allowed_urls is None or base_url in allowed_urls)
    ):
        st.session_state["base_url"] = base_url
    trimming = saved.get("trimming") or {}
    strategy = trimming.get("strategy", trimming.get("kind"))  # older saves say "kind"
    if strategy in TRIMMING_LABELS:
        st.session_state["trimming"] = TRIMMING_LABELS[strategy]
    for key, field in (("trim_last_n", "last_n"), ("trim_max_tokens", "max_tokens")):
        if isinstance(trimming.get(field), int):
            st.session_state[key] = trimming[field]
    if isinstance(saved.get("temperature"), int | float):
        st.session_state["temperature"] = float(saved["temperature"])
        st.session_state.pop(PROVIDER_DEFAULT_MARKER.format("temperature"), None)
    if isinstance(saved.get("max_output_tokens"), int):
        st.session_state["max_output"] = saved["max_output_tokens"]
        st.session_state.pop(PROVIDER_DEFAULT_MARKER.format("max_output"), None)


# -- opening ------------------------------------------------------------------------------------


def open_conversation(conversation: Conversation) -> None:
    """Make ``conversation`` the open one, with its settings (call before the sidebar draws)."""
    state.set_conversation(conversation)
    st.session_state["system_prompt"] = conversation.system_prompt
    apply_settings(conversation.settings)
    state.view().loaded_id = conversation.id
    st.query_params.clear()
    if conversation.version:
        st.query_params["c"] = conversation.id


def new_conversation() -> Conversation:
    """An empty conversation keeping the system prompt, but not a summary it was seeded with."""
    prompt = state.conversation().system_prompt.split(SEED_HEADING)[0].strip()
    return Conversation(system_prompt=prompt or DEFAULT_SYSTEM_PROMPT)


def open_from_url() -> None:
    """Open the conversation named by ``?c=`` once per change of the URL."""
    wanted = st.query_params.get("c")
    view = state.view()
    if not wanted or wanted == view.loaded_id or wanted == state.conversation().id:
        view.loaded_id = wanted or view.loaded_id
        return
    view.loaded_id = wanted
    if state.store() is None:
        return
    try:
        loaded = state.session().open_saved(wanted)  # someone else's: a copy, or not at all
    except ChatkitError as error:
        view.notice = error.message
        return
    if loaded is None:
        view.notice = (
            "That conversation link points to nothing saved here: a new conversation is open."
        )
        return
    open_conversation(loaded)


def sync_url() -> None:
    """Keep ``?c=`` on every page: the open conversation's id once it is saved (switching
    pages drops the query, and the worker may have saved a copy under a new id)."""
    current = state.conversation()
    if current.version and st.query_params.get("c") != current.id:
        st.query_params["c"] = current.id
        state.view().loaded_id = current.id


def save_now(conversation: Conversation) -> Conversation:
    """Save ``conversation`` and make it the open one (for an import, or an undo)."""
    saved, notice = state.session().save(conversation)
    state.set_conversation(saved)
    if notice:
        state.view().notice = notice
    return saved


# -- undo ---------------------------------------------------------------------------------------


def remember_for_undo(label: str, conversation: Conversation) -> None:
    """Keep what a destructive action is about to remove, for one Undo."""
    state.view().undo = Undo(label, conversation.copy())


def undo() -> None:
    """Bring back what the last Clear or Delete removed (a callback)."""
    view = state.view()
    if view.undo is None:
        return
    restored = view.undo.conversation.copy()
    current = state.conversation()
    # Cleared: the same saved conversation, one version on. Deleted: saved anew.
    restored.version = current.version if current.id == restored.id else 0
    view.undo = None
    open_conversation(save_now(restored))
