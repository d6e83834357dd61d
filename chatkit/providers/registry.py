"""The registry: the providers the app offers, found in their own modules, and the functions
that build providers from their records.

Every module of ``chatkit.providers`` that defines ``PROVIDER_KINDS`` is imported on first
use (with it the SDK it is built on) and its records are listed in ``order``: adding a
provider is one new module, plus its tables in ``chatkit/data/context_windows.toml`` and
``prices.toml``. The sidebar, the hosted demo's allow-lists, the request inspector, the costs
and the config read the records instead of testing provider names.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from chatkit.providers.anthropic_messages import MessagesShaped
from chatkit.providers.base import MODES, ApiShape, Capabilities, Provider
from chatkit.providers.chained import LocallyChained, ResponseStore
from chatkit.providers.endpoints import url_host
from chatkit.providers.records import GenerationDefaults, ProviderKind, ProviderSpec

# -- the registry ----------------------------------------------------------------------------------


@cache
def _registry() -> tuple[ProviderKind, ...]:
    """Every ``PROVIDER_KINDS`` record in the modules of ``chatkit.providers``, in order."""
    found: list[ProviderKind] = []
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if module.name.startswith("_"):
            continue
        loaded = importlib.import_module(f"chatkit.providers.{module.name}")
        found.extend(getattr(loaded, "PROVIDER_KINDS", ()))
    return tuple(sorted(found, key=lambda kind: kind.order))


def provider_kinds() -> tuple[ProviderKind, ...]:
    """The providers the app offers, in the sidebar's order."""
    return _registry()


def provider_names() -> tuple[str, ...]:
    """The names of the providers the app offers, in the sidebar's order."""
    return tuple(kind.name for kind in _registry())


def provider_kind(name: str) -> ProviderKind:
    """The kind called ``name``; a name chatkit does not list (a provider built by hand) is
    described as an OpenAI-style provider without server-side state."""
    for kind in _registry():
        if kind.name == name:
            return kind
    shapes = {shape.name: shape for shape in api_shapes()}
    return ProviderKind(
        name,
        Capabilities(),
        _unlisted,
        shapes={"chat": shapes["chat"], "responses": shapes["responses"]},
    )


def _unlisted(
    kind: ProviderKind, spec: ProviderSpec, api_key: str | None, client: Any, store: Any
) -> Provider:
    raise ValueError(
        f"Unknown provider {spec.kind!r}: choose one of {', '.join(provider_names())}."
    )


def api_shapes() -> tuple[ApiShape, ...]:
    """Every request shape the app's providers send, in order (for the request inspector)."""
    return tuple(dict.fromkeys(shape for kind in _registry() for shape in kind.shapes.values()))


def provider_variables() -> tuple[str, ...]:
    """Every variable a provider reads its key, endpoint or model from, and the host's
    generation defaults (for the app's config)."""
    names = [
        name
        for kind in _registry()
        for name in (kind.api_key_env, kind.base_url_env, kind.model_env)
        if name
    ]
    return tuple(dict.fromkeys([*names, *GENERATION_VARIABLES]))


# -- building ----------------------------------------------------------------------------------


def default_provider_kind(
    environ: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None
) -> str:
    """The first provider (in order) whose ``default_when`` variables are set, else the one
    that is the default otherwise (the local model: no key needed).

    A base URL makes a provider the default only when it is the provider's own API's: with
    ``OPENAI_BASE_URL`` at a llama.cpp server and no OpenAI key, the app starts on the
    OpenAI-compatible provider, not on OpenAI's models.
    """
    environ = os.environ if environ is None else environ
    secrets = secrets or {}

    def value(name: str) -> str:
        return str(environ.get(name) or secrets.get(name) or "")

    def counts(kind: ProviderKind, name: str) -> bool:
        found = value(name)
        if not found or name != kind.base_url_env or kind.endpoint is None:
            return bool(found)
        own = kind.endpoint.own_host
        return own is None or url_host(found) == own

    for kind in _registry():
        if any(counts(kind, name) for name in kind.default_when):
            return kind.name
    return next(kind.name for kind in _registry() if kind.default_otherwise)


# -- what the host set for a provider -----------------------------------------------------------

GENERATION_DEFAULTS_ENV = "CHATKIT_GENERATION_DEFAULTS"  # a provider's name: start from its own
TEMPERATURE_ENV = "CHATKIT_TEMPERATURE"
MAX_OUTPUT_TOKENS_ENV = "CHATKIT_MAX_OUTPUT_TOKENS"
SYSTEM_PROMPT_ENV = "CHATKIT_SYSTEM_PROMPT"
GENERATION_VARIABLES = (
    GENERATION_DEFAULTS_ENV,
    TEMPERATURE_ENV,
    MAX_OUTPUT_TOKENS_ENV,
    SYSTEM_PROMPT_ENV,
)


