"""Running the same work in several threads at once, as several browser sessions do."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable


def at_once(
    work: Callable[[str], None], names: Iterable[str], timeout: float
) -> list[BaseException]:
    """Run ``work(name)`` for every name, each in its own thread, all at once; wait up to
    ``timeout`` s for each. Returns what they raised, for the test thread to assert on."""
    errors: list[BaseException] = []

    def guarded(name: str) -> None:
        try:
            work(name)
        except BaseException as exc:  # handed to the test thread, which asserts there are none
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return errors
