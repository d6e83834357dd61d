"""Does the local model remember what it was told? Facts recalled, per setting tried.

Each of 16 facts (names, colours, places, numbers, pets, jobs; eight stated plainly, eight in
passing inside another request) is told to the model in a fresh conversation; the model
replies; then come intervening turns of small talk, and the question. The question is asked
after 1 intervening turn and, in the same conversation continued, after 3. A reply counts when
it contains the fact (a whole word, case ignored; "12" or "twelve" for a number).

Every turn goes the way the chat page takes it: ``chatkit.turn.prepare_turn`` with the
sidebar's default trimming, ``provider.stream`` with the sidebar's options, ``finish_turn``;
the provider is ``make_provider`` of the Local kind, so the bundled SmolLM2-135M. Each turn
has its own fixed seed, so a run repeats exactly.

The settings tried vary what a 135M model is sensitive to: the default system prompt (none,
so the chat template's own, or short ones of several kinds), temperature, repetition penalty
and reply length. The bench prints the score of each, the best, and then the app's own
defaults for the local model (the Local ``ProviderKind``'s, which the sidebar reads) with
their score: the goal is at least 14 of 16 facts at both distances.

Run: ``python bench/recall.py`` (all 17 settings, about an hour on 2 busy cores), or
``python bench/recall.py --defaults-only`` (only the app's defaults, a few minutes);
``--threads 1`` is often faster on a busy machine (the replies are the same).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatkit.conversation import Conversation
from chatkit.providers import ProviderSpec, make_provider, provider_kind
from chatkit.providers.base import GenerationOptions, Provider
from chatkit.providers.local import LocalModel
from chatkit.turn import TrimmingSettings, finish_turn, make_strategy, prepare_turn

GOAL = 14
DISTANCES = (1, 3)
SEED = 1234


@dataclass(frozen=True)
class Fact:
    """Something the user says once, the question that asks for it, and what counts."""

    statement: str
    question: str
    answers: tuple[str, ...]
    in_passing: bool = False


FACTS: tuple[Fact, ...] = (
    Fact("My name is Alice.", "What is my name?", ("Alice",)),
    Fact("My favourite colour is green.", "What is my favourite colour?", ("green",)),
    Fact("I live in Lisbon.", "Where do I live?", ("Lisbon",)),
    Fact("I am 34 years old.", "How old am I?", ("34", "thirty-four", "thirty four")),
    Fact("I have a dog called Biscuit.", "What is my dog's name?", ("Biscuit",)),
    Fact("I work as a nurse.", "What is my job?", ("nurse",)),
    Fact("My lucky number is 7.", "What is my lucky number?", ("7", "seven")),
    Fact("My sister's name is Maria.", "What is my sister's name?", ("Maria",)),
    Fact(
        "Hi, I'm Tomas, and I'd like some ideas for a weekend trip.",
        "What is my name?",
        ("Tomas",),
        in_passing=True,
    ),
    Fact(
        "I just painted my kitchen yellow, so I'm tired today. Any tips for relaxing?",
        "What colour did I paint my kitchen?",
        ("yellow",),
        in_passing=True,
    ),
    Fact(
        "I'm flying to Nairobi next week for a conference. How should I prepare for a long flight?",
        "Which city am I flying to?",
        ("Nairobi",),
        in_passing=True,
    ),
    Fact(
        "My flat is on the 12th floor, so I take the lift every day. Is that bad for fitness?",
        "Which floor is my flat on?",
        ("12", "12th", "twelve", "twelfth"),
        in_passing=True,
    ),
    Fact(
        "My cat Luna keeps waking me up at night. How can I sleep better?",
        "What is my cat called?",
        ("Luna",),
        in_passing=True,
    ),
    Fact(
        "As a carpenter I spend all day on my feet. What shoes would you recommend?",
        "What do I do for a living?",
        ("carpenter",),
        in_passing=True,
    ),
    Fact(
        "I was born in Osaka, and I'd like to learn a new hobby. Any ideas?",
        "Where was I born?",
        ("Osaka",),
        in_passing=True,
    ),
    Fact(
        "My parrot is blue and loves to sing. What fruit can I give it?",
        "What colour is my parrot?",
        ("blue",),
        in_passing=True,
    ),
)
SMALL_TALK: tuple[str, ...] = (
    "What is a good breakfast before a busy day?",
    "Tell me a fun fact about the moon.",
    "How can I stay focused while studying?",
)


@dataclass(frozen=True)
class Setting:
    """One way to run the local model: what the sidebar and the provider would use."""

    label: str
    system_prompt: str  # "" sends none: the chat template's own system prompt applies
    temperature: float
    max_output_tokens: int
    repeat_penalty: float = 1.0

    def same_as(self, other: Setting) -> bool:
        """The same settings, whatever the labels."""
        return (
            self.system_prompt,
            self.temperature,
            self.max_output_tokens,
            self.repeat_penalty,
        ) == (other.system_prompt, other.temperature, other.max_output_tokens, other.repeat_penalty)

    def describe(self) -> str:
        prompt = repr(self.system_prompt) if self.system_prompt else "none (template's own)"
        return (
            f"system prompt {prompt}, temperature {self.temperature}, max output tokens "
            f"{self.max_output_tokens}, repeat penalty {self.repeat_penalty}"
        )


HELPFUL = "You are a helpful assistant."
PROMPTS = {
    "none": "",  # the chat template's own: "You are a helpful AI assistant named SmolLM, ..."
    "helpful": HELPFUL,
    "issue": (
        "You are a helpful assistant. Answer briefly, using what the user told you earlier in "
        "this conversation."
    ),
    "details": (
        "You are a helpful assistant. Pay attention to what the user tells you about "
        "themselves, such as their name, family, pets, home and job, and use it when they ask."
    ),
    "not-you": (
        'You are an assistant without a name. When the user says "I" or "my", they mean '
        "themselves, not you."
    ),
    "memory": "You are a helpful assistant with a good memory.",
    "short": "You are a helpful assistant. Keep your answers short.",
    "their-life": (
        "The user is telling you about their life. Answer their questions about it from what "
        "they said."
    ),
    "example": (
        "You are a helpful assistant. Remember what the user tells you about themselves. For "
        'example, if the user says "My dog is called Rex." and later asks "What is my dog '
        'called?", answer "Your dog is called Rex."'
    ),
}


def settings_to_try() -> list[Setting]:
    """Every system prompt greedy with short replies, then the other knobs around the best
    prompt of a first exploration ("memory"), and the app's former defaults."""
    tried = [Setting(f"{name}, t0, 48", prompt, 0.0, 48) for name, prompt in PROMPTS.items()]
    tried += [
        Setting("helpful, t0.2, 512 (old)", HELPFUL, 0.2, 512),
        Setting("helpful, t0.7, 512 (slider)", HELPFUL, 0.7, 512),
    ]
    memory = PROMPTS["memory"]
    tried += [
        Setting("memory, t0.2, 48", memory, 0.2, 48),
        Setting("memory, t0, 24", memory, 0.0, 24),
        Setting("memory, t0, 128", memory, 0.0, 128),
        Setting("memory, t0, 512", memory, 0.0, 512),
        Setting("memory, t0, 48, rp 1.1", memory, 0.0, 48, 1.1),
        Setting("memory, t0, 48, rp 1.2", memory, 0.0, 48, 1.2),
    ]
    return tried


