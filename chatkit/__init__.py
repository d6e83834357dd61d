"""chatkit: multi-turn conversations with LLMs, and the mechanics made visible.

Importable without Streamlit. The classic names from the tutorial "Multi-Turn Conversations"
are here too: ``ConversationManager``, ``ResponsesConversation``, ``Chatbot``,
``ConversationSession``, ``normalize_messages``, ``count_tokens``, ``fits_context``.
Heavier parts (the SDK providers, the local model) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from chatkit.budget import ContextBudget
from chatkit.conversation import Conversation, ReplyInfo, Turn
from chatkit.errors import ChatkitError, ContextOverflow, InvalidDocument
from chatkit.messages import Message, normalize_messages
from chatkit.summary import recent_summary
from chatkit.tokens import count_message_tokens, count_tokens, fits_context
from chatkit.trimming import Chain, KeepAll, LastNTurns, SummarizeOlder, TokenBudget

_LAZY = {
    "ConversationManager": "chatkit.classic",
    "ResponsesConversation": "chatkit.classic",
    "Chatbot": "chatkit.classic",
    "ConversationSession": "chatkit.classic",
    "summarize": "chatkit.summary",
    "OpenAIChat": "chatkit.providers.openai_chat",
    "OpenAIResponses": "chatkit.providers.openai_responses",
    "Anthropic": "chatkit.providers.anthropic",
    "LocalModel": "chatkit.providers.local",
    "ResponseStore": "chatkit.providers.chained",
    "LocallyChained": "chatkit.providers.chained",
}

__all__ = [
    "Chain",
    "ChatkitError",
    "ContextBudget",
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
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'chatkit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
