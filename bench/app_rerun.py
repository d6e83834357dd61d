"""How long a rerun of the chat page takes as the conversation grows, against a minimal page.

A rerun with no new input (a click elsewhere, a sidebar change) runs the whole script again.
This times that rerun under Streamlit's ``AppTest`` for the app (``app.py``: sidebar plus chat
page) holding 50, 1,000 and 5,000 messages, and, in the same run, a minimal chat page written
to a temporary file: every message from ``st.session_state`` as a bubble, nothing else.

Goals: the chat page's rerun is flat in the history's length (at 5,000 messages at most 1.5x
its own time at 50), and at 1,000 messages it takes at most 0.3x the minimal page's time.

Run: ``python bench/app_rerun.py [--runs 7]``. No network and no key are needed: a rerun with
no new input never calls a model.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatkit.conversation import Conversation, ReplyInfo  # noqa: E402

SIZES = (50, 1_000, 5_000)
FLAT_GOAL = 1.5  # chat page at 5,000 messages over the chat page at 50
MINIMAL_GOAL = 0.3  # chat page over the minimal page, at 1,000 messages
MINIMAL_PAGE = textwrap.dedent(
    """
    import streamlit as st

    for message in st.session_state["conversation"].messages:
        with st.chat_message(message.role):
            st.markdown(message.content)
    """
)


def conversation_of(size: int) -> Conversation:
    """``size`` messages, user and assistant in turn, each reply with its billed usage, and
    branches: every tenth reply was regenerated once, so it has an earlier version kept."""
    conversation = Conversation(system_prompt="You are a helpful assistant.")
    for number in range(size // 2):
        if number % 10 == 9:  # a version kept at this reply (Regenerate)
            conversation.add_user(f"Question {number}: what does a context window hold?")
            conversation.add_assistant(f"An earlier answer {number}.", ReplyInfo(model="m"))
            conversation = conversation.branched_at(len(conversation.messages) - 1)
            conversation.messages.pop()  # the question is asked again below
            conversation.replies.pop(len(conversation.messages), None)
        conversation.add_user(f"Question {number}: what does a context window hold, in short?")
        conversation.add_assistant(
            f"Answer {number}: every token sent with the request - the system prompt, the "
            f"history kept after trimming, and the new message - plus room for the reply.",
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


def rerun(at: AppTest) -> float:
    """Seconds for one rerun of the script from the current state.

    Clears AppTest's remembered page first: with ``st.navigation`` and a query parameter in
    the URL, streamlit 1.67's AppTest would otherwise run only the page script on reruns
    (see tests/apptest_helpers.py); a browser always reruns ``app.py``.
    """
    at._finished_page_script_hash = ""
    at._page_hash = ""
    started = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - started
    if at.exception:
        raise SystemExit(f"the script failed: {at.exception[0].value}")
    return elapsed


def timed(script: Path, size: int, runs: int, check: Callable[[AppTest], None]) -> list[float]:
    """Rerun times (seconds) of ``script`` holding a conversation of ``size`` messages."""
    at = AppTest.from_file(str(script), default_timeout=120)
    at.session_state["conversation"] = conversation_of(size)
    rerun(at)  # the first run builds caches (imports, the store, tokenizers)
    rerun(at)
    check(at)
    return [rerun(at) for _ in range(runs)]


def check_chat(size: int) -> Callable[[AppTest], None]:
    def check(at: AppTest) -> None:
        shown = len(at.main.chat_message)
        if shown == 0 or shown > size or not at.sidebar.selectbox:
            raise SystemExit("the chat page did not draw the conversation and the sidebar")

    return check


def check_minimal(size: int) -> Callable[[AppTest], None]:
    def check(at: AppTest) -> None:
        if len(at.main.chat_message) != size:
            raise SystemExit("the minimal page did not draw every message")

    return check


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed reruns per case")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        os.environ["CHATKIT_DATA_DIR"] = folder  # an empty database of saved conversations
        os.environ.setdefault("OPENAI_API_KEY", "sk-bench")  # OpenAI by default: no model load
        os.environ.pop("CHATKIT_HOSTED", None)
        minimal = Path(folder) / "minimal_chat_page.py"
        minimal.write_text(MINIMAL_PAGE)
        chat: dict[int, list[float]] = {}
        plain: dict[int, list[float]] = {}
        for size in SIZES:
            chat[size] = timed(ROOT / "app.py", size, args.runs, check_chat(size))
            plain[size] = timed(minimal, size, args.runs, check_minimal(size))

    print(f"Rerun time with no new input, ms ({args.runs} runs each; best / median)")
    print(f"{'messages':>9}  {'chat best':>9} {'median':>8}  {'minimal best':>12} {'median':>8}")
    for size in SIZES:
        print(
            f"{size:>9,}  {ms(min(chat[size])):>9} {ms(statistics.median(chat[size]))}  "
            f"{ms(min(plain[size])):>12} {ms(statistics.median(plain[size]))}"
        )
    print()
    largest, smallest = SIZES[-1], SIZES[0]
    for label, measure in (("best", min), ("median", statistics.median)):
        flat = measure(chat[largest]) / measure(chat[smallest])
        versus = measure(chat[1_000]) / measure(plain[1_000])
        print(
            f"{label:>6}: chat at {largest:,} / chat at {smallest}: {flat:.2f}x "
            f"(goal <= {FLAT_GOAL}x: {'met' if flat <= FLAT_GOAL else 'MISSED'}); "
            f"chat / minimal at 1,000: {versus:.2f}x "
            f"(goal <= {MINIMAL_GOAL}x: {'met' if versus <= MINIMAL_GOAL else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
