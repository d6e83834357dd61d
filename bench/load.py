"""A class's worth of sessions on one app process: turns kept, latency, and the app's cost.

Run: ``python bench/load.py [--sessions 1,10,20,40,80] [--turns 3] [--delay 0.02]``.

For each number of sessions N it starts ``streamlit run app.py`` (pointed at the protocol test
server, which streams a reply of about 60 tokens at ``--delay`` seconds per token) and N
clients that speak Streamlit's own WebSocket protocol (``BackMsg`` / ``ForwardMsg`` from
``streamlit.proto``): each connects to ``/_stcore/stream``, finds the chat input's widget id
in the page, sends its message in a ``rerun_script`` and reads the page's deltas, then sends
the next message once the reply is finished (its caption drawn). It prints per N: turns
finished and lost (a message missing or out of order in the final page), p50 / p95 time to
the first words of the reply and to the finished reply, turns per second, the app process's
CPU-seconds per turn, and its memory per session.

``--through URL`` drives an app already running there (for example two processes behind
nginx, see the README) and reports the same figures without CPU and memory.
``--browser`` adds a small Playwright run (N = 1 and 5, Debian's Chromium) for the time to
the finished reply as a browser sees it, to check the protocol figures against.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

from tests.browser.conftest import start_app  # noqa: E402
from tests.server import ProtocolServer  # noqa: E402

FILLER = (
    "please repeat this sentence back so that the reply is long enough to stream for a "
    "while: a context window holds the system prompt the history and the new message plus "
    "the room for the reply and every token of it counts toward the bill on every turn"
)
# The caption drawn under a reply once it is finished and saved ("… 1.1 KB sent · OpenAI …").
FINISHED = re.compile(r"tokens in .*(bytes|KB|MB) sent")


@dataclass
class Turn:
    sent: float
    first_words: float | None = None
    finished: float | None = None


@dataclass
class Session:
    """One protocol client: the page as the server last drew it, and what it measured."""

    number: int
    turns: list[Turn] = field(default_factory=list)
    chat_input_id: str = ""
    query_string: str = ""
    page_hash: str = ""
    run_markdown: list[str] = field(default_factory=list)  # this run's markdown, in order
    last_run: list[str] = field(default_factory=list)  # the last finished run's markdown
    sent_texts: list[str] = field(default_factory=list)

    def message(self, turn: int) -> str:
        return f"Session {self.number} turn {turn}: {FILLER}"


async def _send_rerun(ws, session: Session, text: str | None) -> None:
    back = BackMsg()
    state = back.rerun_script
    state.query_string = session.query_string
    state.page_script_hash = session.page_hash
    if text is not None:
        widget = state.widget_states.widgets.add()
        widget.id = session.chat_input_id
        widget.chat_input_value.data = text
    await ws.send(back.SerializeToString())


def _read(session: Session, raw: bytes) -> str:
    """Update the session from one ForwardMsg; returns its kind."""
    msg = ForwardMsg()
    msg.ParseFromString(raw)
    kind = msg.WhichOneof("type")
    if kind == "new_session":
        session.page_hash = msg.new_session.page_script_hash or session.page_hash
    elif kind == "page_info_changed":
        session.query_string = msg.page_info_changed.query_string
    elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
        element = msg.delta.new_element
        which = element.WhichOneof("type")
        if which == "chat_input":
            session.chat_input_id = element.chat_input.id
        elif which == "markdown":
            session.run_markdown.append(element.markdown.body)
    elif kind == "script_finished":
        session.last_run, session.run_markdown = session.run_markdown, []
    return kind or ""


async def _drive(url: str, session: Session, turns: int, timeout: float) -> None:
    parsed = urlparse(url)
    scheme = "wss" if parsed.scheme == "https" else "ws"
    address = f"{scheme}://{parsed.netloc}{parsed.path.rstrip('/')}/_stcore/stream"
    async with websockets.connect(
        address, subprotocols=["streamlit"], max_size=None, open_timeout=timeout
    ) as ws:
        await _send_rerun(ws, session, None)
        deadline = time.monotonic() + timeout
        while not session.chat_input_id or not session.last_run:
            _read(session, await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        for number in range(turns):
            text = session.message(number)
            session.sent_texts.append(text)
            turn = Turn(sent=time.monotonic())
            session.turns.append(turn)
            await _send_rerun(ws, session, text)
            expected = f"You said: {text}"
            deadline = time.monotonic() + timeout
            while turn.finished is None:
                kind = _read(
                    session, await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
                )
                now = time.monotonic()
                if turn.first_words is None and session.run_markdown:
                    body = session.run_markdown[-1]
                    if len(body) > len("You") and expected.startswith(body.removesuffix("…")):
                        turn.first_words = now
                if kind == "script_finished":
                    finished = sum(bool(FINISHED.search(body)) for body in session.last_run)
                    if finished >= number + 1 and expected in " ".join(session.last_run):
                        turn.finished = now
                        turn.first_words = turn.first_words or now


def _kept_in_order(session: Session) -> bool:
    """Every message this session sent is on its final page, in the order sent."""
    page = [body for body in session.last_run if body.startswith("Session ")]
    return page == session.sent_texts


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _run_sessions(url: str, count: int, turns: int, timeout: float) -> list[Session]:
    sessions = [Session(number) for number in range(count)]

    async def one(session: Session) -> None:
        try:
            await _drive(url, session, turns, timeout)
        except (TimeoutError, OSError, websockets.WebSocketException) as error:
            print(f"  session {session.number}: {type(error).__name__} {error}", file=sys.stderr)

    await asyncio.gather(*(one(session) for session in sessions))
    return sessions


def report(
    count: int,
    sessions: list[Session],
    seconds: float,
    cpu: float | None,
    memory: float | None,
    turns: int,
) -> None:
    done = [t for s in sessions for t in s.turns if t.finished is not None]
    lost = count * turns - len(done) + sum(not _kept_in_order(s) for s in sessions if s.turns)
    first = [t.first_words - t.sent for t in done if t.first_words is not None]
    whole = [t.finished - t.sent for t in done]
    rate = len(done) / seconds if seconds else 0.0
    cpu_text = f"{cpu / len(done):.3f}" if cpu is not None and done else "-"
    memory_text = f"{memory / 1e6:.1f} MB" if memory is not None else "-"
    print(
        f"{count:>8} {len(done):>5}/{count * turns:<5} {lost:>4}  "
        f"{_percentile(first, 0.5):6.2f} / {_percentile(first, 0.95):5.2f} s  "
        f"{_percentile(whole, 0.5):6.2f} / {_percentile(whole, 0.95):5.2f} s  "
        f"{rate:7.2f}  {cpu_text:>9}  {memory_text:>10}"
    )


def measure_local(counts: list[int], turns: int, delay: float, timeout: float) -> None:
    server = ProtocolServer(host="127.0.0.1", port=0).start()
    server.chunk_delay = delay
    try:
        for count in counts:
            folder = Path(tempfile.mkdtemp(prefix="chatkit-load-"))
            process, app = start_app(
                folder,
                {"OPENAI_API_KEY": "sk-test-load", "OPENAI_BASE_URL": server.openai_base_url},
            )
            try:
                asyncio.run(_run_sessions(app.url, 1, 1, timeout))  # warm up: imports, store
                base_memory = _rss_bytes(process.pid)
                cpu_before = _cpu_seconds(process.pid)
                started = time.monotonic()
                sessions = asyncio.run(_run_sessions(app.url, count, turns, timeout))
                seconds = time.monotonic() - started
                cpu = _cpu_seconds(process.pid) - cpu_before
                memory = (_rss_bytes(process.pid) - base_memory) / count
                report(count, sessions, seconds, cpu, memory, turns)
            finally:
                process.terminate()
                process.wait(timeout=15)
    finally:
        server.stop()


def measure_through(url: str, counts: list[int], turns: int, timeout: float) -> None:
    for count in counts:
        started = time.monotonic()
        sessions = asyncio.run(_run_sessions(url, count, turns, timeout))
        report(count, sessions, time.monotonic() - started, None, None, turns)


def measure_browser(counts: list[int], turns: int, delay: float) -> None:
    """The time to a finished reply as Chromium sees it (the caption appears)."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, send_message, wait_for_app

    server = ProtocolServer(host="127.0.0.1", port=0).start()
    server.chunk_delay = delay
    folder = Path(tempfile.mkdtemp(prefix="chatkit-load-browser-"))
    process, app = start_app(
        folder, {"OPENAI_API_KEY": "sk-test-load", "OPENAI_BASE_URL": server.openai_base_url}
    )
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for count in counts:
                pages = []
                for _ in range(count):
                    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
                    page.goto(app.url)
                    wait_for_app(page)
                    pages.append(page)
                times: list[float] = []
                for number in range(turns):
                    started = {}
                    for index, page in enumerate(pages):
                        send_message(page, f"Browser {index} turn {number}: {FILLER}")
                        started[index] = time.monotonic()
                    for index, page in enumerate(pages):
                        page.get_by_text(FINISHED).nth(number).wait_for(timeout=120_000)
                        times.append(time.monotonic() - started[index])
                print(
                    f"browser {count:>2} sessions: finished reply p50 "
                    f"{statistics.median(times):.2f} s, p95 {_percentile(times, 0.95):.2f} s "
                    f"({len(times)} turns)"
                )
                for page in pages:
                    page.context.close()
            browser.close()
    finally:
        process.terminate()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="1,10,20,40,80")
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.02, help="seconds per streamed token")
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--through", help="an app already running at this URL")
    parser.add_argument("--browser", action="store_true", help="also a Playwright run")
    args = parser.parse_args()
    counts = [int(part) for part in args.sessions.split(",") if part.strip()]
    print(
        f"{'sessions':>8} {'turns ok':>11} {'lost':>4}  {'first words p50/p95':>18}  "
        f"{'finished p50/p95':>18}  {'turns/s':>7}  {'CPU s/turn':>9}  {'mem/session':>10}"
    )
    if args.through:
        measure_through(args.through, counts, args.turns, args.timeout)
    else:
        measure_local(counts, args.turns, args.delay, args.timeout)
    if args.browser:
        measure_browser([1, 5], args.turns, args.delay)


if __name__ == "__main__":
    main()
