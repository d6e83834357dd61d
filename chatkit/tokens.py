"""Token counts that are exact for OpenAI models and work offline.

One function chooses the tokenizer for a model (``tokenizer_for_model``); counts for models
chatkit cannot count exactly say they are estimates. The encodings themselves load offline
(``chatkit.encodings``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol, runtime_checkable

import tiktoken

from chatkit.encodings import (
    ENCODING_ALIASES,
    FALLBACK_ENCODING,
    OFFICIAL_BPE_FILES,
    get_encoding,
)
from chatkit.messages import Message, MessageLike, as_message

# The OpenAI cookbook formula for current chat models (How_to_count_tokens_with_tiktoken).
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3


class Tokenizer(Protocol):
    """Counts tokens of text and of chat messages for one model family."""

    name: str
    exact: bool
    note: str
    reply_priming: int

    def count_text(self, text: str) -> int: ...

    def count_message(self, message: Message) -> int: ...


@runtime_checkable
class CountsWholePrompts(Protocol):
    """A tokenizer that can also ask for a whole prompt's count (a server's own number).

    ``count_message_tokens`` then takes its total from ``exact_prompt_tokens`` (None: not
    available now), which also covers what a chat template adds beyond the messages.
    """

    def exact_prompt_tokens(self, messages: Sequence[Message]) -> int | None: ...


# One cache of token counts per (encoding, text): a conversation recounted after a new turn
# encodes only the new message. Bounded; cleared whole when full (cheap, and rare).
_MAX_CACHED_COUNTS = 200_000
_counts: dict[tuple[str, str], int] = {}


def _remember(key: tuple[str, str], count: int) -> None:
    if len(_counts) >= _MAX_CACHED_COUNTS:
        _counts.clear()
    _counts[key] = count


# Each message's share, by (encoding, message): a plan redone at every keystroke looks up a
# thousand messages in one step each instead of three (Message is a frozen, hashable value,
# so a conversation reloaded with equal messages finds them too).
_MAX_CACHED_MESSAGES = 100_000
_message_counts: dict[tuple[str, Message], int] = {}


def forget_counts() -> None:
    """Drop every cached tiktoken count (for benches that time a first count)."""
    _counts.clear()
    _message_counts.clear()


@dataclass(frozen=True)
class TiktokenTokenizer:
    """The OpenAI formula over a tiktoken encoding; every distinct text is encoded once."""

    encoding_name: str
    exact: bool = True
    note: str = ""
    reply_priming: int = REPLY_PRIMING_TOKENS

    @property
    def name(self) -> str:
        return self.encoding_name

    def count_text(self, text: str) -> int:
        """Tokens in ``text`` (special-token strings count as ordinary text)."""
        key = (self.encoding_name, text)
        count = _counts.get(key)
        if count is None:
            count = len(get_encoding(self.encoding_name).encode_ordinary(text))
            _remember(key, count)
        return count

    def count_message(self, message: Message) -> int:
        """Tokens one message adds: 3 + role + content (+ name + 1)."""
        key = (self.encoding_name, message)
        tokens = _message_counts.get(key)
        if tokens is None:
            tokens = (
                TOKENS_PER_MESSAGE
                + self.count_text(message.role)
                + self.count_text(message.content)
            )
            if message.name:
                tokens += self.count_text(message.name) + TOKENS_PER_NAME
            if len(_message_counts) >= _MAX_CACHED_MESSAGES:
                _message_counts.clear()
            _message_counts[key] = tokens
        return tokens


def _is_anthropic(model: str) -> bool:
    return model.startswith(("claude", "anthropic/"))


@lru_cache(maxsize=1024)
def tokenizer_for_model(model: str) -> TiktokenTokenizer:
    """Choose the tokenizer for ``model``: the encoding it really uses, or an honest estimate.

    OpenAI models that tiktoken knows are counted exactly with their own encoding
    (o200k_base for gpt-4o, gpt-4.1, gpt-5 and o-series; cl100k_base for gpt-4 and
    gpt-3.5). Anthropic models and names tiktoken does not know are counted with o200k_base
    and marked as estimates, with a note saying why.
    """
    if _is_anthropic(model):
        return TiktokenTokenizer(
            FALLBACK_ENCODING,
            exact=False,
            note=f"Estimate: no offline tokenizer exists for {model}; counted with o200k_base.",
        )
    try:
        encoding_name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        return TiktokenTokenizer(
            FALLBACK_ENCODING,
            exact=False,
            note=f"Estimate: tiktoken does not know {model!r}; counted with o200k_base.",
        )
    encoding_name = ENCODING_ALIASES.get(encoding_name, encoding_name)
    if encoding_name not in OFFICIAL_BPE_FILES:
        return TiktokenTokenizer(
            FALLBACK_ENCODING,
            exact=False,
            note=f"Estimate: {model} uses {encoding_name}, which is not available offline; "
            f"counted with o200k_base.",
        )
    return TiktokenTokenizer(encoding_name)


@dataclass(frozen=True)
class TokenCount:
    """Tokens of a message list: the total, each message's share, and how it was counted."""

    total: int
    per_message: tuple[int, ...]
    tokenizer: str
    exact: bool
    note: str = ""


