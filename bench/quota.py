"""What the hosted demo's quotas cost: a reserve + settle per call, on SQLite and PostgreSQL.

Run: ``python bench/quota.py`` (PostgreSQL: Debian's binaries, as ``scripts/test.sh``
installs them; a throwaway cluster is started and stopped). Prints, for each database:

* the time of one call's reserve + settle (three counters: visitor/day, visitor/minute,
  host/day), as a ratio to the cheapest write the database can do (an empty write
  transaction), median and spread over repetitions;
* how many calls per second the counters take when 1, 4 and 16 threads book at once, every
  thread a different visitor, and when 16 threads book for one visitor (one hot row).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chatkit.config import HostedSettings  # noqa: E402
from chatkit.hosted import HostedMeter  # noqa: E402
from chatkit.providers.calls import Usage  # noqa: E402
from chatkit.store import ConversationStore, QuotaStore  # noqa: E402

REPETITIONS = 7
CALLS_PER_REPETITION = 200
THROUGHPUT_SECONDS = 3.0
UNLIMITED = HostedSettings(
    turn_limit=10**9, token_limit=10**12, daily_token_limit=10**15, messages_per_minute=10**9
)


def _per_call(function, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - started) / calls


def cost_per_call(store: ConversationStore) -> tuple[list[float], list[float]]:
    """Seconds per reserve + settle, and per empty write transaction (the baseline)."""
    meter = HostedMeter(QuotaStore(store.database), "address:bench", UNLIMITED)
    usage = Usage(1200, 300)

    def book() -> None:
        meter.settle(meter.reserve("gpt-4.1-mini", 1200, 512), "gpt-4.1-mini", usage)

    def empty_write() -> None:
        with store.database.transaction(write=True):
            pass

    book()  # create the counters
    quota, baseline = [], []
    for repetition in range(REPETITIONS):  # alternate the order: drift hits both alike
        pair = (book, empty_write) if repetition % 2 == 0 else (empty_write, book)
        for function in pair:
            seconds = _per_call(function, CALLS_PER_REPETITION)
            (quota if function is book else baseline).append(seconds)
    return quota, baseline


def calls_per_second(store: ConversationStore, threads: int, one_visitor: bool) -> float:
    quotas = QuotaStore(store.database)
    stop = time.perf_counter() + THROUGHPUT_SECONDS
    counts = [0] * threads

    def worker(number: int) -> None:
        visitor = "address:hot" if one_visitor else f"address:{number}"
        meter = HostedMeter(quotas, visitor, UNLIMITED)
        while time.perf_counter() < stop:
            meter.settle(meter.reserve("gpt-4.1-mini", 1000, 500), "gpt-4.1-mini", Usage(900, 100))
            counts[number] += 1

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for worker_thread in workers:
        worker_thread.start()
    for worker_thread in workers:
        worker_thread.join()
    return sum(counts) / THROUGHPUT_SECONDS


def report(name: str, url: str) -> None:
    with ConversationStore(url) as store:
        quota, baseline = cost_per_call(store)
        ratios = [q / b for q, b in zip(quota, baseline, strict=True)]
        print(f"\n{name}")
        print(
            f"  reserve + settle per call: {statistics.median(quota) * 1000:.2f} ms "
            f"(empty write transaction {statistics.median(baseline) * 1000:.2f} ms) -> "
            f"{statistics.median(ratios):.1f}x the cheapest write "
            f"(spread {min(ratios):.1f}-{max(ratios):.1f}x over {REPETITIONS} runs)"
        )
        for threads, one_visitor in ((1, False), (4, False), (16, False), (16, True)):
            rate = calls_per_second(store, threads, one_visitor)
            who = "one visitor" if one_visitor else "a visitor each"
            print(f"  {threads:>2} threads, {who:<14}: {rate:,.0f} calls booked per second")


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="chatkit-quota-bench-"))
    report("SQLite (a file, WAL)", f"sqlite:///{folder / 'bench.db'}")
    try:
        from tests.postgres import PostgresServer
    except ImportError:  # pragma: no cover - run from the repository
        return
    try:
        server = PostgresServer()
    except (OSError, RuntimeError) as error:
        print(f"\nPostgreSQL: not measured ({error})")
        return
    try:
        report("PostgreSQL (local, fsync off)", server.new_database())
    finally:
        server.stop()


if __name__ == "__main__":
    main()
