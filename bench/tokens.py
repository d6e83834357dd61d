"""How fast chatkit counts a long conversation, as ratios against plain tiktoken.

Run from the repository root: ``python bench/tokens.py``. It builds a 500-turn conversation
(1000 messages of 20-200 words, generated from a fixed seed) and prints:

- the first count (cold cache) against plain tiktoken encoding the same texts one by one
  (goal: within 1.2x);
- the recount after one new turn against the first count (goal: at least 50x faster).

Each figure is the best of several repetitions; the cache is cleared before every first count.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chatkit.messages import Message
from chatkit.tokens import (
    REPLY_PRIMING_TOKENS,
    TOKENS_PER_MESSAGE,
    count_tokens,
    forget_counts,
    get_encoding,
    tokenizer_for_model,
)

SEED = 20240601
TURNS = 500
REPETITIONS = 7
MODEL = "gpt-4o"
FIRST_COUNT_GOAL = 1.2  # chatkit's first count / plain tiktoken, at most
RECOUNT_GOAL = 50.0  # first count / recount after one new turn, at least

_VOCABULARY = (
    "the a an of to in for on with as by at from about into over after before between "
    "conversation message model token context window budget system prompt user assistant "
    "reply history turn summary request response stream latency cache provider function "
    "python list dict string value error retry timeout network server client library test "
    "please could you explain why how what which when where would should might really "
    "simple clear short long fast slow better worse exactly roughly probably certainly "
    "Alice Bob London Paris Tuesday January 2024 3.14 42 1,000 100% e.g. i.e. etc. "
    "don't can't it's we're they'll I've you'd won't isn't"
)
_WORDS = _VOCABULARY.split()
_EXTRAS = (
    "`count_tokens(messages)`",
    "def add(a, b):\n    return a + b\n",
    "```python\nfor i in range(10):\n    print(i)\n```",
    "https://example.com/docs/page?id=7",
    "Straße café naïve",
    "你好，世界",
    "日本語のテキスト",
    "Привет, мир",
    "👍🏽",
    "\n\n- first point\n- second point\n",
)


def _text(rng: random.Random) -> str:
    """One message of 20-200 words with some punctuation, code and other scripts."""
    parts: list[str] = []
    for _ in range(rng.randint(20, 200)):
        if rng.random() < 0.03:
            parts.append(rng.choice(_EXTRAS))
        else:
            word = rng.choice(_WORDS)
            parts.append(word.capitalize() if rng.random() < 0.08 else word)
        if rng.random() < 0.07:
            parts[-1] += rng.choice(".,;:?!")
    return " ".join(parts)


def conversation(rng: random.Random, turns: int) -> list[Message]:
    """A system prompt and ``turns`` user/assistant pairs."""
    messages = [Message("system", "You are a helpful assistant who answers concisely.")]
    for _ in range(turns):
        messages.append(Message("user", _text(rng)))
        messages.append(Message("assistant", _text(rng)))
    return messages


def best_of(repetitions: int, run: Callable[[], object], before: Callable[[], object]) -> float:
    """The shortest of ``repetitions`` timings of ``run``, calling ``before`` untimed first."""
    best = float("inf")
    for _ in range(repetitions):
        before()
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    rng = random.Random(SEED)
    messages = conversation(rng, TURNS)
    encoding = get_encoding(tokenizer_for_model(MODEL).encoding_name)
    # Warm up: load the encoding and let tiktoken build its internal state.
    count_tokens(messages[:10], MODEL)
    encoding.encode_ordinary(messages[1].content)

    def plain_tiktoken() -> int:
        return sum(
            len(encoding.encode_ordinary(m.role)) + len(encoding.encode_ordinary(m.content))
            for m in messages
        )

    plain = best_of(REPETITIONS, plain_tiktoken, lambda: None)
    first = best_of(REPETITIONS, lambda: count_tokens(messages, MODEL), forget_counts)

    # Recount after one new turn: the long conversation is counted (warm), then a new turn
    # (fresh texts each repetition) is added and the whole list counted again.
    new_turns = [(Message("user", _text(rng)), Message("assistant", _text(rng))) for _ in range(50)]
    longer = messages

    def add_turn() -> None:
        nonlocal longer
        count_tokens(messages, MODEL)
        longer = [*messages, *new_turns.pop()]

    recount = best_of(REPETITIONS, lambda: count_tokens(longer, MODEL), add_turn)

    # The figures only mean something if chatkit counts what tiktoken counts.
    expected = plain_tiktoken() + TOKENS_PER_MESSAGE * len(messages) + REPLY_PRIMING_TOKENS
    total = count_tokens(messages, MODEL)
    assert total == expected, (total, expected)

    words = sum(len(m.content.split()) for m in messages)
    first_ratio = first / plain
    recount_ratio = first / recount
    print(
        f"chatkit token counting, {MODEL}: {TURNS} turns = {len(messages) - 1} messages "
        f"and a system prompt, {words} words"
    )
    print(f"  {total} tokens, equal to plain tiktoken + the OpenAI formula")
    print(f"  best of {REPETITIONS} repetitions each")
    print(f"plain tiktoken (encode_ordinary per role and content): {plain * 1000:8.2f} ms")
    print(f"chatkit first count (cold cache):                      {first * 1000:8.2f} ms")
    print(f"chatkit recount after one new turn:                    {recount * 1000:8.2f} ms")
    verdict = "met" if first_ratio <= FIRST_COUNT_GOAL else "MISSED"
    print(
        f"first count / plain tiktoken: {first_ratio:6.2f}x  "
        f"(goal: at most {FIRST_COUNT_GOAL}x, {verdict})"
    )
    verdict = "met" if recount_ratio >= RECOUNT_GOAL else "MISSED"
    print(
        f"first count / recount:        {recount_ratio:6.1f}x  "
        f"(goal: at least {RECOUNT_GOAL:.0f}x, {verdict})"
    )


if __name__ == "__main__":
    main()
