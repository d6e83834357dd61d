"""Providers: one module per API, each filling the same ``Provider`` shape.

The door: the protocol and result types (``base``), the catalogue of providers the app offers
and the function that builds one (``factory``), and local chaining (``chained``). The SDK
providers and the local model load on first use: ``chatkit.providers.OpenAIChat`` and the
like import their SDK (or llama.cpp) only when asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

from chatkit.providers.base import (
    MODES,
    Capabilities,
    GenerationOptions,
    Provider,
    ReplyStream,
    StreamingProvider,
    TurnResult,
    Usage,
    request_size,
)
from chatkit.providers.chained import LocallyChained, ResponseStore
from chatkit.providers.factory import (
    PROVIDER_KINDS,
    ProviderKind,
    ProviderSpec,
    default_provider_kind,
    in_mode,
    make_provider,
    provider_for_client,
    provider_kind,
    provider_variables,
)

_LAZY = {
    "OpenAIChat": "chatkit.providers.openai_chat",
    "OpenAIResponses": "chatkit.providers.openai_responses",
    "Anthropic": "chatkit.providers.anthropic",
    "LocalModel": "chatkit.providers.local",
}

__all__ = [
    "MODES",
    "PROVIDER_KINDS",
    "Capabilities",
    "GenerationOptions",
    "LocallyChained",
    "Provider",
    "ProviderKind",
    "ProviderSpec",
    "ReplyStream",
    "ResponseStore",
    "StreamingProvider",
    "TurnResult",
    "Usage",
    "default_provider_kind",
    "in_mode",
    "make_provider",
    "provider_for_client",
    "provider_kind",
    "provider_variables",
    "request_size",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'chatkit.providers' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
