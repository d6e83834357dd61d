"""The llama.cpp subsystem: a GGUF model run in-process, offline, with exact token counts.

``LocalModel`` (in ``model``) is the door, and ``PROVIDER_KINDS`` the app's record of it;
``runtime`` loads and shares models, ``queue`` lines up the sessions that share one,
``stream`` generates token by token, ``tokens`` counts with the model's own tokenizer and chat
template; ``defaults`` holds the settings the app starts from, ``catalogue`` the GGUF models
offered for download and ``downloads`` fetches them, ``files`` finds the file a model's name
means; ``server`` runs llama.cpp's own server for
a class. llama.cpp loads only when a model is built, so the light modules (defaults,
catalogue, queue) and this record can be imported without it.
"""

from __future__ import annotations

import importlib
from typing import Any

from chatkit.providers.anthropic_messages import MESSAGES, MESSAGES_MODE_LABEL
from chatkit.providers.base import Capabilities, Provider
from chatkit.providers.chained import ResponseStore
from chatkit.providers.local import defaults
from chatkit.providers.openai_chat import CHAT_COMPLETIONS
from chatkit.providers.openai_responses import RESPONSES
from chatkit.providers.records import GenerationDefaults, ProviderKind, ProviderSpec

MODEL_MODULE = "chatkit.providers.local.model"
__all__ = ["PROVIDER_KINDS", "LocalModel", "default_model_path", "download_model"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(MODEL_MODULE), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _build(
    kind: ProviderKind, spec: ProviderSpec, api_key: str | None, client: Any, store: ResponseStore
) -> Provider:
    local_model = importlib.import_module(MODEL_MODULE).LocalModel  # loads llama.cpp
    return local_model(spec.model or None)


PROVIDER_KINDS = (
    ProviderKind(
        "Local",
        Capabilities(exact_token_counts=True, needs_api_key=False, loads_in_process=True),
        _build,
        shapes={"chat": CHAT_COMPLETIONS, "responses": RESPONSES, "messages": MESSAGES},
        order=40,
        mode_labels={
            "chat": "Chat",
            "responses": "Chat + local chaining",
            "messages": MESSAGES_MODE_LABEL,
        },
        model_env="CHATKIT_LOCAL_MODEL",
        model_field="path",
        default_model_label="bundled SmolLM2-135M",
        # Chosen by bench/recall.py: what makes the bundled 135M model recall best.
        generation_defaults=GenerationDefaults(
            system_prompt=defaults.SYSTEM_PROMPT,
            temperature=defaults.TEMPERATURE,
            max_output_tokens=defaults.MAX_OUTPUT_TOKENS,
        ),
        default_otherwise=True,
        prompt_view="template",
    ),
)
