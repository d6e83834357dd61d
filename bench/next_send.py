"""How long the chat's "Next request: ..." line takes per keystroke, against a minimal page.

The chat page measures the next send (``chatkit.next_send.plan_next_send``) on every debounced
keystroke: only the draft changes between calls, the conversation, provider and trimming stay
the same. This times that call at 1,000 messages for every trimming strategy (none, last N
turns, token budget, summarize older turns) and three counters:

- OpenAI gpt-4o, counted offline by tiktoken;
- the bundled local model (SmolLM2 GGUF), counted by its llama.cpp tokenizer through its chat
  template (loaded from the package, offline);
- an OpenAI-compatible server that counts (``tests/server`` playing llama.cpp's
  ``/v1/chat/completions/input_tokens`` on 127.0.0.1): the whole prompt is one question per
  keystroke, its messages' shares are asked once and cached.

Each case calls the plan once untimed (the history's counts get cached), then times one call
per keystroke of a sentence being typed, every draft new. In the same run it times the
baseline: a rerun of the minimal chat page (``bench/app_rerun.py``'s ``MINIMAL_PAGE``: every
message as a bubble, nothing else) at 1,000 messages under ``AppTest``.

Goals (issue 19): the next-send line costs at most 15 ms per keystroke-triggered rerun at
1,000 messages; this bench aims at 10 ms per plan for every strategy and counter, so that the
line and the fragment around it fit in the issue's 15 ms.

Run: ``python bench/next_send.py [--runs 20] [--skip-local] [--skip-server]``. No network and
no key are needed: the plan never calls a model.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app_rerun import MINIMAL_PAGE, check_minimal, conversation_of, timed  # noqa: E402

from chatkit.conversation import Conversation  # noqa: E402
from chatkit.next_send import plan_next_send  # noqa: E402
from chatkit.providers import ProviderSpec, make_provider  # noqa: E402
from chatkit.providers.base import Provider  # noqa: E402
from chatkit.turn import TrimmingSettings  # noqa: E402

MESSAGES = 1_000
PLAN_GOAL_MS = 10.0  # one plan, warm caches, every strategy and counter
ISSUE_GOAL_MS = 15.0  # issue 19: the whole line per keystroke-triggered rerun
STRATEGIES = ("none", "last_n", "token_budget", "summarize")
SENTENCE = "Can you remind me what we said earlier about the context window and the budget?"


def keystrokes(count: int, sentence: str = SENTENCE) -> list[str]:
    """``count`` drafts, as typed: each one character longer than the one before."""
    start = max(len(sentence) - count, 1)
    return [sentence[:end] for end in range(start, start + count)]


def time_plan(
    conversation: Conversation,
    provider: Provider,
    trimming: TrimmingSettings,
    drafts: Sequence[str],
    plan: Callable[[Conversation, str, Provider, TrimmingSettings], object] = plan_next_send,
) -> tuple[float, list[float]]:
    """Seconds for the first ``plan`` (cold caches, with ``drafts[0]``), then for one call per
    later draft: what each keystroke costs once the history is counted.

    ``plan`` is ``plan_next_send`` by default; a page-level bench can pass a function that
    also draws the line (say, a fragment's body) to time the same keystrokes."""
    started = time.perf_counter()
    plan(conversation, drafts[0], provider, trimming)
    first = time.perf_counter() - started
    seconds = []
    for draft in drafts[1:]:
        started = time.perf_counter()
        plan(conversation, draft, provider, trimming)
        seconds.append(time.perf_counter() - started)
    return first, seconds


def spread(seconds: Iterable[float]) -> str:
    """ "4.1 ms (min 3.8, max 5.0)": median and range, in milliseconds."""
    values = [s * 1000 for s in seconds]
    return f"{statistics.median(values):.1f} ms (min {min(values):.1f}, max {max(values):.1f})"


def providers(skip_local: bool, skip_server: bool, server_url: str | None) -> dict[str, Provider]:
    """The counters to time, by the words the report names them with."""
    from chatkit.providers.openai_chat import OpenAIChat

    chosen: dict[str, Provider] = {"OpenAI gpt-4o (tiktoken)": OpenAIChat(model="gpt-4o")}
    if not skip_local:
        from chatkit.providers.local import LocalModel

        local = LocalModel()
        local.load()
        chosen[f"local {local.model} (llama.cpp tokenizer)"] = local
    if server_url is not None:
        spec = ProviderSpec("OpenAI-compatible", "chat", "local", base_url=server_url)
        chosen["OpenAI-compatible (counted by tests/server)"] = make_provider(
            spec, api_key="sk-bench"
        )
    return chosen


def minimal_page_rerun(runs: int) -> list[float]:
    """Rerun times (seconds) of the minimal chat page holding ``MESSAGES`` messages."""
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "minimal_chat_page.py"
        page.write_text(MINIMAL_PAGE)
        return timed(page, MESSAGES, runs, check_minimal(MESSAGES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="timed keystrokes per case")
    parser.add_argument("--skip-local", action="store_true", help="leave out the local model")
    parser.add_argument("--skip-server", action="store_true", help="leave out the server")
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")  # never used: nothing is sent

    server = None
    if not args.skip_server:
        from tests.server import ProtocolServer

        server = ProtocolServer(host="127.0.0.1", port=0).start()
        server.count_endpoint = "llama.cpp"
    try:
        baseline = minimal_page_rerun(max(args.runs // 2, 5))
        base_ms = statistics.median(baseline) * 1000
        conversation = conversation_of(MESSAGES)
        drafts = keystrokes(args.runs + 1)
        print(f"Minimal chat page rerun at {MESSAGES:,} messages: {spread(baseline)}")
        print(f"Next-send plan per keystroke at {MESSAGES:,} messages ({args.runs} keystrokes)")
        missed = 0
        url = server.openai_base_url if server else None
        for label, provider in providers(args.skip_local, server is None, url).items():
            print(f"\n{label}")
            for strategy in STRATEGIES:
                first, seconds = time_plan(
                    conversation, provider, TrimmingSettings(strategy), drafts
                )
                median_ms = statistics.median(seconds) * 1000
                verdict = "met" if median_ms <= PLAN_GOAL_MS else "MISSED"
                missed += verdict == "MISSED"
                print(
                    f"  {strategy:<12} {spread(seconds)} = {median_ms / base_ms:.2f}x the "
                    f"minimal chat page's rerun; first call {first * 1000:.0f} ms "
                    f"(goal <= {PLAN_GOAL_MS:.0f} ms: {verdict})"
                )
        print(
            f"\nGoal: every plan <= {PLAN_GOAL_MS:.0f} ms (issue 19: the line <= "
            f"{ISSUE_GOAL_MS:.0f} ms per keystroke): {'met' if not missed else f'{missed} MISSED'}"
        )
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
