"""A class's worth of sessions on one app process: turns kept, latency, and the app's cost.

Run: ``python bench/load.py [--sessions 1,10,20,40,80] [--turns 3] [--delay 0.02]
[--think 10] [--knee]``.

For each number of sessions N it starts ``streamlit run app.py`` (pointed at the protocol test
server, which streams a reply of about 60 tokens at ``--delay`` seconds per token) and N
clients that speak Streamlit's own WebSocket protocol (``BackMsg`` / ``ForwardMsg`` from
``streamlit.proto``): each connects to ``/_stcore/stream``, finds the chat input's widget id
in the page, sends its message in a ``rerun_script`` and reads the page's deltas, then sends
the next message once the reply is finished (its caption drawn). It prints per N: turns
finished and lost (a message missing or out of order in the final page), p50 / p95 time to
the first words of the reply and to the finished reply, turns per second, the app process's
CPU-seconds per turn, and its memory per session; then the same for Streamlit's minimal chat
app (``bench/minimal_chat_app.py``, the baseline: skip with ``--no-baseline``) and chatkit's
ratios to it.

``--think SECONDS`` makes the arrivals open, like a room: each session waits a random 0.5x-1.5x
SECONDS between a reply and its next send (its first send falls anywhere in the first 2x
SECONDS), and each row adds the offered load (sessions / SECONDS, in turns per second).
``--knee`` raises N at ``--think`` (10 s unless given) through 20, 40, 80, 120, 160, 240 (or
``--sessions``) until
the p95 time to the first words passes 1 s or a turn is lost, for one process and for two
behind nginx (the README's configuration) on PostgreSQL, and prints the largest N that held
(the goal on a 2-core machine: 80 students in one process, two processes at least 1.7x).
The sessions' clients run in this process: at hundreds of sessions they take CPU from the
app on a small machine, which the knee then includes.

``--scale-out`` starts one app process, then two, behind nginx with the README's configuration
on one PostgreSQL (alternating ``--repeats`` times), and prints two/one turns per second.
``--through URL`` drives an app already running there (for example two processes behind
nginx, see the README) and reports the same figures without CPU and memory.
``--browser`` adds a small Playwright run (N = 1 and 5, Debian's Chromium) for the time to
the finished reply as a browser sees it, to check the protocol figures against.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402

from tests.processes import start_app  # noqa: E402
from tests.server import ProtocolServer  # noqa: E402
from tests.streamlit_client import FINISHED, Session, drive  # noqa: E402

FILLER = (
    "please repeat this sentence back so that the reply is long enough to stream for a "
    "while: a context window holds the system prompt the history and the new message plus "
    "the room for the reply and every token of it counts toward the bill on every turn"
)


def _message(session: Session, turn: int) -> str:
    return f"Session {session.number} turn {turn}: {FILLER}"


def _span(sessions: list[Session], started: float) -> float:
    """From the start to the last finished reply (closing the connections is not a turn)."""
    ends = [t.finished for s in sessions for t in s.turns if t.finished is not None]
    return (max(ends) if ends else time.monotonic()) - started


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


def _pauses(number: int, turns: int, think: float) -> list[float]:
    """Before each send: the first anywhere in the first 2x ``think``, then 0.5x-1.5x it."""
    if think <= 0:
        return []
    chance = random.Random(number)  # the same room for the same N, run after run
    first = chance.uniform(0, 2 * think)
    return [first] + [chance.uniform(0.5 * think, 1.5 * think) for _ in range(turns - 1)]


async def _run_sessions(
    url: str, count: int, turns: int, timeout: float, think: float = 0.0
) -> list[Session]:
    sessions = [Session(number) for number in range(count)]

    async def one(session: Session) -> None:
        try:
            messages = [_message(session, number) for number in range(turns)]
            pauses = _pauses(session.number, turns, think)
            await drive(url, session, messages, timeout, pauses=pauses)
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
    think: float = 0.0,
) -> tuple[float, int]:
    """Print one row; return (p95 time to the first words, turns lost or reordered)."""
    done = [t for s in sessions for t in s.turns if t.finished is not None]
    reordered = sum(not s.kept_in_order("Session ") for s in sessions if s.turns)
    lost = count * turns - len(done) + reordered
    first = [t.first_words - t.sent for t in done if t.first_words is not None]
    whole = [t.finished - t.sent for t in done]
    rate = len(done) / seconds if seconds else 0.0
    cpu_text = f"{cpu / len(done):.3f}" if cpu is not None and done else "-"
    runs = statistics.mean(t.runs for t in done) if done else float("nan")
    memory_text = f"{memory / 1e6:.1f} MB" if memory is not None else "-"
    print(
        f"{count:>8} {len(done):>5}/{count * turns:<5} {lost:>4}  "
        f"{_percentile(first, 0.5):6.2f} / {_percentile(first, 0.95):5.2f} s  "
        f"{_percentile(whole, 0.5):6.2f} / {_percentile(whole, 0.95):5.2f} s  "
        f"{rate:7.2f}  {cpu_text:>9}  {memory_text:>10}  {runs:8.1f}"
        + (f"  {count / think:8.2f}" if think > 0 else "")
    )
    return _percentile(first, 0.95), lost


def _start_profiler(pid: int, profile: str | None, count: int) -> subprocess.Popen | None:
    """py-spy sampling the app while the sessions run (``--profile``), or nothing."""
    if not profile:
        return None
    output = f"{profile}-{count}.txt"
    command = ["py-spy", "record", "--pid", str(pid), "--format", "raw", "--rate", "200", "--gil"]
    return subprocess.Popen([*command, "--threads", "--output", output], stdout=subprocess.DEVNULL)


def _stop_profiler(profiler: subprocess.Popen | None) -> None:
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(timeout=60)


BASELINE_APP = "bench/minimal_chat_app.py"


def measure_local(
    counts: list[int],
    turns: int,
    delay: float,
    timeout: float,
    profile: str | None = None,
    baseline: bool = True,
    think: float = 0.0,
) -> None:
    """For each N: chatkit's app, then (with ``baseline``) Streamlit's minimal chat app on
    the same server, and chatkit's CPU per turn and turns per second as ratios to it."""
    server = ProtocolServer(host="127.0.0.1", port=0).start()
    server.chunk_delay = delay
    try:
        for count in counts:
            ours = _measure_app("app.py", server, count, turns, timeout, profile, "chatkit", think)
            if not baseline:
                continue
            theirs = _measure_app(
                BASELINE_APP, server, count, turns, timeout, None, "minimal", think
            )
            if ours and theirs:
                print(
                    f"{count:>8} sessions: chatkit / minimal app: CPU per turn "
                    f"{ours[0] / theirs[0]:.2f}x, turns per second {ours[1] / theirs[1]:.2f}x"
                )
    finally:
        server.stop()


