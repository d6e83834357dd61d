"""A fair queue for a model run in this process: one reply at a time, first come, first served.

llama.cpp generates one reply at a time per loaded model, so the sessions of a class line up.
A caller joins the line (``ModelQueue.join``) and waits for its go (``ModelQueue.wait``), which
yields a ``Waiting`` event (its place, and an estimate of the wait from the replies measured so
far) about once a second, and one with place 0 when its go comes after a wait: the reply stream
passes these on, so the page shows the place and a time limit starts its clock at the go. A
plain lock would let any waiter in, so an unlucky one could wait for ever.
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections import deque
from collections.abc import Iterator

from chatkit.errors import ProviderUnavailable
from chatkit.providers.calls import Waiting, duration_words

REPORT_EVERY_SECONDS = 1.0
MEASURED_REPLIES = 20  # the estimate uses the median of this many recent replies


class Place:
    """One caller's place in a ``ModelQueue`` (``holds``: the model is this caller's now)."""

    def __init__(self) -> None:
        self.holds = False


class ModelQueue:
    """Callers of one model, served one at a time in order of arrival."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._condition = threading.Condition()
        self._line: deque[Place] = deque()
        self._holder: Place | None = None
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

    @contextlib.contextmanager
    def join(self) -> Iterator[Place]:
        """Join the line, behind every caller already in it; leaving (the reply done, an
        exception, a closed generator) gives up the place or frees the model."""
        place = Place()
        with self._condition:
            self._line.append(place)
        try:
            yield place
        finally:
            with self._condition:
                if place.holds:
                    self._durations.append(time.monotonic() - self._held_since)
                    self._holder = None
                    place.holds = False
                else:
                    self._line.remove(place)
                self._condition.notify_all()

    def wait(self, place: Place, max_wait_seconds: float | None = None) -> Iterator[Waiting]:
        """Wait until every caller that arrived before ``place`` is done, yielding where it
        stands about once a second (nothing when the model is free at once), and a last
        ``Waiting`` with place 0 when its go comes after a wait.

        Raises ``ProviderUnavailable`` when the go does not come within ``max_wait_seconds``.
        """
        deadline = None if max_wait_seconds is None else time.monotonic() + max_wait_seconds
        told = False
        while True:
            with self._condition:
                if self._take(place):
                    break
                now = time.monotonic()
                if deadline is not None and max_wait_seconds is not None and now >= deadline:
                    raise ProviderUnavailable(
                        f"The local model {self.name} stayed busy with other conversations "
                        f"for {duration_words(max_wait_seconds)}: try again in a moment."
                    )
                status = self._status(place, now)
            yield status
            told = True
            with self._condition:
                if not self._free_for(place):
                    timeout = REPORT_EVERY_SECONDS
                    if deadline is not None:
                        timeout = min(timeout, max(0.0, deadline - time.monotonic()))
                    self._condition.wait(timeout)
        if told:
            yield Waiting(0, self.waiting)

    @contextlib.contextmanager
    def hold(self, max_wait_seconds: float | None = None) -> Iterator[None]:
        """Hold the model for one reply, after every caller that arrived earlier (for a
        caller that does not show its place)."""
        with self.join() as place:
            for _ in self.wait(place, max_wait_seconds):
                pass
            yield

    # -- under the condition ---------------------------------------------------------------------

    def _free_for(self, place: Place) -> bool:
        return self._holder is None and self._line[0] is place

    def _take(self, place: Place) -> bool:
        """Give ``place`` the model if its go has come."""
        if not self._free_for(place):
            return False
        self._line.popleft()
        self._holder, self._held_since = place, time.monotonic()
        place.holds = True
        return True

    def _status(self, place: Place, now: float) -> Waiting:
        """Where ``place`` stands and how long it may wait."""
        position = self._line.index(place) + 1
        estimate = None
        if self._durations:
            typical = statistics.median(self._durations)
            current = 0.0 if self._holder is None else max(0.0, typical - (now - self._held_since))
            estimate = current + typical * (position - 1)
        return Waiting(position, len(self._line), estimate)
