"""The settings the app starts from for the local model, as ``bench/recall.py`` chose them.

Plain values (no llama.cpp import), read by the provider catalogue (the sidebar's defaults for
the Local kind) and by ``LocalModel`` (what it uses when a call sets nothing).
"""

from __future__ import annotations

SYSTEM_PROMPT = "You are a helpful assistant with a good memory."
TEMPERATURE = 0.0
MAX_OUTPUT_TOKENS = 48
REPEAT_PENALTY = 1.0
