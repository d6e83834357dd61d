"""The providers the app offers, described as data, and the one function that builds them.

The sidebar, the captions and the teaching pages read a ``ProviderKind`` (its labels, which
fields it needs, what it supports) instead of testing provider names, so adding a provider
means adding an entry here and its module beside this one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import chatkit.providers.local.defaults as local_defaults
from chatkit.providers.base import MODES, Capabilities, Provider
from chatkit.providers.chained import LocallyChained, ResponseStore

OPENAI = "OpenAI"
ANTHROPIC = "Anthropic"
COMPATIBLE = "OpenAI-compatible"
LOCAL = "Local"

# The request shapes of the three APIs (what the request inspector rebuilds).
CHAT_SHAPE = "chat"
RESPONSES_SHAPE = "responses"
MESSAGES_SHAPE = "anthropic"

OPENAI_MODE_LABELS: Mapping[str, str] = {"chat": "Chat Completions", "responses": "Responses"}


@dataclass(frozen=True)
class GenerationDefaults:
    """What the sidebar starts from for a kind; ``None`` keeps the sidebar's own default."""

    system_prompt: str | None = None
    temperature: float | None = None
    max_output_tokens: int | None = None


@dataclass(frozen=True)
class ProviderKind:
    """One provider as the sidebar offers it: its labels, its fields, what it supports.

    ``capabilities`` are the kind's own (a built provider may know more, such as whether its
    model's token counts are exact). ``api_key_env`` / ``base_url_env`` / ``model_env`` name the
    variables the host's key, endpoint and model come from; ``asks_base_url`` means the person
    types the server's address. ``model_field`` is how the model is chosen: from
    ``suggested_models`` (others may be typed), as free text, or as the path of a model file
    (empty: ``default_model_label``). ``generation_defaults`` are the system prompt and
    sampling the sidebar starts from for this kind.
    """

    name: str
    capabilities: Capabilities
    mode_labels: Mapping[str, str] = field(default_factory=lambda: dict(OPENAI_MODE_LABELS))
    chat_shape: str = CHAT_SHAPE
    api_key_env: str | None = None
    base_url_env: str | None = None
    model_env: str | None = None
    asks_base_url: bool = False
    default_base_url: str | None = None
    model_field: Literal["choice", "text", "path"] = "choice"
    suggested_models: tuple[str, ...] = ()
    default_model_label: str = ""
    generation_defaults: GenerationDefaults = field(default_factory=GenerationDefaults)

    @property
    def chains_locally(self) -> bool:
        """Responses mode is chatkit's local response store (the provider keeps no state)."""
        return not self.capabilities.server_side_chaining

    def mode_label(self, mode: str) -> str:
        """The words for an API mode of this provider."""
        return self.mode_labels.get(mode, mode)

    def request_shape(self, mode: str) -> str:
        """The API shape a client sends in ``mode``: Responses for every provider in Responses
        mode (local chaining takes that shape too), else this provider's own chat shape."""
        return RESPONSES_SHAPE if mode == "responses" else self.chat_shape

    def model_label(self, model: str) -> str:
        """The model as a caption shows it (the default model's label when none is named)."""
        return model or self.default_model_label


PROVIDER_KINDS_BY_NAME: dict[str, ProviderKind] = {
    kind.name: kind
    for kind in (
        ProviderKind(
            OPENAI,
            Capabilities(server_side_chaining=True),
            api_key_env="OPENAI_API_KEY",
            base_url_env="OPENAI_BASE_URL",
            suggested_models=(
                "gpt-4.1-mini",
                "gpt-4.1",
                "gpt-4o-mini",
                "gpt-4o",
                "gpt-5.5",
                "gpt-5.4-mini",
            ),
        ),
        ProviderKind(
            ANTHROPIC,
            Capabilities(sampling_parameters=False),
            mode_labels={"chat": "Messages", "responses": "Messages + local chaining"},
            chat_shape=MESSAGES_SHAPE,
            api_key_env="ANTHROPIC_API_KEY",
            base_url_env="ANTHROPIC_BASE_URL",
            suggested_models=(
                "claude-sonnet-4-6",
                "claude-haiku-4-5",
                "claude-opus-4-7",
                "claude-sonnet-5-5",
            ),
        ),
        ProviderKind(
            COMPATIBLE,
            Capabilities(server_side_chaining=True, needs_api_key=False),
            base_url_env="OPENAI_BASE_URL",
            asks_base_url=True,
            default_base_url="http://127.0.0.1:11434/v1",
            model_field="text",
            suggested_models=("llama3.2", "qwen2.5:7b-instruct"),
        ),
        ProviderKind(
            LOCAL,
            Capabilities(exact_token_counts=True, needs_api_key=False, loads_in_process=True),
            mode_labels={"chat": "Chat", "responses": "Chat + local chaining"},
            model_env="CHATKIT_LOCAL_MODEL",
            model_field="path",
            default_model_label="bundled SmolLM2-135M",
            # Chosen by bench/recall.py: what makes the bundled 135M model recall best.
            generation_defaults=GenerationDefaults(
                system_prompt=local_defaults.SYSTEM_PROMPT,
                temperature=local_defaults.TEMPERATURE,
                max_output_tokens=local_defaults.MAX_OUTPUT_TOKENS,
            ),
        ),
    )
}
PROVIDER_KINDS: tuple[str, ...] = tuple(PROVIDER_KINDS_BY_NAME)


