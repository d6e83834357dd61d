"""The hosted demo: what a visitor may use, and how much of the host's resources they may spend.

Allow-lists come from the host's settings (``HostedSettings``) with safe defaults: the
providers the host has a key for and the local model, the models the app suggests, and only
the host's own endpoints. Quotas are counters in the database (``QuotaStore``), per visitor
per day, per visitor per minute, and for the host as a whole per day; ``HostedMeter`` books
every call on them before it starts and settles it with what it cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chatkit.config import AppConfig, HostedSettings
from chatkit.errors import QuotaExceeded
from chatkit.prices import cost_of
from chatkit.providers.calls import Usage
from chatkit.providers.records import ProviderKind
from chatkit.providers.registry import host_model, provider_kind, provider_kinds, provider_names
from chatkit.store.quotas import Counter, Limit, QuotaStore, Refusal, Reservation

HOST_SUBJECT = "host"
OWN_KEY = "paste your own API key in the sidebar to go on"


# -- what a visitor may choose -------------------------------------------------------------------


def visitor_endpoints(config: AppConfig, kind: ProviderKind) -> tuple[str, ...]:
    """The base URLs a visitor may give a provider that asks for one: the host's list, else
    the host's own configured endpoint, else none."""
    if config.limits.endpoints:
        return config.limits.endpoints
    host_url = config.provider_setting(kind.base_url_env)
    return (host_url,) if host_url else ()


def visitor_providers(config: AppConfig) -> tuple[str, ...]:
    """The providers a visitor may choose (every one when the app is not a hosted demo)."""
    if not config.hosted:
        return provider_names()
    if config.limits.providers:
        return tuple(name for name in provider_names() if name in config.limits.providers)
    allowed = []
    for kind in provider_kinds():
        if kind.asks_base_url:
            usable = bool(visitor_endpoints(config, kind))
        elif kind.capabilities.needs_api_key:
            usable = bool(config.provider_setting(kind.api_key_env))
        else:
            usable = True
        if usable:
            allowed.append(kind.name)
    return tuple(allowed)


def visitor_models(config: AppConfig, kind: ProviderKind) -> tuple[str, ...]:
    """The models a visitor may choose for ``kind`` in a hosted demo: the host's list, else the
    model the host set or its server serves (``host_model``), else the models the app suggests.
    ``Provider:model`` names one provider's model; a plain name belongs to the providers that
    suggest it, or to every provider if none does."""
    suggested_anywhere = {m for other in provider_kinds() for m in other.suggested_models}
    listed = []
    for entry in config.limits.models:
        provider, _, model = entry.partition(":")
        provider, model = provider.strip(), model.strip()
        if provider not in provider_names():  # "qwen2.5:7b" is an Ollama model, not a provider
            provider, model = "", entry.strip()
        if provider:
            mine = provider == kind.name
        else:
            mine = model in kind.suggested_models or model not in suggested_anywhere
        if mine and model:
            listed.append(model)
    if listed:
        return tuple(listed)
    served = host_model(kind, config.provider_settings) if kind.model_field != "path" else None
    return (served,) if served else kind.suggested_models


def day_and_minute(now: datetime | None = None) -> tuple[str, str]:
    """The quota periods a call falls in (UTC): its day and its minute."""
    now = now or datetime.now(UTC)
    return f"day:{now:%Y-%m-%d}", f"minute:{now:%Y-%m-%dT%H:%M}"


# -- how much a visitor may spend ----------------------------------------------------------------


@dataclass(frozen=True)
class Allowance:
    """What a visitor has left today, for the sidebar."""

    turns_left: int
    tokens_left: int
    turn_limit: int
    token_limit: int

    def caption(self) -> str:
        return (
            f"This demo's allowance on the host's key: {self.turns_left} of {self.turn_limit} "
            f"turns and {self.tokens_left:,} of {self.token_limit:,} tokens left today."
        )


@dataclass
class HostedMeter:
    """Books a visitor's calls on the database's quota counters (a ``Meter``)."""

    quotas: QuotaStore
    visitor: str
    settings: HostedSettings
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False)

    def limits(self) -> list[Limit]:
        day, minute = day_and_minute(self.clock())
        spend_limit = self.settings.daily_spend_limit_usd
        return [
            Limit(
                self.visitor,
                day,
                calls=self.settings.turn_limit,
                tokens=self.settings.token_limit,
            ),
            Limit(self.visitor, minute, calls=self.settings.messages_per_minute),
            Limit(
                HOST_SUBJECT,
                day,
                tokens=self.settings.daily_token_limit,
                cost_micros=None if spend_limit is None else round(spend_limit * 1_000_000),
            ),
        ]

    def reserve(
        self, provider: str, model: str, input_tokens: int, output_tokens: int
    ) -> Reservation:
        """Book a call, or raise ``QuotaExceeded`` with the sentence saying which limit. Its
        cost is the provider's price for the model (what the reply's caption shows)."""
        key = provider_kind(provider).models_key
        cost = cost_of(model, input_tokens, output_tokens, models_key=key) or 0.0
        booked = self.quotas.reserve(
            self.limits(), input_tokens + output_tokens, round(cost * 1_000_000)
        )
        if isinstance(booked, Refusal):
            raise QuotaExceeded(self.sentence(booked))
        return booked

    def settle(self, booking: Reservation, provider: str, model: str, usage: Usage) -> None:
        cost = cost_of(
            model,
            usage.input_tokens,
            usage.output_tokens,
            usage.cached_input_tokens,
            models_key=provider_kind(provider).models_key,
        )
        self.quotas.settle(booking, usage.total_tokens, round((cost or 0.0) * 1_000_000))

    def allowance(self) -> Allowance:
        day, _ = day_and_minute(self.clock())
        counter: Counter = self.quotas.counter(self.visitor, day)
        limits = self.settings
        return Allowance(
            turns_left=max(limits.turn_limit - counter.calls, 0),
            tokens_left=max(limits.token_limit - counter.committed_tokens, 0),
            turn_limit=limits.turn_limit,
            token_limit=limits.token_limit,
        )

    def sentence(self, refusal: Refusal) -> str:
        """One plain sentence: which limit the call would break, and what to do."""
        limits, counter = self.settings, refusal.counter
        if refusal.limit.subject == HOST_SUBJECT:
            spent = "money" if refusal.measure == "cost_micros" else "tokens"
            return (
                f"This demo has used all the {spent} its host allows for today: try again "
                f"tomorrow, or {OWN_KEY}."
            )
        if refusal.limit.period.startswith("minute:"):
            return (
                f"This demo allows {limits.messages_per_minute} messages a minute per visitor: "
                f"wait a moment, then retry."
            )
        if refusal.measure == "calls":
            return (
                f"This demo allows {limits.turn_limit} turns per visitor a day on the host's "
                f"key (every call counts, summaries and comparisons too): {OWN_KEY}."
            )
        left = max(limits.token_limit - counter.committed_tokens, 0)
        return (
            f"This demo allows {limits.token_limit:,} tokens per visitor a day on the host's "
            f"key and {left:,} are left, but this call may need up to {refusal.needed:,} (the "
            f"conversation so far plus the longest reply allowed): start a new conversation, "
            f"lower Max output tokens, or {OWN_KEY}."
        )
