"""Summaries of a conversation: the recent turns as lines, or one written by a model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatkit.conversation import Conversation
from chatkit.messages import Message

if TYPE_CHECKING:
    from chatkit.providers.base import Provider

SUMMARY_LINE_LIMIT = 100
SUMMARIZE_INSTRUCTIONS = (
    "You summarize conversations. Write a short summary of the conversation below that keeps "
    "every fact the user stated (names, preferences, numbers) and what was decided. Reply with "
    "the summary only."
)


def clip(text: str, limit: int = SUMMARY_LINE_LIMIT) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis only if it was cut."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def recent_summary(conversation: Conversation, turns: int = 3) -> str:
    """ "User: …" / "Assistant: …" lines for the last ``turns`` turns, each cut to 100 chars."""
    lines: list[str] = []
    for turn in conversation.turns[-turns:] if turns > 0 else []:
        if turn.user is not None:
            lines.append(f"User: {clip(turn.user.content)}")
        if turn.assistant is not None:
            lines.append(f"Assistant: {clip(turn.assistant.content)}")
    return "\n".join(lines)


def transcript(messages: list[Message]) -> str:
    """A plain-text transcript, the input a model gets when asked for a summary."""
    names = {"user": "User", "assistant": "Assistant", "system": "System", "developer": "Developer"}
    return "\n".join(f"{names[m.role]}: {m.content}" for m in messages)


def summarize_messages(messages: list[Message], provider: Provider) -> str:
    """An LLM-written summary of ``messages`` (used by ``SummarizeOlder`` in the app)."""
    request = Conversation(system_prompt=SUMMARIZE_INSTRUCTIONS)
    request.add_user("Summarize this conversation:\n\n" + transcript(messages))
    return provider.complete(request.to_messages()).text.strip()


def summarize(conversation: Conversation, provider: Provider) -> str:
    """An LLM-written summary of the conversation so far (its turns, not its system prompt)."""
    return summarize_messages(list(conversation.messages), provider)
