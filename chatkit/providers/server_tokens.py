"""Exact token counts from the server that will read the prompt.

A server that renders the chat template itself counts a prompt better than any tokenizer
chatkit could guess: llama.cpp's server answers ``POST /v1/chat/completions/input_tokens``,
vLLM ``POST /tokenize`` (with ``messages``), Anthropic ``POST /v1/messages/count_tokens``.
``ServerTokenizer`` asks once per distinct prompt (and once per distinct message, for the
split between messages), caches every answer for the life of the process, and falls back to
the labelled o200k estimate when the server has no such endpoint or does not answer. It
never asks again at every rerun: answers are cached, and a server that failed is left alone
for ``RETRY_AFTER_SECONDS``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from chatkit.messages import Message
from chatkit.tokens import TiktokenTokenizer, tokenizer_for_model

RETRY_AFTER_SECONDS = 30.0
COUNT_TIMEOUT_SECONDS = 5.0
_MAX_CACHED_COUNTS = 50_000

# Probe messages: every message is measured as the difference it makes to a small probe
# conversation, so that the server's template (role markers, separators) is counted with it.
PROBE_SYSTEM = Message("system", "You are a helpful assistant.")
PROBE_USER = Message("user", "Hello.")
PROBE_ASSISTANT = Message("assistant", "Hi! How can I help?")


class CountingUnsupported(Exception):
    """The server has no endpoint for this way of counting (ask it no more)."""


class CountingFailed(Exception):
    """The server did not answer a count now (unreachable, timed out, refused the key)."""

    @classmethod
    def because(cls, exc: BaseException) -> CountingFailed:
        """Say what went wrong without the server's own words (they may quote a masked key)."""
        status = getattr(exc, "status_code", None)
        return cls(f"HTTP {status}" if isinstance(status, int) else type(exc).__name__)


PromptCounter = Callable[[Sequence[Message]], int]


@dataclass(frozen=True)
class CountMethod:
    """One way a server counts a whole prompt: its words for a note, and the call.

    ``count`` returns the prompt's tokens as the server will count them (reply priming
    included); it raises ``CountingUnsupported`` when the server lacks the endpoint, and
    ``CountingFailed`` when the server could not answer now.
    """

    label: str
    count: PromptCounter


@dataclass
class _ServerState:
    method: CountMethod | None = None
    unsupported: bool = False
    failed_at: float | None = None
    reason: str = ""


_lock = threading.Lock()
_states: dict[tuple[str, ...], _ServerState] = {}
_counts: dict[tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]], int] = {}
# Each message's share as the server counted it, by (server and model, message): a plan redone
# at every keystroke finds a thousand messages without building their probe prompts again.
# Only answers from the server are kept here, never the estimate that stands in for one.
_message_counts: dict[tuple[tuple[str, ...], Message], int] = {}


def forget_server_counts() -> None:
    """Drop every cached count and server state (for tests and after a server changed)."""
    with _lock:
        _states.clear()
        _counts.clear()
        _message_counts.clear()


@lru_cache(maxsize=256)
def estimate_for(model: str, reason: str) -> TiktokenTokenizer:
    """The o200k (or the model's own tiktoken) estimate, labelled as one, with ``reason``."""
    base = tokenizer_for_model(model)
    return TiktokenTokenizer(
        base.encoding_name,
        exact=False,
        note=f"Estimate: {reason}; counted with {base.encoding_name}.",
    )


def _wire(messages: Sequence[Message]) -> tuple[tuple[str, str, str], ...]:
    """A prompt as a cache key: what a server's count depends on."""
    return tuple(
        ("system" if m.is_instruction else m.role, m.content, m.name or "") for m in messages
    )


