"""The deterministic "model" behind every route: a reply and token counts from a context.

Each route first turns its request into the context the model "sees": a list of
:class:`Turn` - the system prompt / instructions followed by every message, in order. The
reply then depends only on that context, so a test can tell from the reply text alone
whether the client really sent the history:

1. Facts: every user text is scanned, in order, for ``my <key> is <value>``
   ("My favorite color is blue" -> ``{"favorite color": "blue"}``); later statements win.
2. If the last user text asks ``what is my <key>?`` the reply is ``Your <key> is <value>.``
   when the fact is known, else ``I don't know your <key>.``
3. Else if the last user text starts with "Summarize" the reply is
   ``Summary: `` + the earlier user texts joined by `` / ``.
4. Else the reply is ``You said: <last user text> (<n> messages in context)`` where ``n``
   counts the non-system turns.

Token counts are just as deterministic (words are whitespace-separated):

* ``input_tokens = 3 + sum(4 + words(turn.text) for every turn)``, system turns included;
* ``output_tokens = words(reply)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

FACT = re.compile(r"my ([a-z][a-z ]*?) is ([^.!?\n]+)", re.IGNORECASE)
QUESTION = re.compile(r"what(?:'s|’s| is) my ([a-z][a-z ]*?)\s*\??\s*$", re.IGNORECASE)
SYSTEM_ROLES = frozenset({"system", "developer"})

REPLY_PRIMING_TOKENS = 3
TOKENS_PER_TURN = 4


@dataclass(frozen=True)
class Turn:
    """One entry of the context: a role (``system``, ``user``, ``assistant``...) and text."""

    role: str
    text: str

    @property
    def is_system(self) -> bool:
        """System and developer turns are instructions, not conversation messages."""
        return self.role in SYSTEM_ROLES


def _normalize_key(key: str) -> str:
    return " ".join(key.lower().split())


def known_facts(context: Iterable[Turn]) -> dict[str, str]:
    """Every ``my <key> is <value>`` stated in user turns; later statements overwrite."""
    facts: dict[str, str] = {}
    for turn in context:
        if turn.role != "user":
            continue
        for match in FACT.finditer(turn.text):
            facts[_normalize_key(match.group(1))] = match.group(2).strip()
    return facts


def reply_for(context: list[Turn]) -> str:
    """The reply the model gives to ``context`` (see the module docstring for the rules)."""
    user_texts = [turn.text for turn in context if turn.role == "user"]
    last = user_texts[-1] if user_texts else ""
    question = QUESTION.search(last)
    if question:
        key = _normalize_key(question.group(1))
        value = known_facts(context).get(key)
        return f"Your {key} is {value}." if value is not None else f"I don't know your {key}."
    if last.lstrip().lower().startswith("summarize"):
        return "Summary: " + " / ".join(user_texts[:-1])
    messages = sum(1 for turn in context if not turn.is_system)
    return f"You said: {last} ({messages} messages in context)"


def word_count(text: str) -> int:
    """Number of whitespace-separated words."""
    return len(text.split())


def count_input_tokens(context: Iterable[Turn]) -> int:
    """``3 + sum(4 + words)`` over every turn, system turns included."""
    return REPLY_PRIMING_TOKENS + sum(TOKENS_PER_TURN + word_count(t.text) for t in context)


def count_output_tokens(reply: str) -> int:
    """One token per word of the reply."""
    return word_count(reply)


def word_chunks(reply: str) -> list[str]:
    """The reply split for streaming: each word with the whitespace that follows it."""
    return re.findall(r"\S+\s*", reply) or [reply]


def text_of(content: object) -> str:
    """Plain text of a message ``content``: a string or a list of text-bearing parts.

    Parts of every text type (``text``, ``input_text``, ``output_text``) are joined with
    newlines; parts without text (images, tool calls...) are ignored.
    """
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        return "\n".join(texts)
    return ""


@dataclass(frozen=True)
class Answer:
    """The model's reply to a context, with both token counts (what every route reports)."""

    text: str
    input_tokens: int
    output_tokens: int

    @classmethod
    def of(cls, context: list[Turn]) -> Answer:
        """The reply to ``context`` (see the module docstring), counted."""
        text = reply_for(context)
        return cls(text, count_input_tokens(context), count_output_tokens(text))

    @property
    def chunks(self) -> list[str]:
        """The reply split for streaming (:func:`word_chunks`)."""
        return word_chunks(self.text)
