"""A reply that may take only so long: the provider wrapped so that a call stops at a deadline.

A shared machine (a classroom's local model) cannot let one visitor hold it for minutes.
``TimeLimited(inner, seconds)`` stops the reply when ``seconds`` have passed since the call
started, keeps what arrived, and says so in one sentence (a ``StreamInterrupted``, so the app
keeps the partial reply and offers to retry).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chatkit.errors import StreamInterrupted
from chatkit.messages import Message
from chatkit.providers.base import GenerationOptions, Provider, StreamingProvider, TurnGenerator
from chatkit.tokens import Tokenizer


@dataclass
class TimeLimited(StreamingProvider):
    """``inner``, with every call stopped after ``seconds``."""

    model: str = ""  # taken from ``inner``
    inner: Provider | None = None
    seconds: float = 120.0

    def __post_init__(self) -> None:
        if self.inner is None or self.seconds <= 0:
            raise ValueError("TimeLimited needs the provider it wraps and a positive limit.")
        self.name = self.inner.name
        self.model = self.inner.model
        self.mode = self.inner.mode
        self.capabilities = self.inner.capabilities

    def tokenizer(self) -> Tokenizer:
        return self.inner.tokenizer()

    def context_window(self) -> int | None:
        return self.inner.context_window()

    def build_request(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        previous_response_id: str | None = None,
    ) -> dict[str, Any]:
        return self.inner.build_request(
            messages, options or GenerationOptions(), previous_response_id
        )

    def _generate(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        previous_response_id: str | None,
    ) -> TurnGenerator:
        deadline = time.monotonic() + self.seconds
        stream = self.inner.stream(messages, options, previous_response_id)
        try:
            for chunk in stream:
                yield chunk
                if time.monotonic() > deadline and not stream.done:
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
