"""Session state, settings and process-wide resources for the Streamlit app.

``st.session_state`` holds the sidebar's ``Settings`` (``"settings"``) and one small
``SessionData`` (``"session"``), whose ``TurnQueue`` holds the open conversation and takes its
turns in order. API keys typed into the sidebar live only in that session's widget state and
are passed to the SDK from there.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from chatkit.chat import TrimmingSettings
from chatkit.config import (
    XSRF_COOKIE,
    AppConfig,
    HostedSettings,
    browser_token,
    client_address,
    exposure_warning,
    load_config,
)
from chatkit.conversation import Conversation, new_conversation_id
from chatkit.errors import ChatkitError, SaveConflict, register_secret
from chatkit.hosted import HostedMeter
from chatkit.providers import (
    GenerationOptions,
    Provider,
    ProviderKind,
    ProviderSpec,
    ResponseStore,
    make_provider,
    provider_kind,
    provider_variables,
)
from chatkit.providers.metered import Metered
from chatkit.providers.time_limit import TimeLimited
from chatkit.store import ConversationStore, QuotaStore, default_database_url
from chatkit.turn_queue import Saver, TurnQueue


@dataclass(frozen=True)
class Settings:
    """Everything the sidebar decides, except the API key."""

    spec: ProviderSpec = field(default_factory=ProviderSpec)
    system_prompt: str = ""
    trimming: TrimmingSettings = field(default_factory=TrimmingSettings)
    options: GenerationOptions = field(default_factory=GenerationOptions)


@dataclass
class Undo:
    """What the last destructive action removed, and how to say it."""

    label: str  # "Cleared" or "Deleted"
    conversation: Conversation


@dataclass
class SessionData:
    """Per-browser-session bookkeeping (never shared between sessions)."""

    # this browser (see _browser) or, without its cookie, this session alone
    owner: str = field(default_factory=lambda: "session:" + secrets.token_urlsafe(16))
    response_store: ResponseStore = field(default_factory=ResponseStore)
    providers: dict[tuple[Any, ...], Provider] = field(default_factory=dict)
    queue: TurnQueue | None = None
    visible_messages: int = 40
    editing: int | None = None  # the position of the user message being edited
    notice: str | None = None
    loaded_id: str | None = None
    undo: Undo | None = None
    drawn_version: int = -1  # the turn queue's version when this run started drawing
    totals: tuple[Any, str] = ((), "")  # the chat page's running totals, by conversation state
    run_config: AppConfig | None = None  # the settings as this script run read them


def secrets_mapping() -> Mapping[str, Any]:
    """``st.secrets`` as a mapping, or empty when there is no secrets file."""
    try:
        return {key: st.secrets[key] for key in st.secrets}
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        return {}


def config() -> AppConfig:
    """The app's settings (environment first, then ``st.secrets``), read once per script run
    (callbacks, which run before the script, see the last run's)."""
    data = session()
    if data.run_config is None:
        data.run_config = load_config(
            secrets=secrets_mapping(), provider_variables=provider_variables()
        )
    return data.run_config


def begin_run() -> None:
    """Start a script run: settings are read afresh."""
    session().run_config = None


def session() -> SessionData:
    """This browser session's bookkeeping."""
    if "session" not in st.session_state:
        data = SessionData()
        data.owner = _browser() or data.owner  # this browser's, else this session's own
        st.session_state["session"] = data
    return st.session_state["session"]


def queue() -> TurnQueue:
    """This session's turn queue: the open conversation and the turns being taken on it."""
    data = session()
    if data.queue is None:
        # A conversation put in ``st.session_state["conversation"]`` before the first run is
        # the one the session opens (how an embedding page, or a test, hands one over).
        seed = st.session_state.pop("conversation", None)
        opening = seed if isinstance(seed, Conversation) else Conversation()
        data.queue = TurnQueue(opening, saver())
    return data.queue


def conversation() -> Conversation:
    """The open conversation (the branch on screen)."""
    return queue().conversation


def set_conversation(value: Conversation) -> None:
    """Open ``value`` (any turn being taken finishes on the conversation it started from)."""
    queue().replace(value)
    session().editing = None


def settings() -> Settings:
    """The sidebar's current settings (defaults before the sidebar first ran)."""
    return st.session_state.get("settings") or Settings()


def owner() -> str:
    """Whose conversations these are: the logged-in user, else this browser (every tab and
    reload, through any replica), else this browser session."""
    user = getattr(st, "user", None)
    if user is not None and getattr(user, "is_logged_in", False) and user.get("email"):
        return "user:" + str(user.get("email"))
    return session().owner


def _browser() -> str | None:
    """This browser, named by a hash of the token in Streamlit's XSRF cookie: a random secret
    the browser keeps until it closes, sent on every request (None without the cookie)."""
    token = browser_token(st.context.cookies.get(XSRF_COOKIE))
    return f"browser:{token}" if token else None


@st.cache_resource(show_spinner=False)
def _store(url: str) -> ConversationStore:
    return ConversationStore(url)


def store() -> ConversationStore | None:
    """The process-wide conversation store, or None (with a notice) if it cannot open."""
    url = config().database_url or default_database_url()
    try:
        return _store(url)
    except ChatkitError as error:
        session().notice = error.message
        return None


@st.cache_resource(show_spinner=False)
def _quotas(url: str) -> QuotaStore:
    return QuotaStore(_store(url).database)


def visitor() -> str:
    """Who a hosted demo's quotas count against: the logged-in user, else the client's address
    (as ``CHATKIT_HOSTED_VISITOR`` chooses; behind a trusted proxy, the address it forwards),
    else this browser session."""
    limits = config().limits
    user = getattr(st, "user", None)
    if (
        limits.visitor_by == "user-or-address"
        and user is not None
        and getattr(user, "is_logged_in", False)
    ):
        email = user.get("email")
        if email:
            return f"user:{email}"
    if limits.visitor_by != "session":
        address = client_address(
            st.context.ip_address, st.context.headers.get("X-Forwarded-For"), limits.trusted_proxies
        )
        if address:
            return f"address:{address}"
    return session().owner


def meter() -> HostedMeter | None:
    """The quota meter for this visitor in a hosted demo (None when not hosted, or when the
    database cannot be opened, in which case nothing may spend the host's resources)."""
    settings = config()
    if not settings.hosted or store() is None:
        return None
    url = settings.database_url or default_database_url()
    return HostedMeter(_quotas(url), visitor(), settings.limits)


def kind() -> ProviderKind:
    """The provider the sidebar chose, as data: its labels, fields and capabilities."""
    return provider_kind(settings().spec.kind)


def typed_api_key(name: str) -> str | None:
    """The key typed into this session's sidebar for the provider called ``name``, if any."""
    key = st.session_state.get(f"api_key_{name}") or None
    register_secret(key)
    return key


def host_api_key(name: str) -> str | None:
    """The host's key for the provider called ``name`` (environment or secrets), if any."""
    key = config().provider_setting(provider_kind(name).api_key_env)
    register_secret(key)
    return key


def api_key_for(spec: ProviderSpec) -> str | None:
    """The key to use: typed in this session, else the host's - but the host's only for the
    host's own endpoint, never for a base URL chosen in the sidebar."""
    typed = typed_api_key(spec.kind)
    if typed:
        return typed
    host_url = config().provider_setting(provider_kind(spec.kind).base_url_env)
    if spec.base_url and spec.base_url.rstrip("/") != (host_url or "").rstrip("/"):
        return None
    return host_api_key(spec.kind)


def uses_host_key(name: str) -> bool:
    """True when this session's calls spend the host's resources (its key, its server or its
    model), so a hosted demo's quotas apply: every call unless the visitor typed a key."""
    return not typed_api_key(name)


def provider_for(spec: ProviderSpec) -> Provider:
    """This session's provider for ``spec`` (built once per spec and key, kept per session);
    in a hosted demo, every call on the host's resources is booked on the visitor's quota."""
    data = session()
    key = api_key_for(spec)
    metering = None
    if config().hosted and uses_host_key(spec.kind):
        metering = meter()
        if metering is None:
            raise ChatkitError(
                "The demo's database cannot be opened, so its allowance cannot be checked: "
                "paste your own API key in the sidebar, or try again later."
            )
    cache_key = (spec, hash(key) if key else None, metering is not None)
    if cache_key not in data.providers:
        provider = make_provider(spec, api_key=key, store=data.response_store)
        hosted = config()
        if hosted.hosted and provider_kind(spec.kind).capabilities.loads_in_process:
            provider = TimeLimited(inner=provider, seconds=hosted.limits.local_call_seconds)
        if metering is not None:
            provider = Metered(inner=provider, meter=metering)
        data.providers[cache_key] = provider
    return data.providers[cache_key]


def saver() -> Saver:
    """How this session saves a conversation (from any thread: it touches no Streamlit state).

    Returns what to keep showing and what to tell the person: a conversation another tab
    changed first is saved as a copy, and a hosted visitor past the storage caps keeps the
    conversation open but unsaved.
    """
    target, who_owns = store(), owner()
    settings = config()
    who = visitor() if settings.hosted else None
    limits = settings.limits

    def save(value: Conversation) -> tuple[Conversation, str | None]:
        if target is None:
            return value, None
        try:
            if who is not None:
                refusal = storage_refusal(target, value, who, limits)
                if refusal:
                    return value, refusal
            try:
                target.save(value, owner=who_owns, visitor=who)
            except SaveConflict as conflict:
                copy = value.copy()
                copy.id, copy.version = new_conversation_id(), 0
                copy.title = f"{value.title or 'Untitled'} (copy)"
                target.save(copy, owner=who_owns, visitor=who)
                return copy, (
                    f"{conflict.message} Your turns are kept in a copy, “{copy.title}”, which is "
                    f"open now; the other tab's version is in the list."
                )
        except ChatkitError as error:
            return value, error.message
        return value, None

    return save


def storage_refusal(
    target: ConversationStore, value: Conversation, who: str, limits: HostedSettings
) -> str | None:
    """Why a hosted visitor's conversation may not be saved (the caps), or None."""
    count, chars = target.visitor_totals(who, excluding=value.id)
    if value.version == 0 and count >= limits.max_conversations:
        return (
            f"This demo keeps at most {limits.max_conversations} conversations per visitor, so "
            f"this one is not saved: delete an older one in the sidebar to save it."
        )
    if chars + sum(len(m.content) for m in value.messages) > limits.max_stored_chars:
        return (
            f"This demo keeps at most {limits.max_stored_chars:,} characters of conversations "
            f"per visitor, so this one is not saved: delete an older one in the sidebar."
        )
    return None


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
