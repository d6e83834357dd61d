"""Calls that count against an allowance: a provider wrapped so that every call is booked first.

``Metered(inner, meter)`` asks ``meter`` to reserve each call before it starts (the prompt's
tokens plus the most the reply may take) and settles it when the call ends, however it ends:
with the usage the provider billed, with an estimate for a stopped or cut-off reply, or with
nothing for a call that failed before any text. A refused reservation raises the meter's
error (one sentence) and the call never starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from chatkit.providers.base import Prompt, WrappedProvider
from chatkit.providers.calls import EventGenerator, Usage
from chatkit.tokens import count_message_tokens

# What a reply may take when the call sets no limit (the APIs' own defaults are larger, but a
# reservation must be finite; the metered app always sets one).
DEFAULT_OUTPUT_RESERVE = 4096


class Meter(Protocol):
    """Books calls against an allowance."""

    def reserve(self, provider: str, model: str, input_tokens: int, output_tokens: int) -> Any:
        """Book a call of up to these many tokens, or raise a ``ChatkitError`` saying why not."""
        ...

    def settle(self, booking: Any, provider: str, model: str, usage: Usage) -> None:
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

    def _generate(self, prompt: Prompt) -> EventGenerator:
        tokenizer = self.inner.tokenizer()
        counted = count_message_tokens(prompt.messages, self.model, tokenizer=tokenizer).total
        cap = prompt.options.max_output_tokens or DEFAULT_OUTPUT_RESERVE
        booking = self.meter.reserve(self.name, self.model, counted, cap)
        stream = self._inner_stream(prompt)
        try:
            result = yield from self._relay(stream)
        finally:
            if not stream.done:  # failed or stopped: count what it took
                text = stream.partial_text
                taken = tokenizer.count_text(text) if text else 0
                taken_usage = Usage(counted if text else 0, taken, estimated=True)
                self.meter.settle(booking, self.name, self.model, taken_usage)
        usage = result.usage or Usage(counted, tokenizer.count_text(result.text), estimated=True)
        self.meter.settle(booking, self.name, self.model, usage)
        return result
