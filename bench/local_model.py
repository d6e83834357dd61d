"""Figures for the default local model: load time, first token, tokens per second.

Compares chatkit's ``LocalModel`` stream with the binding's own
``Llama.create_chat_completion(stream=True)`` on the same loaded model, prompt, sampling
settings and seed, in the same run. End-of-generation tokens get the same logit bias on both
sides, so both produce exactly ``max_tokens`` tokens (about 100 for a short reply, 2,000 for a
long one) and, as the table checks, the same text. Every run starts from an empty KV cache;
runs alternate between the two paths.

Speeds are given two ways. "wall" is tokens after the first over the wall-clock time they
took. On a shared machine other load stalls single tokens for up to seconds, which swamps a
few-percent difference, so "steady" replaces each stretch of the reply (a tenth of it) by its
median time per token: stalls drop out, while the binding's cost that grows along the reply
stays in. Ratios are chatkit over raw, medians over the runs.

Run: ``python bench/local_model.py`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import llama_cpp.llama_cpp as llama_c

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatkit.local_runtime import LoadedModel
from chatkit.messages import Message
from chatkit.providers.base import GenerationOptions
from chatkit.providers.local import LocalModel

SEED = 42
TEMPERATURE = 0.2
MESSAGES = [
    Message("system", "You are a helpful assistant."),
    Message("user", "Write a long story about a lighthouse keeper and the storms he saw."),
]
GOALS = {"short": 0.95, "long": 1.05}
STRETCHES = 10


@dataclass(frozen=True)
class Run:
    """One streamed reply: seconds to the first chunk, then seconds between chunks."""

    tokens: int
    first_chunk: float
    gaps: tuple[float, ...]
    text: str

    @property
    def wall(self) -> float:
        """Tokens per second after the first, by the clock."""
        return (self.tokens - 1) / sum(self.gaps)

    @property
    def steady(self) -> float:
        """Tokens per second after the first, each tenth of the reply at its median pace."""
        size = max(1, len(self.gaps) // STRETCHES)
        stretches = [self.gaps[i : i + size] for i in range(0, len(self.gaps), size)]
        seconds = sum(statistics.median(s) * len(s) for s in stretches)
        return (self.tokens - 1) / seconds


def timed(chunks: Iterable[str], tokens: int) -> Run:
    """Consume ``chunks``, timing each non-empty one."""
    stamps: list[float] = []
    parts: list[str] = []
    started = time.perf_counter()
    for chunk in chunks:
        if chunk:
            stamps.append(time.perf_counter())
            parts.append(chunk)
    gaps = tuple(b - a for a, b in itertools.pairwise(stamps))
    return Run(tokens, stamps[0] - started, gaps, "".join(parts))


def raw_run(loaded: LoadedModel, max_tokens: int, bias: dict[int, float]) -> Run:
    """The binding's streaming chat completion, on the instance chatkit loaded."""
    wire = [{"role": m.role, "content": m.content} for m in MESSAGES]
    with loaded.lock:
        loaded.llama.reset()  # an empty KV cache, as for chatkit's runs
        stream = loaded.llama.create_chat_completion(
            wire,
            stream=True,
            max_tokens=max_tokens,
            temperature=TEMPERATURE,
            seed=SEED,
            logit_bias=bias,
        )
        chunks: Iterator[str] = (c["choices"][0]["delta"].get("content") or "" for c in stream)
        return timed(chunks, max_tokens)


def chatkit_run(provider: LocalModel, max_tokens: int) -> Run:
    """chatkit's stream through the provider, as the app calls it."""
    loaded = provider.load()
    with loaded.lock:
        loaded.llama.reset()
    options = GenerationOptions(max_output_tokens=max_tokens, temperature=TEMPERATURE, seed=SEED)
    reply = provider.stream(MESSAGES, options)
    run = timed(reply, max_tokens)
    assert reply.result is not None and reply.result.usage is not None
    assert reply.result.usage.output_tokens == max_tokens, reply.result.usage
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short-tokens", type=int, default=100)
    parser.add_argument("--long-tokens", type=int, default=2000)
    parser.add_argument("--short-runs", type=int, default=7)
    parser.add_argument("--long-runs", type=int, default=2)
    args = parser.parse_args()

    started = time.perf_counter()
    loaded = LocalModel().load()
    load_seconds = time.perf_counter() - started
    vocab = loaded.llama._model.vocab
    eog = [t for t in range(loaded.llama.n_vocab()) if llama_c.llama_vocab_is_eog(vocab, t)]
    bias = {token: -1e9 for token in eog}
    provider = LocalModel(logit_bias=bias)  # the same shared instance, with the bias

    print(f"Local model: {loaded.path.name}, {loaded.llama.n_threads} threads, ")
    print(f"n_ctx {loaded.n_ctx:,}, seed {SEED}, temperature {TEMPERATURE}, EOG {eog} banned")
    print(f"Load time (first LocalModel().load(), checks included): {load_seconds:.2f} s\n")

    raw_run(loaded, 16, bias)  # one untimed run each: the OS pages the weights in
    chatkit_run(provider, 16)

    header = (
        f"{'reply':<6} {'tokens':>6}  {'path':<8} {'first token':>11}  "
        f"{'tok/s wall':>10}  {'tok/s steady':>12}"
    )
    print(header)
    print("-" * len(header))
    ratios: dict[str, tuple[float, float]] = {}
    for label, max_tokens, runs in (
        ("short", args.short_tokens, args.short_runs),
        ("long", args.long_tokens, args.long_runs),
    ):
        pairs: list[tuple[Run, Run]] = []
        for _ in range(runs):
            pairs.append((raw_run(loaded, max_tokens, bias), chatkit_run(provider, max_tokens)))
        for index, path in enumerate(("raw", "chatkit")):
            results = [pair[index] for pair in pairs]
            first = statistics.median(r.first_chunk for r in results)
            wall = statistics.median(r.wall for r in results)
            steady = statistics.median(r.steady for r in results)
            print(
                f"{label:<6} {max_tokens:>6}  {path:<8} {first * 1000:>8.1f} ms  "
                f"{wall:>10.1f}  {steady:>12.1f}"
            )
        same = all(raw.text == ours.text for raw, ours in pairs)
        print(f"{'':<6} {'':>6}  same text from both paths: {'yes' if same else 'NO'}")
        ratios[label] = (
            statistics.median(ours.wall / raw.wall for raw, ours in pairs),
            statistics.median(ours.steady / raw.steady for raw, ours in pairs),
        )
    print()
    for label, (wall, steady) in ratios.items():
        verdict = "met" if steady >= GOALS[label] else "NOT met"
        print(
            f"chatkit/raw tokens per second, {label} reply: steady {steady:.2f}, wall {wall:.2f}"
            f"  (goal >= {GOALS[label]:.2f}: {verdict})"
        )


if __name__ == "__main__":
    main()
