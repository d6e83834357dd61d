"""Session state for the Streamlit app: this session's ``ChatSession``, and what only the page
keeps.

``st.session_state`` holds the sidebar's ``Settings`` (``"settings"``), one ``ChatSession``
(``"session"``: the providers, what is saved, what a visitor may spend, and the turn queue of
the open conversation; see ``chatkit.session``) and the page's own bookkeeping (``"view"``).
Each script run starts by handing the session what Streamlit knows (``begin_run``): the
settings from the environment and ``st.secrets``, the process-wide stores, and who this is
(``st.user``, the browser's cookie, the client's address). API keys typed into the sidebar live
only in this session's widget state and are passed to the session with each call.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from chatkit.config import (
    XSRF_COOKIE,
    AppConfig,
    browser_token,
    client_address,
    exposure_warning,
    load_config,
)
from chatkit.conversation import Conversation
from chatkit.errors import ChatkitError, register_secret
from chatkit.providers import (
    Provider,
    ProviderKind,
    ProviderSpec,
    provider_kind,
    provider_variables,
)
from chatkit.session import ChatSession, Settings
from chatkit.store import ConversationStore, QuotaStore, default_database_url
from chatkit.turn_queue import TurnQueue


@dataclass
class Undo:
    """What the last destructive action removed, and how to say it."""

    label: str  # "Cleared" or "Deleted"
    conversation: Conversation


@dataclass
class ViewState:
    """What the page remembers between runs of this browser session (never shared)."""

    visible_messages: int = 40
    editing: int | None = None  # the position of the user message being edited
    notice: str | None = None
    loaded_id: str | None = None
    undo: Undo | None = None
    drawn_version: int = -1  # the turn queue's version when this run started drawing
    totals: tuple[Any, str] = ((), "")  # the chat page's running totals, by conversation state
    next_send: tuple[Any, Any] = ((), None)  # the next send's plan, by what it was measured for
    sent_draft: str | None = None  # the last message sent from the chat input


def secrets_mapping() -> Mapping[str, Any]:
    """``st.secrets`` as a mapping, or empty when there is no secrets file."""
    try:
        return {key: st.secrets[key] for key in st.secrets}
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        return {}


def begin_run() -> None:
    """Start a script run: the settings, the stores and who this is are read afresh and handed
    to this session (callbacks, which run before the script, see the last run's)."""
    if "session" not in st.session_state:
        # A conversation put in ``st.session_state["conversation"]`` before the first run is
        # the one the session opens (how an embedding page, or a test, hands one over).
        seed = st.session_state.pop("conversation", None)
        opening = seed if isinstance(seed, Conversation) else None
        st.session_state["session"] = ChatSession(
            AppConfig(), owner=_this_browser(), conversation=opening
        )
    chat: ChatSession = st.session_state["session"]
    chat.config = load_config(secrets=secrets_mapping(), provider_variables=provider_variables())
    chat.conversations, chat.quotas = _stores(chat.config)
    chat.owner, chat.visitor = _owner(), _visitor(chat.config)


def session() -> ChatSession:
    """This browser session's ``ChatSession``."""
    if "session" not in st.session_state:
        begin_run()  # a page run on its own, without app.py
    return st.session_state["session"]


def view() -> ViewState:
    """What the page remembers for this browser session."""
    if "view" not in st.session_state:
        st.session_state["view"] = ViewState()
    return st.session_state["view"]


def config() -> AppConfig:
    """The app's settings (environment first, then ``st.secrets``), as this run read them."""
    return session().config


def store() -> ConversationStore | None:
    """The process-wide conversation store, or None if it cannot open (the page says why)."""
    return session().conversations


def queue() -> TurnQueue:
    """This session's turn queue: the open conversation and the turns being taken on it."""
    return session().queue


def conversation() -> Conversation:
    """The open conversation (the branch on screen)."""
    return session().conversation


def set_conversation(value: Conversation) -> None:
    """Open ``value`` (any turn being taken finishes on the conversation it started from)."""
    queue().replace(value)
    view().editing = None


def settings() -> Settings:
    """The sidebar's current settings (defaults before the sidebar first ran)."""
    return st.session_state.get("settings") or Settings()


def kind() -> ProviderKind:
    """The provider the sidebar chose, as data: its labels, fields and capabilities."""
    return provider_kind(settings().spec.kind)


def typed_api_key(name: str) -> str | None:
    """The key typed into this session's sidebar for the provider called ``name``, if any."""
    key = st.session_state.get(f"api_key_{name}") or None
    register_secret(key)
    return key


def provider_for(spec: ProviderSpec) -> Provider:
    """This session's provider for ``spec``, with the key typed for it in the sidebar (if
    any); raises ``ChatkitError`` when it cannot be used."""
    return session().provider_for(spec, typed_api_key(spec.kind))


# -- who this is, and the stores ------------------------------------------------------------------


def _logged_in_email() -> str | None:
    user = getattr(st, "user", None)
    if user is not None and getattr(user, "is_logged_in", False) and user.get("email"):
        return str(user.get("email"))
    return None


def _this_browser() -> str:
    """This browser, named by a hash of the token in Streamlit's XSRF cookie (a random secret
    the browser keeps until it closes, sent on every request); without the cookie, this session
    alone. Worked out once, when the session starts."""
    if "browser" not in st.session_state:
        token = browser_token(st.context.cookies.get(XSRF_COOKIE))
        st.session_state["browser"] = (
            f"browser:{token}" if token else "session:" + secrets.token_urlsafe(16)
        )
    return st.session_state["browser"]


def _owner() -> str:
    """Whose conversations these are: the logged-in user, else this browser (every tab and
    reload, through any replica), else this browser session."""
    email = _logged_in_email()
    return f"user:{email}" if email else _this_browser()


def _visitor(settings: AppConfig) -> str:
    """Who a hosted demo's quotas count against: the logged-in user, else the client's address
    (as ``CHATKIT_HOSTED_VISITOR`` chooses; behind a trusted proxy, the address it forwards),
    else this browser session."""
    limits = settings.limits
    email = _logged_in_email() if limits.visitor_by == "user-or-address" else None
    if email:
        return f"user:{email}"
    if limits.visitor_by != "session":
        address = client_address(
            st.context.ip_address, st.context.headers.get("X-Forwarded-For"), limits.trusted_proxies
        )
        if address:
            return f"address:{address}"
    return _this_browser()


@st.cache_resource(show_spinner=False)
def _store(url: str) -> ConversationStore:
    return ConversationStore(url)


@st.cache_resource(show_spinner=False)
def _quotas(url: str) -> QuotaStore:
    return QuotaStore(_store(url).database)


def _stores(settings: AppConfig) -> tuple[ConversationStore | None, QuotaStore | None]:
    """The process-wide conversation and quota stores, or None (with a notice) if the database
    cannot be opened."""
    url = settings.database_url or default_database_url()
    try:
        return _store(url), _quotas(url)
    except ChatkitError as error:
        view().notice = error.message
        return None, None


@st.cache_resource(show_spinner=False)
def _log_once(message: str) -> None:
    logging.getLogger("chatkit").warning(message)


def exposure() -> str | None:
    """A warning when the app is served beyond this machine without the hosted setting (also
    written to the log, once per process)."""
    message = exposure_warning(config(), st.get_option("server.address"))
    if message:
        _log_once(message)
    return message
