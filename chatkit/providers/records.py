"""What the app knows about each provider it offers: one ``ProviderKind`` record, every fact
written once.

A record holds the provider's labels, the fields the sidebar asks for, what it supports, how
to build it, the request shape its client sends in each API mode, its endpoint (and so its
environment variables and its tables of context windows and prices). Each record lives in its
provider's own module under ``chatkit/providers/`` (a module-level ``PROVIDER_KINDS``), where
``chatkit.providers.registry`` finds it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from chatkit.providers.base import MODES, ApiShape, Capabilities, Provider
from chatkit.providers.endpoints import Endpoint

OPENAI_MODE_LABELS: Mapping[str, str] = {"chat": "Chat Completions", "responses": "Responses"}
# What the request inspector can show of the prompt a kind's model reads
# (``chatkit.teaching.model_view``): "template" a GGUF file run here, through its own chat
# template; "served" a server's template, known when it runs a GGUF file that is here too;
# "encoding" the public tiktoken encoding of each message, the role markers only counted;
# "count" no public tokenizer, so only a count.
PromptView = Literal["template", "served", "encoding", "count"]


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

    def over(self, base: GenerationDefaults) -> GenerationDefaults:
        """These defaults, with ``base``'s wherever these leave one unset."""
        return GenerationDefaults(
            system_prompt=base.system_prompt if self.system_prompt is None else self.system_prompt,
            temperature=base.temperature if self.temperature is None else self.temperature,
            max_output_tokens=(
                base.max_output_tokens if self.max_output_tokens is None else self.max_output_tokens
            ),
        )


# (its record, the spec, a key, an SDK client, the session's ResponseStore) -> the provider;
# Responses mode may come back in chat mode, and is then chained locally.
Builder = Callable[["ProviderKind", ProviderSpec, str | None, Any, Any], Provider]


@dataclass(frozen=True)
class ProviderKind:
    """One provider as the app offers it.

    ``build`` makes its provider for a ``ProviderSpec``; ``shapes`` are the request shapes its
    client sends in each API mode (in Responses mode the Responses shape: to its own server,
    or to chatkit's local response store). ``endpoint`` is where its requests go and
    which variables its key and address come from (None: it runs in this process);
    ``model_env`` names the variable its model comes from; ``asks_base_url`` means the person
    types the server's address (``default_base_url`` is the suggestion, ``base_url_help`` says
    which servers fit). ``model_field`` is how
    the model is chosen: from ``suggested_models`` (others may be typed), as free text, or as
    the path of a model file (empty: ``default_model_label``); its endpoint's ``models_key``
    names its context windows and prices. ``default_when`` are the variables that make it the
    provider the app starts with (its base URL's variable counts only for an address at its
    own API; a kind without an API of its own takes any), and ``default_otherwise`` makes it
    the one when none is set;
    ``takes_client`` recognises an SDK client the classic API is handed. ``order`` places it
    in the sidebar's list. ``prompt_view`` is how much of the prompt its model reads can be
    shown (``PromptView``).
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
    base_url_help: str = ""
    model_field: Literal["choice", "text", "path"] = "choice"
    suggested_models: tuple[str, ...] = ()
    default_model_label: str = ""
    generation_defaults: GenerationDefaults = field(default_factory=GenerationDefaults)
    default_when: tuple[str, ...] = ()
    default_otherwise: bool = False
    takes_client: Callable[[Any], bool] | None = None
    prompt_view: PromptView = "count"

    @property
    def modes(self) -> tuple[str, ...]:
        """The API modes this kind offers, in ``MODES`` order (the sidebar's choices)."""
        return tuple(mode for mode in MODES if mode in self.shapes)

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
