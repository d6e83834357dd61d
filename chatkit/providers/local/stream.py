"""Replies from a local model, token by token, with incremental detokenization.

Tokens come from ``Llama.generate``; each token's bytes are decoded once, whole UTF-8
characters only, so the cost per token stays flat however long the reply grows
(``create_chat_completion(stream=True)`` in llama-cpp-python 0.3 detokenizes the whole reply
again for every token). Generation stops at end-of-generation tokens, at the chat template's
stop strings, or at ``max_tokens``.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import llama_cpp
import llama_cpp.llama_cpp as llama_c

from chatkit.errors import ProviderError
from chatkit.providers.calls import TextDelta, Waiting
from chatkit.providers.local.runtime import LoadedModel

# Sampling defaults of Llama.create_chat_completion, so replies match the binding's own.
TOP_K = 40
TOP_P = 0.95
MIN_P = 0.05
REPEAT_PENALTY = 1.0
# Sessions queue for the model; one that waits longer than this gets an error, not a hang.
WAIT_FOR_MODEL_SECONDS = 600.0


@dataclass(frozen=True)
class Sampling:
    """How to pick each token and when to stop; ``seed=None`` draws a fresh random seed.

    ``max_wait_seconds`` is how long to wait for the model at most. (A limit on the reply's
    own time is ``chatkit.providers.time_limit.TimeLimited``, for any provider.)
    """

    max_tokens: int
    temperature: float
    seed: int | None = None
    logit_bias: Mapping[int, float] | None = None
    repeat_penalty: float = REPEAT_PENALTY
    max_wait_seconds: float | None = WAIT_FOR_MODEL_SECONDS


@dataclass(frozen=True)
class Completion:
    """How a generation ended: its text, tokens in and out, and why it stopped."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    seconds: float


class IncrementalDetokenizer:
    """Token ids in, text out, with constant work per token.

    Bytes of a character split across tokens are held until the character is whole, and text
    that may be the start of a stop string is held until it is known not to be one.
    """

    def __init__(self, piece: Callable[[int], bytes], stop: Sequence[str] = ()) -> None:
        self._piece = piece
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stop = tuple(s for s in stop if s)
        self._pending = ""
        self.stopped = False

    def push(self, token: int) -> str:
        """The text that can be shown after ``token``; sets ``stopped`` at a stop string."""
        self._pending += self._utf8.decode(self._piece(token))
        found = [i for i in (self._pending.find(s) for s in self._stop) if i >= 0]
        if found:
            text, self._pending, self.stopped = self._pending[: min(found)], "", True
            return text
        hold = max((_overlap(self._pending, s) for s in self._stop), default=0)
        cut = len(self._pending) - hold
        text, self._pending = self._pending[:cut], self._pending[cut:]
        return text

    def flush(self) -> str:
        """Whatever is still held back, once no more tokens will come."""
        text = self._pending + self._utf8.decode(b"", final=True)
        self._pending = ""
        return "" if self.stopped else text


def _overlap(text: str, stop: str) -> int:
    """Length of the longest end of ``text`` that is a proper start of ``stop``."""
    for length in range(min(len(text), len(stop) - 1), 0, -1):
        if text.endswith(stop[:length]):
            return length
    return 0


def stream_completion(
    model: LoadedModel, prompt_tokens: Sequence[int], sampling: Sampling
) -> Generator[TextDelta | Waiting, None, Completion]:
    """Generate a reply to ``prompt_tokens`` as text, after waiting in the model's queue.

    While other conversations hold the model it yields where this one stands
    (``LoadedModel.queue``); ``Completion.seconds`` counts from the moment it holds the
    model (waiting excluded).
    """
    max_tokens = min(sampling.max_tokens, model.n_ctx - len(prompt_tokens))
    detokenizer = IncrementalDetokenizer(model.piece, model.stop)
    count, finish_reason, parts = 0, "length", []
    with model.queue.join() as place:
        yield from model.queue.wait(place, sampling.max_wait_seconds)
        started = time.perf_counter()
        llama = model.llama
        llama.set_seed(llama_c.LLAMA_DEFAULT_SEED if sampling.seed is None else sampling.seed)
        tokens = llama.generate(
            list(prompt_tokens),
            top_k=TOP_K,
            top_p=TOP_P,
            min_p=MIN_P,
            temp=sampling.temperature,
            repeat_penalty=sampling.repeat_penalty,
            logits_processor=_logit_bias_processor(sampling.logit_bias),
        )
        try:
            for token in _guarded(tokens, model.path.name):
                if model.ends_generation(token):
                    finish_reason = "stop"
                    break
                count += 1
                text = detokenizer.push(token)
                if text:
                    parts.append(text)
                    yield TextDelta(text)
                if detokenizer.stopped:
                    finish_reason = "stop"
                    break
                if count >= max_tokens:
                    break
            tail = detokenizer.flush()
            if tail:
                parts.append(tail)
                yield TextDelta(tail)
        finally:
            tokens.close()
    seconds = time.perf_counter() - started
    return Completion("".join(parts), len(prompt_tokens), count, finish_reason, seconds)


def _guarded(tokens: Iterator[int], name: str) -> Iterator[int]:
    """The tokens, with llama.cpp's decode failures turned into a chatkit error."""
    try:
        yield from tokens
    except RuntimeError as exc:
        raise ProviderError(f"The local model {name} failed while generating: {exc}") from exc


def _logit_bias_processor(
    logit_bias: Mapping[int, float] | None,
) -> llama_cpp.LogitsProcessorList | None:
    """The same logit-bias processor ``create_completion`` builds, so both paths cost the same."""
    if not logit_bias:
        return None
    bias = {int(token): float(value) for token, value in logit_bias.items()}

    def add_bias(_input_ids: Any, scores: Any) -> Any:
        biased = scores.copy()
        for token, value in bias.items():
            biased[token] = value + scores[token]
        return biased

    return llama_cpp.LogitsProcessorList([add_bias])