def app_default_setting() -> Setting:
    """The app's defaults for the local model, as the sidebar reads them from the Local kind."""
    kind = provider_kind("Local")
    defaults = kind.generation_defaults
    return Setting(
        "app defaults",
        defaults.system_prompt,
        defaults.temperature,
        defaults.max_output_tokens,
        LocalModel().repeat_penalty,
    )


def recalled(reply: str, fact: Fact) -> bool:
    """The reply names the fact (a whole word, case ignored)."""
    return any(
        re.search(rf"(?<![\w-]){re.escape(answer)}(?![\w-])", reply, re.IGNORECASE)
        for answer in fact.answers
    )


def take_turn(
    conversation: Conversation, text: str, provider: Provider, options: GenerationOptions
) -> Conversation:
    """One turn as the chat page takes it: prepare (trim), stream, finish."""
    strategy = make_strategy(TrimmingSettings(), provider)
    prepared = prepare_turn(conversation, text, provider, strategy, options)
    reply = provider.stream(prepared.messages, options, prepared.previous_response_id)
    return finish_turn(prepared, reply.finish())


@dataclass(frozen=True)
class Score:
    """Facts recalled at each distance, and the replies that missed."""

    setting: Setting
    hits: dict[int, int]
    misses: tuple[str, ...]
    seconds: float

    @property
    def total(self) -> int:
        return sum(self.hits.values())

    @property
    def worst(self) -> int:
        return min(self.hits.values())


