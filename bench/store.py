"""What saving and opening a conversation cost as it grows: proportional to what changed?

Run: ``python bench/store.py [--runs 7]`` (a SQLite file in a temporary folder). For 50 and
5,000 messages it times, as a turn in the app does it:

* a save after one new turn (two new messages), the common case;
* a save with nothing new (a rerun that saves again);
* opening the conversation (``load``), and how long until its latest window of 40 messages
  could be drawn.

Goals: a turn's save at 5,000 messages within 2x its save at 50; a save with nothing new next
to nothing. Figures are medians over the runs, with the spread (min-max).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chatkit.conversation import Conversation  # noqa: E402
from chatkit.replies import ReplyInfo  # noqa: E402
from chatkit.store import ConversationStore  # noqa: E402

SIZES = (50, 5_000)
SAVE_GOAL = 2.0


def grown(size: int) -> Conversation:
    conversation = Conversation(system_prompt="You are a helpful assistant.")
    for number in range(size // 2):
        conversation.add_user(f"Question {number}: what does a context window hold, in short?")
        conversation.add_assistant(
            f"Answer {number}: every token sent with the request, plus room for the reply.",
            ReplyInfo(
                provider="OpenAI",
                model="gpt-4.1-mini",
                mode="chat",
                input_tokens=40 * number + 30,
                output_tokens=28,
                request_bytes=300 * number + 250,
            ),
        )
    return conversation


def measure(store: ConversationStore, size: int, runs: int) -> dict[str, list[float]]:
    conversation = grown(size)
    store.save(conversation)
    figures: dict[str, list[float]] = {"turn": [], "nothing new": [], "open": []}
    for number in range(runs):
        turn = conversation.copy()
        turn.add_user(f"One more question {number}?")
        turn.add_assistant("One more answer.", ReplyInfo(model="gpt-4.1-mini", input_tokens=9))
        started = time.perf_counter()
        store.save(turn)
        figures["turn"].append(time.perf_counter() - started)
        started = time.perf_counter()
        store.save(turn)
        figures["nothing new"].append(time.perf_counter() - started)
        started = time.perf_counter()
        opened = store.load(turn.id)
        figures["open"].append(time.perf_counter() - started)
        conversation = opened if opened is not None else turn  # the app goes on from it
    return figures


def _ms(values: list[float]) -> str:
    return (
        f"{statistics.median(values) * 1000:7.2f} ms "
        f"({min(values) * 1000:.2f}-{max(values) * 1000:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="chatkit-store-bench-"))
    results = {}
    with ConversationStore(f"sqlite:///{folder / 'bench.db'}") as store:
        for size in SIZES:
            results[size] = measure(store, size, args.runs)
    print(f"Saving and opening a conversation (SQLite file; median and spread of {args.runs})")
    print(f"{'messages':>9}  {'save a turn':>24}  {'save, nothing new':>24}  {'open':>24}")
    for size, figures in results.items():
        print(
            f"{size:>9,}  {_ms(figures['turn']):>24}  {_ms(figures['nothing new']):>24}  "
            f"{_ms(figures['open']):>24}"
        )
    small, large = results[SIZES[0]], results[SIZES[-1]]
    ratios = [b / a for a, b in zip(sorted(small["turn"]), sorted(large["turn"]), strict=True)]
    ratio = statistics.median(large["turn"]) / statistics.median(small["turn"])
    verdict = "met" if ratio <= SAVE_GOAL else "MISSED"
    print(
        f"a turn's save at {SIZES[-1]:,} / at {SIZES[0]}: {ratio:.2f}x "
        f"(spread {min(ratios):.2f}-{max(ratios):.2f}x; goal <= {SAVE_GOAL}x: {verdict})"
    )
    nothing = statistics.median(large["nothing new"]) / statistics.median(large["turn"])
    print(f"a save with nothing new at {SIZES[-1]:,}: {nothing:.2f}x a turn's save")


if __name__ == "__main__":
    main()
