"""How a prompt fills a model's context window, part by part."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chatkit.messages import MessageLike, as_message
from chatkit.tokens import Tokenizer, count_message_tokens

SYSTEM_PROMPT = "System prompt"
SUMMARY = "Summary"
HISTORY = "History"
CURRENT_TURN = "Current turn"
RESERVED = "Reserved for reply"
FREE = "Free"
PARTS: tuple[str, ...] = (SYSTEM_PROMPT, SUMMARY, HISTORY, CURRENT_TURN, RESERVED, FREE)


@dataclass(frozen=True)
class WindowFill:
    """A context window split into system prompt / summary / history / current turn / reserved
    for the reply / free. ``summary`` is the summary message that replaced older turns, if any.
    """

    context_window: int
    reserved_for_reply: int
    system_prompt: int
    history: int
    current_turn: int
    exact: bool = True
    note: str = ""
    summary: int = 0

    @property
    def used(self) -> int:
        """Tokens the prompt takes (everything but the reply and the free space)."""
        return self.system_prompt + self.summary + self.history + self.current_turn

    @property
    def free(self) -> int:
        """Tokens left over; negative when the prompt plus the reserve do not fit."""
        return self.context_window - self.reserved_for_reply - self.used

    @property
    def fits(self) -> bool:
        return self.free >= 0

    def parts(self, *, with_summary: bool | None = None) -> list[tuple[str, int]]:
        """The parts in order, for a bar chart (free is never negative here).

        The summary part is listed when there is one, or always with ``with_summary=True``
        (so that a chart keeps the same parts, and colours, whatever trimming does).
        """
        parts = [
            (SYSTEM_PROMPT, self.system_prompt),
            (SUMMARY, self.summary),
            (HISTORY, self.history),
            (CURRENT_TURN, self.current_turn),
            (RESERVED, self.reserved_for_reply),
            (FREE, max(self.free, 0)),
        ]
        show_summary = self.summary > 0 if with_summary is None else with_summary
        return [part for part in parts if show_summary or part[0] != SUMMARY]

    @classmethod
    def of(
        cls,
        messages: Sequence[MessageLike],
        *,
        context_window: int,
        reserved_for_reply: int = 0,
        model: str = "gpt-4o",
        tokenizer: Tokenizer | None = None,
    ) -> WindowFill:
        """Measure ``messages`` against a window: leading system messages are the system
        prompt, a final user message is the current turn (with the reply priming), the rest is
        history."""
        converted = [as_message(m) for m in messages]
        counted = count_message_tokens(converted, model, tokenizer=tokenizer)
        system_count = 0
        while system_count < len(converted) and converted[system_count].is_instruction:
            system_count += 1
        has_current = len(converted) > system_count and converted[-1].role == "user"
        end_of_history = len(converted) - 1 if has_current else len(converted)
        priming = counted.total - sum(counted.per_message)
        return cls(
            context_window=context_window,
            reserved_for_reply=reserved_for_reply,
            system_prompt=sum(counted.per_message[:system_count]),
            history=sum(counted.per_message[system_count:end_of_history]),
            current_turn=(counted.per_message[-1] if has_current else 0) + priming,
            exact=counted.exact,
            note=counted.note,
        )
