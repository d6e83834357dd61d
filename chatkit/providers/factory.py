"""Build the provider for a (provider kind, API mode, model) choice, as the sidebar offers it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chatkit.providers.base import Provider
from chatkit.response_store import LocallyChained, ResponseStore

OPENAI = "OpenAI"
ANTHROPIC = "Anthropic"
COMPATIBLE = "OpenAI-compatible"
LOCAL = "Local"
PROVIDER_KINDS: tuple[str, ...] = (OPENAI, ANTHROPIC, COMPATIBLE, LOCAL)
MODES: tuple[str, ...] = ("chat", "responses")

# Suggestions for the model picker; any other name can be typed in.
SUGGESTED_MODELS: dict[str, tuple[str, ...]] = {
    OPENAI: ("gpt-4.1-mini", "gpt-4.1", "gpt-4o-mini", "gpt-4o", "gpt-5.5", "gpt-5.4-mini"),
    ANTHROPIC: ("claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-7", "claude-sonnet-5-5"),
    COMPATIBLE: ("llama3.2", "qwen2.5:7b-instruct"),
    LOCAL: ("",),
}
API_KEY_ENV = {OPENAI: "OPENAI_API_KEY", ANTHROPIC: "ANTHROPIC_API_KEY"}


@dataclass(frozen=True)
class ProviderSpec:
    """What the user chose: which provider, which API mode, which model (and where)."""

    kind: str = LOCAL
    mode: str = "chat"
    model: str = ""
    base_url: str | None = None
    context_window: int | None = None

    @property
    def uses_local_store(self) -> bool:
        """Responses mode without server-side state: chained through the local response store."""
        return self.mode == "responses" and self.kind in (ANTHROPIC, LOCAL)


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


def make_provider(
    spec: ProviderSpec,
    *,
    api_key: str | None = None,
    client: Any = None,
    store: ResponseStore | None = None,
) -> Provider:
    """The provider for ``spec``; Responses mode on Anthropic and Local uses ``store``."""
    if spec.mode not in MODES:
        raise ValueError(f"Unknown API mode {spec.mode!r}.")
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

        inner = LocalModel(model_path=spec.model or None)
    else:
        raise ValueError(
            f"Unknown provider {spec.kind!r}: choose one of {', '.join(PROVIDER_KINDS)}."
        )
    if spec.mode == "chat":
        return inner
    return LocallyChained(model=inner.model, inner=inner, store=store)