@dataclass(frozen=True, eq=False)
class ServerTokenizer:
    """Token counts asked of the server (exact), or the labelled estimate when it cannot.

    ``key`` names the server and model (counts are cached under it, so every session and
    every provider object talking to the same server shares them); ``where`` is how notes
    name the server; ``methods`` are tried in order until one answers.

    Per-message counts are differences against probe conversations, so they add up to the
    server's count of a conversation that starts with a system prompt; the total of a
    prompt (``exact_prompt_tokens``) is always the server's own number, also when the
    template adds a default system prompt of its own.
    """

    key: tuple[str, ...]
    where: str
    model: str
    methods: tuple[CountMethod, ...]

    # -- the Tokenizer protocol ----------------------------------------------------------

    @property
    def name(self) -> str:
        state = self._state()
        return state.method.label if state.method else self._estimate().name

    @property
    def exact(self) -> bool:
        return self._ask([PROBE_SYSTEM, PROBE_USER]) is not None

    @property
    def note(self) -> str:
        if self.exact:
            return f"Exact: counted by {self.where} ({self._state().method.label})."
        return self._estimate().note

    @property
    def reply_priming(self) -> int:
        base = self._ask([PROBE_SYSTEM, PROBE_USER])
        if base is None:
            return self._estimate().reply_priming
        anchors = self._estimate()
        return max(
            base - anchors.count_message(PROBE_SYSTEM) - anchors.count_message(PROBE_USER), 0
        )

    def count_text(self, text: str) -> int:
        """Tokens of plain text: the estimate (servers count prompts, not loose text)."""
        return self._estimate().count_text(text)

    def count_message(self, message: Message) -> int:
        """Tokens ``message`` adds to a prompt, as the server counts it (else the estimate).

        Measured against a probe conversation; the probe's own messages are anchored at
        their estimates, which cancel out over a whole conversation.
        """
        memo_key = (self.key, message)
        with _lock:
            known = _message_counts.get(memo_key)
        if known is not None:
            return known
        anchors = self._estimate()
        base = self._ask([PROBE_SYSTEM, PROBE_USER])
        if base is None:
            return anchors.count_message(message)
        if message.is_instruction:
            probe, anchor = base, anchors.count_message(PROBE_SYSTEM)
            with_it = self._ask([message, PROBE_USER])
        elif message.role == "assistant":
            # a reply is measured mid-conversation (a trailing one would be a prefill); the
            # probe turn (reply + user) is exact, and its user half takes the user's anchor
            probe = self._ask([PROBE_SYSTEM, PROBE_USER, PROBE_ASSISTANT, PROBE_USER])
            anchor = (probe or 0) - base - anchors.count_message(PROBE_USER)
            with_it = self._ask([PROBE_SYSTEM, PROBE_USER, message, PROBE_USER])
        else:
            probe, anchor = base, anchors.count_message(PROBE_USER)
            with_it = self._ask([PROBE_SYSTEM, message])
        if probe is None or with_it is None:
            return anchors.count_message(message)
        count = max(with_it - probe + anchor, 0)
        with _lock:
            if len(_message_counts) >= _MAX_CACHED_COUNTS:
                _message_counts.clear()
            _message_counts[memo_key] = count
        return count

    def exact_prompt_tokens(self, messages: Sequence[Message]) -> int | None:
        """The server's count of the whole prompt (reply priming included), or None."""
        if not messages:
            return None
        return self._ask(messages)

    # -- asking, caching, remembering failures -------------------------------------------

    def _estimate(self) -> TiktokenTokenizer:
        state = self._state()
        reason = state.reason or f"{self.where} did not count tokens"
        return estimate_for(self.model, reason)

    def _state(self) -> _ServerState:
        with _lock:
            return _states.setdefault(self.key, _ServerState())

    def _ask(self, messages: Sequence[Message]) -> int | None:
        cache_key = (self.key, _wire(messages))
        with _lock:
            cached = _counts.get(cache_key)
        if cached is not None:
            return cached
        state = self._state()
        if state.unsupported or (
            state.failed_at is not None and time.monotonic() - state.failed_at < RETRY_AFTER_SECONDS
        ):
            return None
        count = self._count(state, messages)
        if count is not None:
            with _lock:
                if len(_counts) >= _MAX_CACHED_COUNTS:
                    _counts.clear()
                _counts[cache_key] = count
        return count

    def _count(self, state: _ServerState, messages: Sequence[Message]) -> int | None:
        """Ask the server; the first answer decides which method this server uses."""
        known = state.method
        for method in (known,) if known else self.methods:
            try:
                count = method.count(messages)
            except CountingUnsupported:
                if known:  # the server counts, but not this prompt: estimate it alone
                    return None
                continue
            except CountingFailed as exc:  # no answer now: estimate, and ask again later
                with _lock:
                    state.failed_at = time.monotonic()
                    state.reason = f"{self.where} did not answer a token count ({exc})"
                return None
            with _lock:
                state.method, state.failed_at, state.reason = method, None, ""
            return count
        with _lock:
            state.unsupported = True
            state.reason = f"{self.where} offers no token-counting endpoint"
        return None
