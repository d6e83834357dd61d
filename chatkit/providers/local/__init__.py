"""The llama.cpp subsystem: a GGUF model run in-process, offline, with exact token counts.

``LocalModel`` is the door; ``runtime`` loads and shares models, ``queue`` lines up the
sessions that share one, ``stream`` generates token by token, ``tokens`` counts with the
model's own tokenizer and chat template; ``defaults`` holds the settings the app starts from,
``catalogue`` the GGUF models offered for download and ``downloads`` fetches them; ``server``
runs llama.cpp's own server for a class. Names load on first use, so the light modules
(defaults, catalogue, queue) can be imported without loading llama.cpp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatkit.providers.local.model import (
        DEFAULT_MAX_OUTPUT_TOKENS,
        DEFAULT_MODEL_FILE,
        DEFAULT_TEMPERATURE,
        LOCAL_CAPABILITIES,
        LocalModel,
        default_model_path,
        download_model,
    )

__all__ = [
    "DEFAULT_MAX_OUTPUT_TOKENS",
    "DEFAULT_MODEL_FILE",
    "DEFAULT_TEMPERATURE",
    "LOCAL_CAPABILITIES",
    "LocalModel",
    "default_model_path",
    "download_model",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("chatkit.providers.local.model"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
