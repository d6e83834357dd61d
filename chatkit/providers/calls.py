"""One call to a model: the typed events its stream carries, and what it returns at the end.

A provider's stream is a sync generator of events - text as it arrives (``TextDelta``), a
place in a shared model's line (``Waiting``), the usage as billed (``UsageReport``), why the
model stopped (``Finished``) - that returns a ``CallResult``: the full text, the usage, the
exact request body and its size, the response id. ``ReplyStream`` wraps it: ``events()`` for
code that follows a reply (the turn queue, a time limit), plain iteration for the text alone
(what ``st.write_stream`` and a script want).
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any, TypeAlias


@dataclass(frozen=True)
class Usage:
    """Tokens of one call as the provider billed them.

    ``input_tokens`` is the total input, cached tokens included (OpenAI's convention;
    Anthropic's cache reads and writes are added in). ``estimated`` is True when chatkit
    counted locally instead of reading the provider's figure.
    """

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class CallResult:
    """One finished call: what came back, what it cost, and exactly what was sent."""

    text: str
    provider: str
    model: str
    mode: str
    request_body: dict[str, Any]
    request_bytes: int
    usage: Usage | None = None
    response_id: str | None = None
    previous_response_id: str | None = None
    finish_reason: str | None = None
    response_body: dict[str, Any] | None = None
    note: str = ""
    stopped: bool = False
    received_bytes: int | None = None  # locally chained: the request the model received


def request_size(body: dict[str, Any]) -> int:
    """Bytes of a request body as the SDKs send it (compact UTF-8 JSON)."""
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


@dataclass(frozen=True)
class TextDelta:
    """The next piece of the reply's text."""

    text: str


@dataclass(frozen=True)
class Waiting:
    """The call waits for a model busy with other conversations: ``place`` 1 is next, and
    place 0 says the wait is over (the reply is being generated now)."""

    place: int
    waiting: int
    estimate_seconds: float | None = None  # until this call's go; None before any measure

    @property
    def served(self) -> bool:
        return self.place == 0

    def sentence(self) -> str:
        """Where the call stands, in words for the page."""
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
            wait = f"about {duration_words(self.estimate_seconds)} to wait"
        return f"The local model is answering another conversation: you are {where}, {wait}."


@dataclass(frozen=True)
class UsageReport:
    """The tokens the call used so far, as the provider billed them."""

    usage: Usage


@dataclass(frozen=True)
class Finished:
    """The model stopped: ``reason`` in the API's own word ("stop", "length", "end_turn"...)."""

    reason: str | None


StreamEvent: TypeAlias = TextDelta | Waiting | UsageReport | Finished
EventGenerator: TypeAlias = Generator[StreamEvent, None, CallResult]


def duration_words(seconds: float) -> str:
    """A wait in words: "12 s", "1 min", "3 min" (never "2 min" for 61 s)."""
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    return f"{seconds / 60:.0f} min" if seconds >= 90 else "1 min"


class ReplyStream:
    """A reply as it arrives; ``result`` once the stream is exhausted.

    ``partial_text`` always holds the text so far, so a caller interrupted mid-stream (a stop
    button) can keep it. ``stop()`` closes the underlying SDK stream.
    """

    def __init__(self, generator: EventGenerator) -> None:
        self._generator = generator
        self._chunks: list[str] = []
        self.result: CallResult | None = None
        self.stopped = False

    def events(self) -> Iterator[StreamEvent]:
        """Every event, in order; the text is kept in ``partial_text`` on the way."""
        while True:
            try:
                event = next(self._generator)
            except StopIteration as finished:
                self.result = finished.value
                return
            if isinstance(event, TextDelta):
                if not event.text:
                    continue
                self._chunks.append(event.text)
            yield event

    def __iter__(self) -> Iterator[str]:
        """The reply's text, piece by piece."""
        for event in self.events():
            if isinstance(event, TextDelta):
                yield event.text

    @property
    def partial_text(self) -> str:
        return "".join(self._chunks)

    @property
    def done(self) -> bool:
        return self.result is not None

    def stop(self) -> None:
        """Stop generating; what arrived stays in ``partial_text``.

        Call it from the thread that iterates the stream (a generator cannot be closed while
        another thread is inside it); another thread should only read ``partial_text``.
        """
        self.stopped = True
        self._generator.close()

    def finish(self) -> CallResult:
        """Consume the rest of the stream and return the result."""
        for _ in self.events():
            pass
        if self.result is None:  # pragma: no cover - generators always return a result
            raise RuntimeError("The stream ended without a result.")
        return self.result