def provider_variables() -> tuple[str, ...]:
    """Every variable a provider reads its key, endpoint or model from (for the app's config)."""
    names = [
        name
        for kind in PROVIDER_KINDS_BY_NAME.values()
        for name in (kind.api_key_env, kind.base_url_env, kind.model_env)
        if name
    ]
    return tuple(dict.fromkeys(names))


def provider_kind(name: str) -> ProviderKind:
    """The kind called ``name``; a name chatkit does not list (a provider built by hand) is
    described as an OpenAI-style provider without server-side state."""
    known = PROVIDER_KINDS_BY_NAME.get(name)
    return known if known is not None else ProviderKind(name, Capabilities())


@dataclass(frozen=True)
class ProviderSpec:
    """What the user chose: which provider, which API mode, which model (and where)."""

    kind: str = LOCAL
    mode: str = "chat"
    model: str = ""
    base_url: str | None = None
    context_window: int | None = None


def default_provider_kind(
    environ: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None
) -> str:
    """Local when no key is configured anywhere, else OpenAI (or Anthropic if only that key)."""
    environ = os.environ if environ is None else environ
    secrets = secrets or {}

    def has(name: str) -> bool:
        return bool(environ.get(name) or secrets.get(name))

    if has("OPENAI_API_KEY") or has("OPENAI_BASE_URL"):
        return OPENAI
    if has("ANTHROPIC_API_KEY"):
        return ANTHROPIC
    return LOCAL


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
    """The provider for ``spec``; Responses mode on Anthropic and Local uses ``store``."""
    _check_mode(spec.mode)
    store = store if store is not None else ResponseStore()
    if spec.kind in (OPENAI, COMPATIBLE):
        from chatkit.providers.openai_chat import OpenAIChat
        from chatkit.providers.openai_responses import OpenAIResponses

        common: dict[str, Any] = {
            "model": spec.model,
            "name": spec.kind,
            "client": client,
            "api_key": api_key,
            "base_url": spec.base_url if spec.kind == COMPATIBLE else None,
            "context_window_tokens": spec.context_window,
        }
        if spec.mode == "chat":
            return OpenAIChat(**common)
        return OpenAIResponses(**common, store=store)
    if spec.kind == ANTHROPIC:
        from chatkit.providers.anthropic import Anthropic

        inner: Provider = Anthropic(
            model=spec.model,
            client=client,
            api_key=api_key,
            base_url=spec.base_url,
            context_window_tokens=spec.context_window,
        )
    elif spec.kind == LOCAL:
        from chatkit.providers.local import LocalModel

        inner = LocalModel(spec.model or None)
    else:
        raise ValueError(
            f"Unknown provider {spec.kind!r}: choose one of {', '.join(PROVIDER_KINDS)}."
        )
    return in_mode(inner, spec.mode, store)


def provider_for_client(
    client: Any, model: str, mode: str = "chat", store: ResponseStore | None = None
) -> Provider:
    """A provider for an SDK client (``openai.OpenAI``, ``anthropic.Anthropic``) or a chatkit
    provider passed through, in API ``mode``. An OpenAI client pointed at another server
    is an OpenAI-compatible provider for that server (so sentences name it, not OpenAI)."""
    import anthropic
    import openai

    from chatkit.providers.clients import ANTHROPIC_HOST, OPENAI_HOST, url_host

    if isinstance(client, openai.OpenAI):
        base_url = str(client.base_url)
        if url_host(base_url) == OPENAI_HOST:
            return make_provider(ProviderSpec(OPENAI, mode, model), client=client, store=store)
        return make_provider(
            ProviderSpec(COMPATIBLE, mode, model, base_url=base_url), client=client, store=store
        )
    if isinstance(client, anthropic.Anthropic):
        base_url = str(client.base_url)
        other = None if url_host(base_url) == ANTHROPIC_HOST else base_url
        spec = ProviderSpec(ANTHROPIC, mode, model, base_url=other)
        return make_provider(spec, client=client, store=store)
    if hasattr(client, "stream") and hasattr(client, "complete"):
        return in_mode(client, mode, store)
    raise TypeError(
        "Expected an openai.OpenAI client, an anthropic.Anthropic client, or a chatkit provider, "
        f"not {type(client).__name__}."
    )
