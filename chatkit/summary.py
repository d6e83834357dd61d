"""Summaries of a conversation: the recent turns as lines, or one written by a model."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from chatkit.conversation import Conversation
from chatkit.errors import EmptyMessage
from chatkit.messages import ROLE_LABELS, Message, clip

if TYPE_CHECKING:
    from chatkit.providers.base import Provider
    from chatkit.providers.calls import CallResult

SUMMARY_LINE_LIMIT = 100
SEED_HEADING = "Summary of an earlier conversation (continue from it):"
SEEDED_TITLE_SUFFIX = " (continued)"
SUMMARIZE_INSTRUCTIONS = (
    "You summarize conversations. Write a short summary of the conversation below that keeps "
    "every fact the user stated (names, preferences, numbers) and what was decided. Reply with "
    "the summary only."
)


def recent_summary(conversation: Conversation, turns: int = 3) -> str:
    """ "User: …" / "Assistant: …" lines for the last ``turns`` turns, each cut to 100 chars."""
    lines: list[str] = []
    for turn in conversation.turns[-turns:] if turns > 0 else []:
        if turn.user is not None:
            lines.append(f"User: {clip(turn.user.content, SUMMARY_LINE_LIMIT)}")
        if turn.assistant is not None:
            lines.append(f"Assistant: {clip(turn.assistant.content, SUMMARY_LINE_LIMIT)}")
    return "\n".join(lines)


def transcript(messages: list[Message]) -> str:
    """A plain-text transcript, the input a model gets when asked for a summary."""
    return "\n".join(f"{ROLE_LABELS[m.role]}: {m.content}" for m in messages)


def summarize_call(messages: list[Message], provider: Provider) -> CallResult:
    """Ask the model for a summary of ``messages``: the whole call, with what it cost."""
    request = Conversation(system_prompt=SUMMARIZE_INSTRUCTIONS)
    request.add_user("Summarize this conversation:\n\n" + transcript(messages))
    return provider.complete(request.to_messages())


def summarize_messages(messages: list[Message], provider: Provider) -> str:
    """An LLM-written summary of ``messages`` (used by ``SummarizeOlder`` in the app)."""
    return summarize_call(messages, provider).text.strip()


def summarize(conversation: Conversation, provider: Provider) -> str:
    """An LLM-written summary of the conversation so far (its turns, not its system prompt)."""
    return summarize_messages(list(conversation.messages), provider)


def message_lines(messages: Sequence[Message]) -> str:
    """ "User: …" / "Assistant: …" lines for ``messages``, each cut to 100 characters.

    The cheap summary: no model call, the same lines ``recent_summary`` writes.
    """
    return "\n".join(map(message_line, messages))


@lru_cache(maxsize=20_000)
def message_line(message: Message) -> str:
    """One message as its "User: …" line (remembered: previews redo the same lines at every
    keystroke)."""
    return f"{ROLE_LABELS[message.role]}: {clip(message.content, SUMMARY_LINE_LIMIT)}"


# The lists a GrowingLines was asked about, by the first of them: each later text with the
# text it grew from and the messages it added. Shared by every session (sessions asking about
# the same conversation get the same text objects); a few conversations at a time.
_MAX_GROWN_LISTS = 4
_grown: dict[tuple[Message, ...], list[tuple[str, tuple[Message, ...], str]]] = {}
_grown_lock = threading.Lock()


class GrowingLines:
    """``message_lines`` for a list asked about again and again, longer each time, as
    "summarize older turns" asks when it gives up one more kept turn: each text is the one
    before it plus the new lines, and the texts are kept, so that the next keystroke's plan
    gets back the very same string objects (Python keeps a string's hash on it: counting
    them again is a dictionary lookup, not a pass over 100 KB of text)."""

    def __init__(self) -> None:
        self._asked: list[Message] = []
        self._text = ""
        self._grown: list[tuple[str, tuple[Message, ...], str]] | None = None
        self._step = 0

    def __call__(self, messages: Sequence[Message]) -> str:
        messages = list(messages)
        with _grown_lock:
            grown = self._grown
            if grown is None or messages[: len(self._asked)] != self._asked:
                text = self._first(messages)
            else:
                text = self._longer(grown, messages)
        self._asked, self._text = messages, text
        return text

    def _first(self, messages: list[Message]) -> str:
        key = tuple(messages)
        grown = _grown.get(key)
        if grown is None:
            if len(_grown) >= _MAX_GROWN_LISTS:
                _grown.clear()
            grown = _grown[key] = [("", key, message_lines(messages))]
        self._grown, self._step = grown, 0
        return grown[0][2]

    def _longer(
        self, grown: list[tuple[str, tuple[Message, ...], str]], messages: list[Message]
    ) -> str:
        added = tuple(messages[len(self._asked) :])
        self._step += 1
        if self._step < len(grown):
            before, known, text = grown[self._step]
            if before is self._text and known == added:  # grown from the very text we gave
                return text
        lines = [self._text] if self._text else []
        text = "\n".join([*lines, *map(message_line, added)])
        grown[self._step :] = [(self._text, added, text)]
        return text


def seeded_conversation(conversation: Conversation, summary_text: str) -> Conversation:
    """A new, empty conversation whose system prompt carries ``summary_text``.

    The old system prompt is kept first, then the summary under a heading, so the model starts
    the new conversation knowing what the old one established. The old conversation is not
    changed; the new one gets its own id and a title saying it continues the old one.
    """
    summary = summary_text.strip()
    if not summary:
        raise EmptyMessage("The summary is empty: write or ask for one before starting over.")
    prompt = "\n\n".join(
        part for part in (conversation.system_prompt.strip(), f"{SEED_HEADING}\n{summary}") if part
    )
    title = conversation.title + SEEDED_TITLE_SUFFIX if conversation.title else ""
    return Conversation(system_prompt=prompt, title=title)