def run_setting(
    setting: Setting, facts: Sequence[Fact] = FACTS, threads: int | None = None
) -> Score:
    """Tell each fact, talk, ask; count the replies that recall it.

    ``threads`` changes how fast llama.cpp runs, not what it writes.
    """
    provider = make_provider(ProviderSpec("Local"))
    assert isinstance(provider, LocalModel)
    provider.repeat_penalty = setting.repeat_penalty  # a provider setting, not the sidebar's
    provider.n_threads = threads
    started = time.perf_counter()
    hits = dict.fromkeys(DISTANCES, 0)
    misses: list[str] = []
    for number, fact in enumerate(facts):

        def options(turn: int, number: int = number) -> GenerationOptions:
            return GenerationOptions(
                max_output_tokens=setting.max_output_tokens,
                temperature=setting.temperature,
                seed=SEED + 100 * number + turn,
            )

        conversation = Conversation(system_prompt=setting.system_prompt)
        conversation = take_turn(conversation, fact.statement, provider, options(0))
        for turn, small_talk in enumerate(SMALL_TALK[: max(DISTANCES)], start=1):
            conversation = take_turn(conversation, small_talk, provider, options(turn))
            if turn in DISTANCES:
                asked = take_turn(conversation, fact.question, provider, options(10 + turn))
                answer = asked.messages[-1].content
                if recalled(answer, fact):
                    hits[turn] += 1
                else:
                    misses.append(f"after {turn}: {fact.question} -> {_one_line(answer)}")
    return Score(setting, hits, tuple(misses), time.perf_counter() - started)


def _one_line(text: str, width: int = 90) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def print_score(score: Score, *, show_misses: bool) -> None:
    after = "  ".join(f"{score.hits[d]:>2}/{len(FACTS)}" for d in DISTANCES)
    print(
        f"{score.setting.label:<28} {after}   {score.total:>2}/{len(FACTS) * len(DISTANCES)}"
        f"  {score.seconds:>5.0f} s",
        flush=True,
    )
    if show_misses:
        for miss in score.misses:
            print(f"    missed {miss}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--defaults-only", action="store_true", help="only the app's defaults")
    parser.add_argument("--only", nargs="*", help="labels of settings to try (default: all)")
    parser.add_argument("--misses", action="store_true", help="print every missed answer")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="llama.cpp threads (default: the app's); the replies are the same, only faster "
        "or slower (on a busy machine, 1 is often faster)",
    )
    args = parser.parse_args()

    LocalModel(n_threads=args.threads).load()
    print(
        f"{len(FACTS)} facts ({sum(f.in_passing for f in FACTS)} in passing), asked after "
        f"{' and '.join(map(str, DISTANCES))} intervening turns; seeds fixed from {SEED}.\n"
    )
    header = f"{'setting':<28} " + "  ".join(f"after {d}" for d in DISTANCES) + "   both   time"
    print(header)
    print("-" * len(header))
    scores: list[Score] = []
    if not args.defaults_only:
        for setting in settings_to_try():
            if args.only and setting.label not in args.only:
                continue
            scores.append(run_setting(setting, threads=args.threads))
            print_score(scores[-1], show_misses=args.misses)
        print("\nSettings tried:")
        for score in scores:
            print(f"  {score.setting.label}: {score.setting.describe()}")
        # The most facts at the harder distance, then in all; at a tie, the longer replies.
        best = max(scores, key=lambda s: (s.worst, s.total, s.setting.max_output_tokens))
        print(
            f"\nBest found: {best.setting.label} ({best.setting.describe()}): "
            f"{', '.join(f'{best.hits[d]}/{len(FACTS)} after {d}' for d in DISTANCES)}"
        )
    wanted = app_default_setting()
    already = [s for s in scores if s.setting.same_as(wanted)]  # deterministic: no need to rerun
    defaults = already[0] if already else run_setting(wanted, threads=args.threads)
    print(f"\nThe app's defaults for the local model: {wanted.describe()}")
    print_score(defaults, show_misses=True)
    verdict = "met" if defaults.worst >= GOAL else "NOT met"
    print(
        f"Goal: at least {GOAL}/{len(FACTS)} at every distance with the app's defaults: {verdict}."
    )


if __name__ == "__main__":
    main()
