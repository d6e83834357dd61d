"""The llama.cpp subsystem: a GGUF model run in-process, offline, with exact token counts.

``LocalModel`` is the door; ``runtime`` loads and shares models, ``stream`` generates token by
token, ``tokens`` counts with the model's own tokenizer and chat template.
"""

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
