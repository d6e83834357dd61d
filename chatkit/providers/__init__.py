"""Providers: one module per API, each filling the same ``Provider`` shape, and one record
(``ProviderKind``) per provider the app offers.

The door: the protocol and the shared plumbing (``base``), what a call streams and returns
(``calls``), the records (``records``) and the registry that finds them and builds providers
(``registry``), and local chaining (``chained``). Importing the door loads no SDK: the
provider classes (``chatkit.providers.OpenAIChat`` and the like) import theirs when asked for,
and the registry imports every provider's module (so both SDKs) the first time it lists them;
llama.cpp loads only when a local model is built.
"""

from __future__ import annotations

import importlib
from typing import Any

from chatkit.providers.base import MODES, ApiShape, Capabilities, GenerationOptions, Provider
from chatkit.providers.calls import (
    CallResult,
    Finished,
    ReplyStream,
    StreamEvent,
    TextDelta,
    Usage,
    UsageReport,
    Waiting,
    request_size,
)
from chatkit.providers.chained import LocallyChained, ResponseStore
from chatkit.providers.records import ProviderKind, ProviderSpec
from chatkit.providers.registry import (
    api_shapes,
    default_provider_kind,
    generation_defaults,
    host_model,
    in_mode,
    is_provider,
    make_provider,
    provider_for_client,
    provider_kind,
    provider_kinds,
    provider_names,
    provider_variables,
)

PROVIDER_CLASSES = {
    "OpenAIChat": "chatkit.providers.openai_chat",
    "OpenAIResponses": "chatkit.providers.openai_responses",
    "Anthropic": "chatkit.providers.anthropic",
    "LocalModel": "chatkit.providers.local.model",
}

__all__ = [
    "MODES",
    "ApiShape",
    "CallResult",
    "Capabilities",
    "Finished",
    "GenerationOptions",
    "LocallyChained",
    "Provider",
    "ProviderKind",
    "ProviderSpec",
    "ReplyStream",
    "ResponseStore",
    "StreamEvent",
    "TextDelta",
    "Usage",
    "UsageReport",
    "Waiting",
    "api_shapes",
    "default_provider_kind",
    "generation_defaults",
    "host_model",
    "in_mode",
    "is_provider",
    "make_provider",
    "provider_for_client",
    "provider_kind",
    "provider_kinds",
    "provider_names",
    "provider_variables",
    "request_size",
    *PROVIDER_CLASSES,
]


def __getattr__(name: str) -> Any:
    module = PROVIDER_CLASSES.get(name)
    if module is None:
        raise AttributeError(f"module 'chatkit.providers' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