def _measure_app(
    script: str,
    server: ProtocolServer,
    count: int,
    turns: int,
    timeout: float,
    profile: str | None,
    label: str = "",
    think: float = 0.0,
) -> tuple[float, float] | None:
    """Run ``count`` sessions on a fresh ``streamlit run script``; print the report row and
    return (CPU-seconds per turn, turns per second), or None when no turn finished."""
    folder = Path(tempfile.mkdtemp(prefix="chatkit-load-"))
    environment = {"OPENAI_API_KEY": "sk-test-load", "OPENAI_BASE_URL": server.openai_base_url}
    app = start_app(folder, environment, script)
    process = app.process
    try:
        asyncio.run(_run_sessions(app.url, 1, 1, timeout))  # warm up: imports, store
        base_memory = _rss_bytes(process.pid)
        profiler = _start_profiler(process.pid, profile, count)
        cpu_before = _cpu_seconds(process.pid)
        started = time.monotonic()
        sessions = asyncio.run(_run_sessions(app.url, count, turns, timeout, think))
        seconds = _span(sessions, started)
        cpu = _cpu_seconds(process.pid) - cpu_before
        memory = (_rss_bytes(process.pid) - base_memory) / count
        _stop_profiler(profiler)
        print(f"{label:<12}", end="")
        report(count, sessions, seconds, cpu, memory, turns, think)
    finally:
        app.stop()
    done = sum(t.finished is not None for s in sessions for t in s.turns)
    return (cpu / done, done / seconds) if done else None


