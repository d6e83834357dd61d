"""A reply that may take only so long: the provider wrapped so that a call stops at a deadline.

A shared machine (a classroom's local model) cannot let one visitor hold it for minutes.
``TimeLimited(inner, seconds)`` stops the reply when ``seconds`` have passed since the call
started, keeps what arrived, and says so in one sentence (a ``StreamInterrupted``, so the app
keeps the partial reply and offers to retry). A call that waits in a local model's queue starts
its clock when its go comes (the stream's ``Waiting`` events say when): waiting for other
visitors' replies does not use up its time. This is chatkit's one limit on a reply's time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chatkit.errors import StreamInterrupted
from chatkit.providers.base import Prompt, WrappedProvider
from chatkit.providers.calls import EventGenerator, TextDelta, Waiting


@dataclass
class TimeLimited(WrappedProvider):
    """``inner``, with every call stopped after ``seconds`` (read from ``clock``)."""

    seconds: float = 120.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.inner is None or self.seconds <= 0:
            raise ValueError("TimeLimited needs the provider it wraps and a positive limit.")
        super().__post_init__()

    def _generate(self, prompt: Prompt) -> EventGenerator:
        stream = self._inner_stream(prompt)
        relay = self._relay(stream)
        started = self.clock()
        try:
            while True:
                try:
                    event = next(relay)
                except StopIteration as finished:
                    return finished.value
                if isinstance(event, Waiting):
                    started = self.clock()  # waiting in line: the clock starts at the go
                yield event
                if isinstance(event, TextDelta) and self.clock() - started > self.seconds:
                    raise StreamInterrupted(
                        f"The reply was stopped after {self.seconds:g} seconds, the longest "
                        f"this app gives one reply on a shared model; what arrived is kept: "
                        f"retry, or ask for a shorter answer.",
                        partial_text=stream.partial_text,
                    )
        finally:
            relay.close()  # a stop, the limit, an error: the inner call ends here
