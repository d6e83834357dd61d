"""App settings from the environment and ``st.secrets`` (passed in as a plain mapping).

Every setting is documented in ``.streamlit/secrets.toml.example``. Environment variables win
over secrets, so a container can override a file. Lists are TOML lists in secrets, or
comma-separated in the environment.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from chatkit.errors import register_secret

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
VisitorBy = Literal["user-or-address", "address", "session"]


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in TRUE_WORDS


@dataclass(frozen=True)
class HostedSettings:
    """What a hosted demo lets a visitor do on the host's resources.

    Allowances are per visitor per day (the logged-in user, else the client's address); every
    call that spends the host's key or its model counts as a turn. ``providers``, ``models``
    and ``endpoints`` are allow-lists; empty means the defaults (the providers the host has a
    key for plus the local model, the models the app suggests, the host's own endpoints).
    """

    turn_limit: int = 20
    token_limit: int = 50_000
    daily_token_limit: int = 2_000_000  # the host key as a whole, every visitor together
    daily_spend_limit_usd: float | None = None  # the host key as a whole, where prices are known
    messages_per_minute: int = 40
    max_output_tokens: int = 1024
    max_message_chars: int = 8_000
    max_conversations: int = 50
    max_stored_chars: int = 2_000_000
    max_import_messages: int = 1_000
    max_import_chars: int = 400_000
    local_call_seconds: int = 120
    visitor_by: VisitorBy = "user-or-address"
    providers: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    endpoints: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()  # addresses whose X-Forwarded-For is believed


# A class's allowances: a Compare run is 15 calls and a 45-minute lesson 60 to 100 calls per
# student, so a day holds a few lessons; quotas count each browser, as students may share an
# address (one machine, or a school's network behind one router).
CLASS_LIMITS = HostedSettings(
    turn_limit=300,
    token_limit=400_000,
    daily_token_limit=20_000_000,
    messages_per_minute=60,
    visitor_by="session",
)


@dataclass(frozen=True)
class ClassSettings:
    """Class mode (``CHATKIT_CLASS``): the hosted setting sized for a class, and who teaches.

    In class mode the app is a hosted demo (``AppConfig.hosted``) whose allowances default to
    ``CLASS_LIMITS``: each student lists and opens only their own conversations, never another's
    by its id either. ``teacher_password`` opens the teacher page; ``teacher_emails`` are the
    logins allowed to open it where ``st.login`` is configured.
    """

    enabled: bool = False
    teacher_password: str | None = field(default=None, repr=False)
    teacher_emails: tuple[str, ...] = ()
    public_url: str | None = None  # where students open the app (``CHATKIT_CLASS_URL``)

    @property
    def teacher_access(self) -> bool:
        """True when some way to open the teacher page is configured."""
        return bool(self.teacher_password or self.teacher_emails)

    def is_teacher_password(self, typed: str | None) -> bool:
        """True when ``typed`` is the teacher password (compared in constant time)."""
        if not self.teacher_password or not typed:
            return False
        return hmac.compare_digest(typed.encode(), self.teacher_password.encode())

    def is_teacher_email(self, email: str | None) -> bool:
        """True when ``email`` (a logged-in user's) is one of the teachers'."""
        return bool(email) and email.strip().lower() in self.teacher_emails


@dataclass(frozen=True)
class AppConfig:
    """How this app instance runs: local (default), a hosted public demo, or a class."""

    hosted: bool = False
    database_url: str | None = None
    limits: HostedSettings = field(default_factory=HostedSettings)
    classroom: ClassSettings = field(default_factory=ClassSettings)
    # The providers' keys, endpoints and models as the host set them, by variable name.
    provider_settings: Mapping[str, str] = field(default_factory=dict, repr=False)

    def provider_setting(self, variable: str | None) -> str | None:
        """A provider's key, endpoint or model as the host configured it, by the name of its
        variable (``OPENAI_API_KEY``, ``ANTHROPIC_BASE_URL``, ...); None when unset."""
        return self.provider_settings.get(variable or "")

    def __repr__(self) -> str:  # keys never appear in logs or tracebacks
        return (
            f"AppConfig(hosted={self.hosted}, class={self.classroom.enabled}, "
            f"database_url={'set' if self.database_url else None})"
        )


def load_config(
    environ: Mapping[str, str] | None = None,
    secrets: Mapping[str, Any] | None = None,
    *,
    provider_variables: Iterable[str] = (),
) -> AppConfig:
    """Read the settings: ``CHATKIT_*`` and the ``provider_variables`` the providers name (their
    keys, endpoints and models), from the environment, then secrets. In class mode a
    ``CHATKIT_CLASS_*`` allowance wins over its ``CHATKIT_HOSTED_*`` twin."""
    environ = os.environ if environ is None else environ
    secrets = secrets or {}

    def get(name: str) -> Any:
        value = environ.get(name)
        return value if value not in (None, "") else secrets.get(name)

    def number(name: str, default: Any, convert: type = int) -> Any:
        value = get(name)
        try:
            return convert(value) if value is not None else default
        except (TypeError, ValueError):
            return default

    def words(name: str) -> tuple[str, ...]:
        value = get(name)
        items = value.split(",") if isinstance(value, str) else list(value or ())
        return tuple(str(item).strip() for item in items if str(item).strip())

    in_class = _flag(get("CHATKIT_CLASS") or False)
    defaults = CLASS_LIMITS if in_class else HostedSettings()

    def allowance(hosted_name: str, class_name: str, default: int) -> int:
        value = number(hosted_name, default)
        return number(class_name, value) if in_class else value

    visitor_by = str(get("CHATKIT_HOSTED_VISITOR") or defaults.visitor_by)
    limits = HostedSettings(
        turn_limit=allowance(
            "CHATKIT_HOSTED_TURN_LIMIT", "CHATKIT_CLASS_CALLS_PER_DAY", defaults.turn_limit
        ),
        token_limit=allowance(
            "CHATKIT_HOSTED_TOKEN_LIMIT", "CHATKIT_CLASS_TOKENS_PER_DAY", defaults.token_limit
        ),
        daily_token_limit=allowance(
            "CHATKIT_HOSTED_DAILY_TOKEN_LIMIT",
            "CHATKIT_CLASS_DAILY_TOKEN_LIMIT",
            defaults.daily_token_limit,
        ),
        daily_spend_limit_usd=number(
            "CHATKIT_HOSTED_DAILY_SPEND_LIMIT_USD",
            number("CHATKIT_HOSTED_DAILY_BUDGET_USD", None, float),  # its older name
            float,
        ),
        messages_per_minute=allowance(
            "CHATKIT_HOSTED_MESSAGES_PER_MINUTE",
            "CHATKIT_CLASS_CALLS_PER_MINUTE",
            defaults.messages_per_minute,
        ),
        max_output_tokens=number("CHATKIT_HOSTED_MAX_OUTPUT_TOKENS", defaults.max_output_tokens),
        max_message_chars=number("CHATKIT_HOSTED_MAX_MESSAGE_CHARS", defaults.max_message_chars),
        max_conversations=number("CHATKIT_HOSTED_MAX_CONVERSATIONS", defaults.max_conversations),
        max_stored_chars=number("CHATKIT_HOSTED_MAX_STORED_CHARS", defaults.max_stored_chars),
        max_import_messages=number(
            "CHATKIT_HOSTED_MAX_IMPORT_MESSAGES", defaults.max_import_messages
        ),
        max_import_chars=number("CHATKIT_HOSTED_MAX_IMPORT_CHARS", defaults.max_import_chars),
        local_call_seconds=number("CHATKIT_HOSTED_LOCAL_CALL_SECONDS", defaults.local_call_seconds),
        visitor_by=visitor_by  # type: ignore[arg-type]
        if visitor_by in ("user-or-address", "address", "session")
        else defaults.visitor_by,
        providers=words("CHATKIT_HOSTED_PROVIDERS"),
        models=words("CHATKIT_HOSTED_MODELS"),
        endpoints=words("CHATKIT_HOSTED_ENDPOINTS"),
        trusted_proxies=words("CHATKIT_TRUSTED_PROXIES"),
    )
    password = get("CHATKIT_TEACHER_PASSWORD")
    password = str(password) if password not in (None, "") else None
    register_secret(password)  # masked wherever an error or a log might quote it
    classroom = ClassSettings(
        enabled=in_class,
        teacher_password=password,
        teacher_emails=tuple(email.lower() for email in words("CHATKIT_TEACHER_EMAILS")),
        public_url=str(get("CHATKIT_CLASS_URL") or "").strip() or None,
    )
    return AppConfig(
        hosted=in_class or _flag(get("CHATKIT_HOSTED") or False),
        database_url=get("CHATKIT_DATABASE_URL"),
        limits=limits,
        classroom=classroom,
        provider_settings={
            name: str(value)
            for name in provider_variables
            if (value := get(name)) not in (None, "")
        },
    )


def is_loopback(address: str | None) -> bool:
    """True when a server bound to ``address`` is reachable from this machine only."""
    if address is None or not address.strip():
        return False  # no address: every interface
    host = address.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(config: AppConfig, server_address: str | None) -> str | None:
    """The warning for an app served beyond this machine without the hosted setting."""
    if config.hosted or is_loopback(server_address):
        return None
    where = server_address or "every network interface"
    return (
        f"This app is served on {where} without CHATKIT_HOSTED, so every visitor sees and can "
        f"open every saved conversation and spends your keys freely: set CHATKIT_HOSTED=true "
        f"for a shared or public app, or serve it on 127.0.0.1."
    )


LOOPBACK_PEER = "127.0.0.1"


def client_address(
    peer: object, forwarded_for: str | None, trusted_proxies: Iterable[str] = ()
) -> str | None:
    """The visitor's address: the connection's peer (Streamlit reports a loopback peer as
    ``None``), or, when the peer is a trusted proxy, the nearest untrusted address in its
    ``X-Forwarded-For``. None when the address is unknown (no server connection at all)."""
    if peer is None:
        peer = LOOPBACK_PEER
    if not isinstance(peer, str) or not peer:
        return None
    trusted = set(trusted_proxies)
    if peer in trusted and forwarded_for:
        for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
            if hop and hop not in trusted:
                return hop
    return peer


XSRF_COOKIE = "_streamlit_xsrf"


def browser_token(xsrf_cookie: str | None) -> str | None:
    """A stable name for one browser from Streamlit's XSRF cookie (``2|mask|masked|time``, or
    version 1's bare hex token): a hash of the unmasked random token, the same on every
    request and replica until the browser drops the cookie. None when it cannot be read."""
    if not xsrf_cookie:
        return None
    value = xsrf_cookie.strip("\"'")
    try:
        if value.startswith("2|"):
            _, mask_hex, masked_hex, _ = value.split("|")
            mask, masked = bytes.fromhex(mask_hex), bytes.fromhex(masked_hex)
            if len(mask) != 4:
                return None
            token = bytes(byte ^ mask[index % 4] for index, byte in enumerate(masked))
        else:
            token = bytes.fromhex(value)
    except ValueError:
        return None
    if len(token) < 16:
        return None  # too short to be Streamlit's random token: not a name to trust
    return hashlib.sha256(b"chatkit-browser:" + token).hexdigest()[:32]
