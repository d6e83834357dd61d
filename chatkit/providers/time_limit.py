"""A reply that may take only so long: the provider wrapped so that a call stops at a deadline.

A shared machine (a classroom's local model) cannot let one visitor hold it for minutes.
``TimeLimited(inner, seconds)`` stops the reply when ``seconds`` have passed since the call
started, keeps what arrived, and says so in one sentence (a ``StreamInterrupted``, so the app
keeps the partial reply and offers to retry). A call that waits in a local model's queue
(``chatkit.providers.local.queue``) starts its clock when its turn comes: waiting for other
visitors' replies does not use up its time. This is chatkit's one limit on a reply's time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from chatkit.errors import StreamInterrupted
from chatkit.messages import Message
from chatkit.providers.base import GenerationOptions, TurnGenerator, WrappedProvider
from chatkit.providers.local.queue import QueueStatus, watch


@dataclass
class TimeLimited(WrappedProvider):
    """``inner``, with every call stopped after ``seconds`` (read from ``clock``)."""

    seconds: float = 120.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.inner is None or self.seconds <= 0:
            raise ValueError("TimeLimited needs the provider it wraps and a positive limit.")
        super().__post_init__()

    def _generate(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        previous_response_id: str | None,
    ) -> TurnGenerator:
        started = self.clock()

        def on_queue(status: QueueStatus) -> None:
            nonlocal started
            started = self.clock()  # waiting in line: the clock starts at the turn

        stream = self.inner.stream(messages, options, previous_response_id)
        try:
            for chunk in _watched(stream, on_queue):
                yield chunk
                if self.clock() - started > self.seconds and not stream.done:
                    stream.stop()
                    raise StreamInterrupted(
                        f"The reply was stopped after {self.seconds:g} seconds, the longest this "
                        f"app gives one reply on a shared model; what arrived is kept: retry, or "
                        f"ask for a shorter answer.",
                        partial_text=stream.partial_text,
                    )
        finally:
            if not stream.done:
                stream.stop()
        assert stream.result is not None
        return stream.result


def _watched(chunks: Iterator[str], listener: Callable[[QueueStatus], None]) -> Iterator[str]:
    """``chunks``, each drawn while ``listener`` hears this thread's waits in a model's queue
    (only while drawing: the consumer's code between chunks runs outside)."""
    iterator = iter(chunks)
    while True:
        with watch(listener):
            chunk = next(iterator, None)
        if chunk is None:
            return
        yield chunk
