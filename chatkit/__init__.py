"""chatkit: multi-turn conversations with LLMs, and the mechanics made visible.

Importable without Streamlit. The classic names from the tutorial "Multi-Turn Conversations"
are here too: ``ConversationManager``, ``ResponsesConversation``, ``Chatbot``,
``ConversationSession``, ``normalize_messages``, ``count_tokens``, ``fits_context``.
Heavier parts (the SDK providers, the local model) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from chatkit.conversation import Conversation, ReplyInfo, Turn
from chatkit.errors import ChatkitError, ContextOverflow, InvalidDocument
from chatkit.messages import Message, normalize_messages
from chatkit.summary import recent_summary, summarize
from chatkit.tokens import count_message_tokens, count_tokens, fits_context
from chatkit.trimming import Chain, KeepAll, LastNTurns, SummarizeOlder, TokenBudget
from chatkit.window_fill import WindowFill

# The tutorial's classes (and the SDKs under them) load on first use.
CLASSIC = ("ConversationManager", "ResponsesConversation", "Chatbot", "ConversationSession")
PROVIDERS = ("OpenAIChat", "OpenAIResponses", "Anthropic", "LocalModel", "ResponseStore")

__all__ = [
    "Chain",
    "ChatkitError",
    "WindowFill",
    "ContextOverflow",
    "Conversation",
    "InvalidDocument",
    "KeepAll",
    "LastNTurns",
    "Message",
    "ReplyInfo",
    "SummarizeOlder",
    "TokenBudget",
    "Turn",
    "count_message_tokens",
    "count_tokens",
    "fits_context",
    "normalize_messages",
    "recent_summary",
    "summarize",
    *CLASSIC,
    *PROVIDERS,
]


def __getattr__(name: str) -> Any:
    if name in CLASSIC:
        return getattr(importlib.import_module("chatkit.classic"), name)
    if name in PROVIDERS:
        return getattr(importlib.import_module("chatkit.providers"), name)
    raise AttributeError(f"module 'chatkit' has no attribute {name!r}")
