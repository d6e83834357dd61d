"""A fair queue for a model run in this process: one reply at a time, first come, first served.

llama.cpp generates one reply at a time per loaded model, so the sessions of a class line up.
``ModelQueue.turn()`` waits for this caller's turn in order of arrival (a plain lock lets any
waiter in, so an unlucky one could wait for ever) and measures how long each reply holds the
model. A caller that wants to show its place in the line registers a listener for its own
thread with ``watch``: while it waits, the listener hears a ``QueueStatus`` (its place and an
estimate of the wait from the replies measured so far) about once a second, and once more with
place 0 when its turn comes. The listener runs in the waiting thread, so a Streamlit script
can draw from it.
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from chatkit.errors import ProviderUnavailable

REPORT_EVERY_SECONDS = 1.0
MEASURED_REPLIES = 20  # the estimate uses the median of this many recent replies


@dataclass(frozen=True)
class QueueStatus:
    """Where a caller stands: ``place`` 1 is next (0: its reply is being generated now)."""

    place: int
    waiting: int
    estimate_seconds: float | None = None  # until this caller's turn; None before any reply

    @property
    def served(self) -> bool:
        return self.place == 0

    def sentence(self) -> str:
        """The status in words, for the page."""
        if self.served:
            return "The local model is writing your reply."
        ahead = self.place - 1
        where = (
            "next in line"
            if ahead == 0
            else f"number {self.place} in line ({ahead} other conversation"
            f"{'s' if ahead > 1 else ''} before you)"
        )
        if self.estimate_seconds is None:
            wait = "the wait is being measured"
        else:
            wait = f"about {_duration(self.estimate_seconds)} to wait"
        return f"The local model is answering another conversation: you are {where}, {wait}."


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    return f"{seconds / 60:.0f} min" if seconds >= 90 else "1 min"  # never "2 min" for 61 s


Listener = Callable[[QueueStatus], None]
_listeners = threading.local()


@contextlib.contextmanager
def watch(listener: Listener) -> Iterator[None]:
    """While inside, a wait for a local model in this thread reports to ``listener`` (and to
    the listeners of enclosing ``watch`` blocks: the page showing the place, a time limit
    that starts counting when the turn comes)."""
    previous: tuple[Listener, ...] = getattr(_listeners, "current", ())
    _listeners.current = (*previous, listener)
    try:
        yield
    finally:
        _listeners.current = previous


def _listener() -> Listener | None:
    listeners: tuple[Listener, ...] = getattr(_listeners, "current", ())
    if not listeners:
        return None

    def tell_all(status: QueueStatus) -> None:
        for listener in listeners:
            listener(status)

    return tell_all


class ModelQueue:
    """Callers of one model, served one at a time in order of arrival."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._condition = threading.Condition()
        self._line: deque[object] = deque()
        self._holder: object | None = None
        self._held_since = 0.0
        self._durations: deque[float] = deque(maxlen=MEASURED_REPLIES)

    @property
    def waiting(self) -> int:
        """How many callers wait (the one being served not counted)."""
        with self._condition:
            return len(self._line)

    @property
    def busy(self) -> bool:
        with self._condition:
            return self._holder is not None

    def typical_reply_seconds(self) -> float | None:
        """The median time recent replies held the model, or None before the first."""
        with self._condition:
            return statistics.median(self._durations) if self._durations else None

    @contextlib.contextmanager
    def turn(self, max_wait_seconds: float | None = None) -> Iterator[None]:
        """Hold the model for one reply, after every caller that arrived earlier.

        Raises ``ProviderUnavailable`` when the turn does not come within ``max_wait_seconds``.
        Leaving early (an exception, a closed generator) gives up the place in line.
        """
        ticket = object()
        deadline = None if max_wait_seconds is None else time.monotonic() + max_wait_seconds
        with self._condition:
            self._line.append(ticket)
        reported = False
        try:
            reported = self._wait(ticket, deadline, max_wait_seconds, _listener())
        except BaseException:
            with self._condition:
                self._line.remove(ticket)
                self._condition.notify_all()
            raise
        try:
            listener = _listener()
            if reported and listener is not None:
                listener(QueueStatus(0, self.waiting))
            yield
        finally:
            with self._condition:
                self._durations.append(time.monotonic() - self._held_since)
                self._holder = None
                self._condition.notify_all()

    def _wait(
        self,
        ticket: object,
        deadline: float | None,
        max_wait_seconds: float | None,
        listener: Listener | None,
    ) -> bool:
        """Block until ``ticket`` holds the model; True if the listener was told it waited."""
        reported = False
        while True:
            with self._condition:
                if self._holder is None and self._line[0] is ticket:
                    self._line.popleft()
                    self._holder, self._held_since = ticket, time.monotonic()
                    return reported
                now = time.monotonic()
                if deadline is not None and max_wait_seconds is not None and now >= deadline:
                    raise ProviderUnavailable(
                        f"The local model {self.name} stayed busy with other conversations for "
                        f"{_duration(max_wait_seconds)}: try again in a moment."
                    )
                status = self._status(ticket, now)
            if listener is not None:
                listener(status)
                reported = True
            with self._condition:
                if not (self._holder is None and self._line[0] is ticket):
                    timeout = REPORT_EVERY_SECONDS
                    if deadline is not None:
                        timeout = min(timeout, max(0.0, deadline - time.monotonic()))
                    self._condition.wait(timeout)

    def _status(self, ticket: object, now: float) -> QueueStatus:
        """(Under the condition.) Where ``ticket`` stands and how long it may wait."""
        place = self._line.index(ticket) + 1
        estimate = None
        if self._durations:
            typical = statistics.median(self._durations)
            current = 0.0 if self._holder is None else max(0.0, typical - (now - self._held_since))
            estimate = current + typical * (place - 1)
        return QueueStatus(place, len(self._line), estimate)