def count_prompt(
    messages: Sequence[MessageLike], model: str = "gpt-4o", *, tokenizer: Tokenizer | None = None
) -> tuple[int, bool]:
    """A whole prompt's tokens and whether that is exact, without each message's share.

    A tokenizer that asks a server (``CountsWholePrompts``) asks one question here, where
    ``count_message_tokens`` would ask one per new message as well.
    """
    tokenizer = tokenizer or tokenizer_for_model(model)
    if isinstance(tokenizer, CountsWholePrompts):
        whole = tokenizer.exact_prompt_tokens([as_message(m) for m in messages])
        if whole is not None:
            return whole, True
    counted = count_message_tokens(messages, model, tokenizer=tokenizer)
    return counted.total, counted.exact


def count_label(exact: bool, note: str = "") -> str:
    """One sentence saying whether a count is exact, for every place a count is shown.

    Tokenizers that know why write their own ("Exact: counted by ...", "Estimate: ...");
    other notes (a template's own system prompt, say) follow the verdict.
    """
    note = note.strip()
    if note.startswith("Exact" if exact else "Estimate"):
        return note
    verdict = (
        "Exact: counted with the model's own tokenizer."
        if exact
        else "Estimate: not the model's own tokenizer."
    )
    return f"{verdict} {note}".strip()


def count_message_tokens(
    messages: Sequence[MessageLike],
    model: str = "gpt-4o",
    *,
    tokenizer: Tokenizer | None = None,
) -> TokenCount:
    """Count a message list with the model's tokenizer, saying whether the count is exact.

    The total is the tokenizer's count of the whole prompt when it offers one
    (``CountsWholePrompts``), else the messages' counts plus the reply priming.
    """
    tokenizer = tokenizer or tokenizer_for_model(model)
    converted = [as_message(m) for m in messages]
    per_message = tuple(tokenizer.count_message(m) for m in converted)
    whole = (
        tokenizer.exact_prompt_tokens(converted)
        if isinstance(tokenizer, CountsWholePrompts)
        else None
    )
    return TokenCount(
        total=whole if whole is not None else sum(per_message) + tokenizer.reply_priming,
        per_message=per_message,
        tokenizer=tokenizer.name,
        exact=tokenizer.exact,
        note=tokenizer.note,
    )


def count_tokens(messages: Sequence[MessageLike], model: str = "gpt-4o") -> int:
    """Tokens a message list costs as a chat prompt (the tutorial's signature).

    Uses the OpenAI formula: 3 per message, 1 more per name, 3 to prime the reply, with the
    encoding ``model`` really uses. For models without an exact tokenizer the number is an
    estimate; ``count_message_tokens`` says which.
    """
    return count_message_tokens(messages, model).total


def fits_context(
    messages: Sequence[MessageLike], max_tokens: int = 8000, model: str = "gpt-4o"
) -> bool:
    """True when the messages, counted for ``model``, take at most ``max_tokens`` tokens."""
    return count_tokens(messages, model) <= max_tokens