def _number(text: str | None, convert: type) -> Any:
    try:
        return convert(text) if text not in (None, "") else None
    except (TypeError, ValueError):
        return None


def generation_defaults(kind: ProviderKind, settings: Mapping[str, Any]) -> GenerationDefaults:
    """What the sidebar starts from for ``kind``: the host's ``CHATKIT_TEMPERATURE``,
    ``CHATKIT_MAX_OUTPUT_TOKENS`` and ``CHATKIT_SYSTEM_PROMPT``, then the defaults of the
    provider ``CHATKIT_GENERATION_DEFAULTS`` names (``local``: the bundled model's, as
    ``bench/recall.py`` chose them, for a llama.cpp server running it), then ``kind``'s own."""
    named = str(settings.get(GENERATION_DEFAULTS_ENV) or "").strip().lower()
    base = kind.generation_defaults
    for other in _registry():
        if named and other.name.lower() == named:
            base = other.generation_defaults.over(base)
    temperature = _number(settings.get(TEMPERATURE_ENV), float)
    max_output = _number(settings.get(MAX_OUTPUT_TOKENS_ENV), int)
    host = GenerationDefaults(
        system_prompt=str(settings.get(SYSTEM_PROMPT_ENV) or "") or None,
        temperature=temperature if temperature is not None and 0 <= temperature <= 2 else None,
        max_output_tokens=max_output if max_output is not None and max_output > 0 else None,
    )
    return host.over(base)


def host_model(kind: ProviderKind, settings: Mapping[str, Any]) -> str | None:
    """The model the host set for ``kind`` (its ``model_env``), else, for a kind that asks for
    a server's address, the first model the host's own server lists (``GET /v1/models``, asked
    once, briefly); None when neither says."""
    chosen = str(settings.get(kind.model_env or "") or "").strip()
    if chosen or kind.model_field == "path":
        return chosen or None
    base_url = settings.get(kind.base_url_env or "")
    if not kind.asks_base_url or not base_url:
        return None
    from chatkit.providers.served_models import served_model  # the SDK loads on first use

    return served_model(str(base_url), settings.get(kind.api_key_env or ""))


def _check_mode(mode: str, kind: ProviderKind | None = None) -> None:
    offered = kind.modes if kind is not None else MODES
    if mode not in offered:
        who = f"{kind.name} offers" if kind is not None else "use"
        raise ValueError(f"Unknown API mode {mode!r}: {who} {', '.join(repr(m) for m in offered)}.")


def in_mode(provider: Provider, mode: str, store: ResponseStore | None = None) -> Provider:
    """``provider`` in API ``mode``: as it is when it already speaks it, else Responses mode
    through chatkit's local response store, or Messages mode recorded in Anthropic's shape."""
    _check_mode(mode)
    if mode == "chat" or provider.mode == mode:
        return provider
    if mode == "messages":
        return MessagesShaped(inner=provider)
    if provider.mode == "responses":
        return provider
    return LocallyChained(inner=provider, store=store if store is not None else ResponseStore())


def make_provider(
    spec: ProviderSpec,
    *,
    api_key: str | None = None,
    client: Any = None,
    store: ResponseStore | None = None,
) -> Provider:
    """The provider for ``spec``; Responses mode without a server-side chain uses ``store``."""
    kind = provider_kind(spec.kind)
    _check_mode(spec.mode, kind)
    store = store if store is not None else ResponseStore()
    built = kind.build(kind, spec, api_key, client, store)
    return in_mode(built, spec.mode, store)


def is_provider(candidate: Any) -> bool:
    """True for a chatkit provider (anything that streams and completes), not an SDK client."""
    return hasattr(candidate, "stream") and hasattr(candidate, "complete")


def provider_for_client(
    client: Any, model: str, mode: str = "chat", store: ResponseStore | None = None
) -> Provider:
    """A provider for an SDK client (``openai.OpenAI``, ``anthropic.Anthropic``) or a chatkit
    provider passed through, in API ``mode``: the first provider kind that takes the client
    builds on it (an OpenAI client pointed at another server is an OpenAI-compatible one)."""
    if is_provider(client):
        return in_mode(client, mode, store)
    for kind in _registry():
        if kind.takes_client is not None and kind.takes_client(client):
            spec = ProviderSpec(kind.name, mode, model, base_url=str(client.base_url))
            return make_provider(spec, client=client, store=store)
    raise TypeError(
        "Expected an openai.OpenAI client, an anthropic.Anthropic client, or a chatkit provider, "
        f"not {type(client).__name__}."
    )
