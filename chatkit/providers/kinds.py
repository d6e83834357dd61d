"""The providers the app offers, one record each, and the functions that build them.

Every fact about a provider is written once, on its ``ProviderKind``: its labels, the fields
the sidebar asks for, what it supports, how to build it, the request shape it sends in each
API mode, its endpoint (and so its environment variables), its context windows and where its
prices are. Each record lives in its provider's own module under ``chatkit/providers/`` (a
module-level ``PROVIDER_KINDS``), and this registry finds them there: adding a provider is one
new module, plus its tables in ``chatkit/data/context_windows.toml`` and ``prices.toml``.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from chatkit.providers.base import MODES, ApiShape, Capabilities, Provider
from chatkit.providers.chained import LocallyChained, ResponseStore
from chatkit.providers.endpoints import Endpoint

OPENAI_MODE_LABELS: Mapping[str, str] = {"chat": "Chat Completions", "responses": "Responses"}


@dataclass(frozen=True)
class ProviderSpec:
    """What the user chose: which provider, which API mode, which model (and where)."""

    kind: str = "Local"
    mode: str = "chat"
    model: str = ""
    base_url: str | None = None
    context_window: int | None = None


@dataclass(frozen=True)
class GenerationDefaults:
    """What the sidebar starts from for a kind; ``None`` keeps the sidebar's own default."""

    system_prompt: str | None = None
    temperature: float | None = None
    max_output_tokens: int | None = None


# (spec, api_key, client, store) -> the provider; Responses mode may come back in chat mode,
# and is then chained locally.
Builder = Callable[[ProviderSpec, str | None, Any, ResponseStore], Provider]


@dataclass(frozen=True)
class ProviderKind:
    """One provider as the app offers it.

    ``build`` makes its provider for a ``ProviderSpec``; ``shapes`` are the request shapes its
    client sends in each API mode (in Responses mode the Responses shape: to its own server,
    or to chatkit's local response store). ``endpoint`` is where its requests go and
    which variables its key and address come from (None: it runs in this process);
    ``model_env`` names the variable its model comes from; ``asks_base_url`` means the person
    types the server's address (``default_base_url`` is the suggestion). ``model_field`` is how
    the model is chosen: from ``suggested_models`` (others may be typed), as free text, or as
    the path of a model file (empty: ``default_model_label``); its endpoint's ``models_key``
    names its context windows and prices. ``default_when`` are the variables that make it the
    provider the app starts with, and ``default_otherwise`` makes it the one when none is set;
    ``takes_client`` recognises an SDK client the classic API is handed. ``order`` places it
    in the sidebar's list.
    """

    name: str
    capabilities: Capabilities
    build: Builder
    shapes: Mapping[str, ApiShape]
    order: int = 100
    mode_labels: Mapping[str, str] = field(default_factory=lambda: dict(OPENAI_MODE_LABELS))
    endpoint: Endpoint | None = None
    model_env: str | None = None
    asks_base_url: bool = False
    default_base_url: str | None = None
    model_field: Literal["choice", "text", "path"] = "choice"
    suggested_models: tuple[str, ...] = ()
    default_model_label: str = ""
    generation_defaults: GenerationDefaults = field(default_factory=GenerationDefaults)
    default_when: tuple[str, ...] = ()
    default_otherwise: bool = False
    takes_client: Callable[[Any], bool] | None = None

    @property
    def chains_locally(self) -> bool:
        """Responses mode is chatkit's local response store (the provider keeps no state)."""
        return not self.capabilities.server_side_chaining

    @property
    def api_key_env(self) -> str | None:
        return self.endpoint.api_key_env if self.endpoint else None

    @property
    def base_url_env(self) -> str | None:
        return self.endpoint.base_url_env if self.endpoint else None

    @property
    def models_key(self) -> str | None:
        """Its tables of context windows and prices (None: any table)."""
        return self.endpoint.models_key if self.endpoint else None

    def mode_label(self, mode: str) -> str:
        """The words for an API mode of this provider."""
        return self.mode_labels.get(mode, mode)

    def request_shape(self, mode: str) -> ApiShape:
        """The API shape a client sends in ``mode``."""
        return self.shapes[mode]

    def model_label(self, model: str) -> str:
        """The model as a caption shows it (the default model's label when none is named)."""
        return model or self.default_model_label


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
    return ProviderKind(name, Capabilities(), _unlisted, shapes=_registry()[0].shapes)


def _unlisted(spec: ProviderSpec, api_key: str | None, client: Any, store: Any) -> Provider:
    raise ValueError(
        f"Unknown provider {spec.kind!r}: choose one of {', '.join(provider_names())}."
    )


def api_shapes() -> tuple[ApiShape, ...]:
    """Every request shape the app's providers send, in order (for the request inspector)."""
    return tuple(dict.fromkeys(shape for kind in _registry() for shape in kind.shapes.values()))


def provider_variables() -> tuple[str, ...]:
    """Every variable a provider reads its key, endpoint or model from (for the app's config)."""
    names = [
        name
        for kind in _registry()
        for name in (kind.api_key_env, kind.base_url_env, kind.model_env)
        if name
    ]
    return tuple(dict.fromkeys(names))


# -- building ----------------------------------------------------------------------------------


def default_provider_kind(
    environ: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None
) -> str:
    """The first provider (in order) whose ``default_when`` variables are set, else the one
    that is the default otherwise (the local model: no key needed)."""
    environ = os.environ if environ is None else environ
    secrets = secrets or {}

    def has(name: str) -> bool:
        return bool(environ.get(name) or secrets.get(name))

    for kind in _registry():
        if any(has(name) for name in kind.default_when):
            return kind.name
    return next(kind.name for kind in _registry() if kind.default_otherwise)


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"Unknown API mode {mode!r}: use 'chat' or 'responses'.")


def in_mode(provider: Provider, mode: str, store: ResponseStore | None = None) -> Provider:
    """``provider`` in API ``mode``: as it is when it already speaks it, else Responses mode
    through chatkit's local response store."""
    _check_mode(mode)
    if mode == "chat" or provider.mode == "responses":
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
    _check_mode(spec.mode)
    store = store if store is not None else ResponseStore()
    built = provider_kind(spec.kind).build(spec, api_key, client, store)
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