def measure_through(
    url: str, counts: list[int], turns: int, timeout: float, think: float = 0.0
) -> None:
    for count in counts:
        started = time.monotonic()
        sessions = asyncio.run(_run_sessions(url, count, turns, timeout, think))
        print(f"{'':<12}", end="")
        report(count, sessions, _span(sessions, started), None, None, turns, think)


KNEE_COUNTS = (20, 40, 80, 120, 160, 240)
KNEE_FIRST_WORDS = 1.0  # seconds: p95 time to the first words above this is too slow


def measure_knee(
    turns: int, delay: float, timeout: float, think: float, counts: Sequence[int] = KNEE_COUNTS
) -> None:
    """The largest N whose p95 time to the first words stays within ``KNEE_FIRST_WORDS`` with
    nothing lost, for one process and for two behind nginx on one PostgreSQL."""
    from tests.nginx import Nginx
    from tests.postgres import PostgresServer

    server = ProtocolServer(host="127.0.0.1", port=0).start()
    server.chunk_delay = delay
    database = PostgresServer()
    held: dict[int, int] = {}
    try:
        for processes in (1, 2):
            environment = {
                "OPENAI_API_KEY": "sk-test-load",
                "OPENAI_BASE_URL": server.openai_base_url,
                "CHATKIT_DATABASE_URL": database.new_database(),
            }
            held[processes] = 0
            for count in counts:
                started = [
                    start_app(Path(tempfile.mkdtemp(prefix="chatkit-knee-")), environment)
                    for _ in range(processes)
                ]
                backends = [app.url.removeprefix("http://") for app in started]
                try:
                    with Nginx(backends) as nginx:
                        for app in started:  # warm every process up: imports, store
                            asyncio.run(_run_sessions(app.url, 1, 1, timeout))
                        begun = time.monotonic()
                        sessions = asyncio.run(
                            _run_sessions(nginx.url, count, turns, timeout, think)
                        )
                        print(f"{processes} process{'es' if processes > 1 else '  '}  ", end="")
                        p95, lost = report(
                            count, sessions, _span(sessions, begun), None, None, turns, think
                        )
                finally:
                    for app in started:
                        app.stop()
                if lost or not p95 <= KNEE_FIRST_WORDS:
                    break
                held[processes] = count
    finally:
        database.stop()
        server.stop()
    one, two = held[1], held[2]
    ratio = f" = {two / one:.2f}x one process" if one else ""

    def words(count: int) -> str:
        return f"at least {count} (the most tried)" if count == counts[-1] else str(count)

    print(
        f"Knee at think {think:g} s (p95 first words <= {KNEE_FIRST_WORDS:g} s, nothing lost): "
        f"one process {words(one)} sessions, two processes {words(two)}{ratio}"
    )


