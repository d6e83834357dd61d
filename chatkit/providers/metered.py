"""Calls that count against an allowance: a provider wrapped so that every call is booked first.

``Metered(inner, meter)`` asks ``meter`` to reserve each call before it starts (the prompt's
tokens plus the most the reply may take) and settles it when the call ends, however it ends:
with the usage the provider billed, with an estimate for a stopped or cut-off reply, or with
nothing for a call that failed before any text. A refused reservation raises the meter's
error (one sentence) and the call never starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chatkit.errors import ChatkitError
from chatkit.messages import Message
from chatkit.providers.base import (
    GenerationOptions,
    TurnGenerator,
    Usage,
    WrappedProvider,
)
from chatkit.tokens import count_message_tokens

# What a reply may take when the call sets no limit (the APIs' own defaults are larger, but a
# reservation must be finite; the metered app always sets one).
DEFAULT_OUTPUT_RESERVE = 4096


class Meter(Protocol):
    """Books calls against an allowance."""

    def reserve(self, model: str, input_tokens: int, output_tokens: int) -> Any:
        """Book a call of up to these many tokens, or raise a ``ChatkitError`` saying why not."""
        ...

    def settle(self, booking: Any, model: str, usage: Usage) -> None:
        """Replace a booking with what the call cost."""
        ...


@dataclass
class Metered(WrappedProvider):
    """``inner``, with every call booked on ``meter`` before it starts and settled after."""

    meter: Meter | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.inner is None or self.meter is None:
            raise ValueError("Metered needs the provider it wraps and a meter.")
        super().__post_init__()

    def _generate(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        previous_response_id: str | None,
    ) -> TurnGenerator:
        tokenizer = self.inner.tokenizer()
        prompt = count_message_tokens(messages, self.model, tokenizer=tokenizer).total
        cap = options.max_output_tokens or DEFAULT_OUTPUT_RESERVE
        booking = self.meter.reserve(self.model, prompt, cap)
        stream = self.inner.stream(messages, options, previous_response_id)
        settled = False

        def settle(usage: Usage) -> None:
            nonlocal settled
            if not settled:
                settled = True
                self.meter.settle(booking, self.model, usage)

        def estimate() -> Usage:
            text = stream.partial_text
            if not text:
                return Usage(0, 0, estimated=True)
            return Usage(prompt, tokenizer.count_text(text), estimated=True)

        try:
            yield from stream
        except ChatkitError:
            settle(estimate())
            raise
        finally:
            if not stream.done:  # stopped: close the call, count what it took
                stream.stop()
                settle(estimate())
        result = stream.result
        assert result is not None
        settle(result.usage or Usage(prompt, tokenizer.count_text(result.text), estimated=True))
        return result