def measure_scale_out(
    counts: list[int], turns: int, delay: float, timeout: float, repeats: int
) -> None:
    """One app process, then two, behind nginx (the README's configuration) on one
    PostgreSQL, alternating ``repeats`` times; prints each run and two/one turns per second."""
    from tests.nginx import Nginx
    from tests.postgres import PostgresServer

    server = ProtocolServer(host="127.0.0.1", port=0).start()
    server.chunk_delay = delay
    database = PostgresServer()
    rates: dict[tuple[int, int], list[float]] = {}
    try:
        url = database.new_database()
        environment = {
            "OPENAI_API_KEY": "sk-test-load",
            "OPENAI_BASE_URL": server.openai_base_url,
            "CHATKIT_DATABASE_URL": url,
        }
        for _ in range(repeats):
            for processes in (1, 2):
                started = [
                    start_app(Path(tempfile.mkdtemp(prefix="chatkit-load-")), environment)
                    for _ in range(processes)
                ]
                backends = [app.url.removeprefix("http://") for app in started]
                try:
                    with Nginx(backends) as nginx:
                        for app in started:  # warm every process up: imports, store
                            asyncio.run(_run_sessions(app.url, 1, 1, timeout))
                        for count in counts:
                            pids = [app.process.pid for app in started]
                            cpu_before = sum(map(_cpu_seconds, pids))
                            begun = time.monotonic()
                            sessions = asyncio.run(_run_sessions(nginx.url, count, turns, timeout))
                            seconds = _span(sessions, begun)
                            cpu = sum(map(_cpu_seconds, pids)) - cpu_before
                            print(f"{processes} process{'es' if processes > 1 else '  '}  ", end="")
                            report(count, sessions, seconds, cpu, None, turns)
                            finished = sum(
                                t.finished is not None for s in sessions for t in s.turns
                            )
                            rates.setdefault((processes, count), []).append(finished / seconds)
                finally:
                    for app in started:
                        app.stop()
    finally:
        database.stop()
        server.stop()
    for count in counts:
        ratios = [
            two / one for one, two in zip(rates[(1, count)], rates[(2, count)], strict=True) if one
        ]
        if ratios:
            print(
                f"{count} sessions: two processes / one = {statistics.median(ratios):.2f}x "
                f"(runs {', '.join(f'{r:.2f}' for r in ratios)})"
            )


def measure_browser(counts: list[int], turns: int, delay: float) -> None:
    """The time to a finished reply as Chromium sees it (the caption appears)."""
    from playwright.sync_api import sync_playwright

    from tests.chromium import CHROMIUM, CHROMIUM_ARGS, send_message, wait_for_app

    server = ProtocolServer(host="127.0.0.1", port=0).start()
    server.chunk_delay = delay
    folder = Path(tempfile.mkdtemp(prefix="chatkit-load-browser-"))
    app = start_app(
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
        app.process.terminate()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", help="1,10,20,40,80 (20,40 with --scale-out)")
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.02, help="seconds per streamed token")
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--through", help="an app already running at this URL")
    parser.add_argument("--browser", action="store_true", help="also a Playwright run")
    parser.add_argument(
        "--scale-out", action="store_true", help="one process vs two behind nginx, on PostgreSQL"
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip Streamlit's minimal chat app"
    )
    parser.add_argument("--repeats", type=int, default=2, help="alternations for --scale-out")
    parser.add_argument("--profile", help="py-spy the app; writes PROFILE-N.txt (folded stacks)")
    parser.add_argument("--think", type=float, help="seconds a session reads/types between turns")
    parser.add_argument("--knee", action="store_true", help="raise N until p95 first words > 1 s")
    args = parser.parse_args()
    think = args.think if args.think is not None else (10.0 if args.knee else 0.0)
    sessions = args.sessions or ("20,40" if args.scale_out else "1,10,20,40,80")
    counts = [int(part) for part in sessions.split(",") if part.strip()]
    print(
        f"{'app':<12}{'sessions':>8} {'turns ok':>11} {'lost':>4}  {'first words p50/p95':>18}  "
        f"{'finished p50/p95':>18}  {'turns/s':>7}  {'CPU s/turn':>9}  {'mem/session':>10}  "
        f"{'runs/turn':>8}" + (f"  {'offered/s':>8}" if think > 0 else "")
    )
    if args.knee:
        knee_counts = counts if args.sessions else KNEE_COUNTS
        measure_knee(args.turns, args.delay, args.timeout, think, knee_counts)
    elif args.scale_out:
        measure_scale_out(counts, args.turns, args.delay, args.timeout, args.repeats)
    elif args.through:
        measure_through(args.through, counts, args.turns, args.timeout, think)
    else:
        measure_local(
            counts, args.turns, args.delay, args.timeout, args.profile, not args.no_baseline, think
        )
    if args.browser:
        measure_browser([1, 5], args.turns, args.delay)


if __name__ == "__main__":
    main()
