"""Trimming strategies: pure functions from a message list to what is kept and what is dropped.

Every strategy takes dicts or Messages (dicts are converted at the door) and returns
Messages. A message list is read as ``split_turns`` reads it: the system prompt (the leading
system/developer messages), whole turns (a user message and the replies after it), and the
current user message (a final user message, still waiting for its reply). The system prompt
and the current message are always kept; turns are kept or dropped whole, newest kept first.

Every strategy also honours the user's choices on each message (``Message.in_context``): a
message left out is never sent (it is removed before the strategy sees the list, and
reported as dropped "left out by you"); a pinned message is always sent, counted like the
system prompt by the token budget, and never replaced by a summary. The current message is
always sent, whatever its choice says.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from chatkit.conversation import split_turns
from chatkit.errors import ContextOverflow
from chatkit.messages import Message, MessageLike, as_messages
from chatkit.tokens import TokenCount, Tokenizer, count_message_tokens, tokenizer_for_model

SUMMARY_PREFIX = "Summary of the earlier conversation: "
LEFT_OUT_REASON = "left out by you"


@dataclass(frozen=True)
class Dropped:
    """A message a strategy removed, where it stood in the input, and why."""

    index: int
    message: Message
    reason: str


@dataclass(frozen=True)
class TrimResult:
    """What a strategy kept (in order) and what it dropped; ``summary`` if one was added."""

    messages: list[Message]
    dropped: list[Dropped] = field(default_factory=list)
    summary: Message | None = None
    summary_shortened: bool = False  # only its newest part fitted: older details were cut

    @property
    def dropped_indices(self) -> frozenset[int]:
        """Positions in the input list that were dropped."""
        return frozenset(d.index for d in self.dropped)


class TrimmingStrategy(Protocol):
    """Anything with a pure ``apply(messages) -> TrimResult``."""

    def apply(self, messages: Sequence[MessageLike]) -> TrimResult: ...


Apply = Callable[[object, Sequence[Message]], TrimResult]


def honours_left_out(apply: Apply) -> Callable[[object, Sequence[MessageLike]], TrimResult]:
    """Wrap a strategy's ``apply``: messages the user left out are taken away first (all but
    the current message), and reported as dropped where they stood in the input."""

    @functools.wraps(apply)
    def wrapper(self: object, messages: Sequence[MessageLike]) -> TrimResult:
        converted = as_messages(messages)
        pending = split_turns(converted).pending
        out = [i for i, m in enumerate(converted) if m.left_out and i != pending]
        if not out:
            return apply(self, converted)
        positions = [i for i in range(len(converted)) if i not in set(out)]
        result = apply(self, [converted[i] for i in positions])
        dropped = [Dropped(positions[d.index], d.message, d.reason) for d in result.dropped]
        dropped += [Dropped(i, converted[i], LEFT_OUT_REASON) for i in out]
        return replace(result, dropped=sorted(dropped, key=lambda d: d.index))

    return wrapper


def pinned_indices(messages: Sequence[Message]) -> set[int]:
    """Positions of the messages the user pinned."""
    return {i for i, m in enumerate(messages) if m.pinned}


def _result(
    messages: Sequence[Message],
    keep: set[int],
    reason: str,
    summary: Message | None = None,
    summary_after: int = 0,
) -> TrimResult:
    kept = [messages[i] for i in range(len(messages)) if i in keep]
    dropped = [Dropped(i, messages[i], reason) for i in range(len(messages)) if i not in keep]
    if summary is not None:
        kept.insert(summary_after, summary)
    return TrimResult(kept, dropped, summary)


@dataclass(frozen=True)
class KeepAll:
    """No trimming: everything is sent."""

    @honours_left_out
    def apply(self, messages: Sequence[MessageLike]) -> TrimResult:
        return TrimResult(as_messages(messages))


@dataclass(frozen=True)
class LastNTurns:
    """The system prompt, the last ``n`` whole turns, and the current message.

    The current (unanswered) user message is always kept and not counted in ``n``.
    """

    n: int

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError("LastNTurns needs n >= 0.")

    @honours_left_out
    def apply(self, messages: Sequence[MessageLike]) -> TrimResult:
        converted = as_messages(messages)
        layout = split_turns(converted)
        # max(..., 0): with more room than turns, a negative start would drop the oldest ones.
        kept_turns = list(layout.turns[max(len(layout.turns) - self.n, 0) :])
        # A group that starts with an assistant message is only kept when nothing is dropped.
        if len(kept_turns) < len(layout.turns):
            kept_turns = [t for t in kept_turns if converted[t[0]].role == "user"]
        keep = set(layout.head) | {i for turn in kept_turns for i in turn}
        keep |= pinned_indices(converted)
        if layout.pending is not None:
            keep.add(layout.pending)
        return _result(converted, keep, f"older than the last {self.n} turns")


@dataclass(frozen=True)
class TokenBudget:
    """Keep the system prompt, the current message, then the newest whole turns that fit.

    The budget is counted like a prompt (``count_tokens``: per-message overhead and reply
    priming included) with the model's tokenizer. If the system prompt and the current
    message alone do not fit, ``apply`` raises ``ContextOverflow`` saying by how much.
    """

    max_tokens: int
    model: str = "gpt-4o"
    tokenizer: Tokenizer | None = None

    def _tokenizer(self) -> Tokenizer:
        return self.tokenizer or tokenizer_for_model(self.model)

    def count(self, messages: Sequence[Message]) -> TokenCount:
        """``messages`` counted as this budget counts them (the model's tokenizer)."""
        return count_message_tokens(messages, self.model, tokenizer=self._tokenizer())

    def plan(
        self, messages: Sequence[Message], counted: TokenCount | None = None
    ) -> tuple[set[int], list[int], int]:
        """Indices kept, per-message token counts, and the tokens the kept messages cost
        (``counted``: the messages' count, when the caller has it already)."""
        counted = counted or self.count(messages)
        per = list(counted.per_message)
        layout = split_turns(messages)
        pinned = pinned_indices(messages)
        fixed = set(layout.head) | pinned
        if layout.pending is not None:
            fixed.add(layout.pending)
        used = counted.total - sum(per) + sum(per[i] for i in fixed)
        if used > self.max_tokens:
            over_by = used - self.max_tokens
            what = "The system prompt, your pinned messages" if pinned else "The system prompt"
            advice = "unpin a message, shorten yours" if pinned else "shorten the message"
            raise ContextOverflow(
                f"{what} and your message need {used} tokens, {over_by} more than the "
                f"budget of {self.max_tokens}: {advice} or raise the budget.",
                over_by=over_by,
            )
        keep = set(fixed)
        for turn in reversed(layout.turns):
            cost = sum(per[i] for i in turn if i not in pinned)
            if used + cost > self.max_tokens or messages[turn[0]].role != "user":
                break
            keep.update(turn)
            used += cost
        return keep, per, used

    @honours_left_out
    def apply(self, messages: Sequence[MessageLike]) -> TrimResult:
        converted = as_messages(messages)
        # Everything fits: keep it all, even a leading assistant greeting.
        counted = self.count(converted)
        if counted.total <= self.max_tokens:
            return TrimResult(converted)
        keep, _, _ = self.plan(converted, counted)
        return _result(converted, keep, f"did not fit the budget of {self.max_tokens} tokens")


Summarizer = Callable[[Sequence[Message]], str]


@dataclass(frozen=True)
class SummarizeOlder:
    """Like ``TokenBudget``, but the dropped turns come back as one summary message.

    ``summarizer`` turns the dropped messages into text (an LLM in the app, a plain function
    in tests). The summary is a system message placed right after the system prompt; if it
    does not fit beside the kept turns, the oldest kept turn is summarized too, and as a last
    resort the summary is shortened to fit (when not even that fits, the turns are left out
    without one, and their reason says so).
    """

    max_tokens: int
    summarizer: Summarizer
    model: str = "gpt-4o"
    tokenizer: Tokenizer | None = None

    @honours_left_out
    def apply(self, messages: Sequence[MessageLike]) -> TrimResult:
        converted = as_messages(messages)
        budget = TokenBudget(self.max_tokens, self.model, self.tokenizer)
        # What ``budget.apply`` would do, counting the messages once for both steps.
        counted = budget.count(converted)
        if counted.total <= self.max_tokens:
            return TrimResult(converted)
        keep, per, used = budget.plan(converted, counted)
        if len(keep) == len(converted):
            return TrimResult(converted)
        tokenizer = budget._tokenizer()
        layout = split_turns(converted)
        kept_turns = [t for t in layout.turns if set(t) <= keep]
        reason = "summarized: older than what fits the budget"
        dropped_at = [i for i in range(len(converted)) if i not in keep]
        dropped = [converted[i] for i in dropped_at]
        while True:
            text = self.summarizer(dropped)
            summary = summary_message(text)
            cost = tokenizer.count_message(summary)
            if used + cost <= self.max_tokens:
                return _result(converted, keep, reason, summary, len(layout.head))
            if not kept_turns:
                break
            oldest = [i for i in kept_turns.pop(0) if not converted[i].pinned]
            keep.difference_update(oldest)
            used -= sum(per[i] for i in oldest)
            # The oldest kept turn follows everything dropped so far, so the list grows at its
            # end (a new list each time: the summarizer may keep the one it was given).
            if oldest and dropped_at and oldest[0] < dropped_at[-1]:
                dropped_at = sorted([*dropped_at, *oldest])
                dropped = [converted[i] for i in dropped_at]
            else:
                dropped_at = [*dropped_at, *oldest]
                dropped = [*dropped, *(converted[i] for i in oldest)]
        shortened = _shorten_to_fit(text, self.max_tokens - used, tokenizer)
        if shortened is None:  # left out, but not summarized: say so
            unsummarized = f"did not fit the budget of {self.max_tokens} tokens (no summary fits)"
            return _result(converted, keep, unsummarized)
        result = _result(converted, keep, reason, shortened, len(layout.head))
        return replace(result, summary_shortened=True)


@functools.lru_cache(maxsize=128)
def summary_message(text: str) -> Message:
    """The system message a summary is sent as (remembered: the same summary text gives the
    same message, whose count is then a lookup)."""
    return Message("system", SUMMARY_PREFIX + text)


def _shorten_to_fit(text: str, room: int, tokenizer: Tokenizer) -> Message | None:
    """The longest *end* of the summary (after an ellipsis) whose message fits in ``room``.

    The end, because a summary runs oldest to newest and the newest facts matter most (a name
    corrected late in a conversation must survive). The cut falls between words, and between
    lines when the summary is one line per message.
    """

    def message(start: int) -> Message:
        return Message("system", SUMMARY_PREFIX + "…" + text[start:].lstrip())

    if tokenizer.count_message(message(len(text))) > room:
        return None
    low, high = 0, len(text)  # the earliest start that fits lies in [low, high]
    while low < high:
        middle = (low + high) // 2
        if tokenizer.count_message(message(middle)) <= room:
            high = middle
        else:
            low = middle + 1
    start = _boundary(text, low)
    return message(start) if text[start:].strip() else None


def _boundary(text: str, start: int) -> int:
    """``start`` moved forward so nothing is cut in half: to the next line start when the
    summary has lines (one per message), else to the next word."""
    if start <= 0 or start >= len(text) or text[start - 1] in "\n" + ("" if "\n" in text else " "):
        return start
    if "\n" in text:
        line = text.find("\n", start)
        return len(text) if line < 0 else line + 1
    space = text.find(" ", start)
    return len(text) if space < 0 else space + 1


@dataclass(frozen=True)
class Chain:
    """Apply strategies one after another; what each drops is reported against the input."""

    strategies: tuple[TrimmingStrategy, ...]

    @honours_left_out
    def apply(self, messages: Sequence[MessageLike]) -> TrimResult:
        messages = as_messages(messages)
        current = list(messages)
        positions = list(range(len(messages)))  # input index of each current message, or -1
        dropped: list[Dropped] = []
        summary = None
        for strategy in self.strategies:
            result = strategy.apply(current)
            for item in result.dropped:
                if positions[item.index] >= 0:
                    dropped.append(
                        Dropped(positions[item.index], messages[positions[item.index]], item.reason)
                    )
            survivors = [i for i in range(len(current)) if i not in result.dropped_indices]
            survivor_positions = [positions[i] for i in survivors]
            if result.summary is not None:
                summary = result.summary
                at = next(i for i, m in enumerate(result.messages) if m is result.summary)
                survivor_positions.insert(at, -1)
            current, positions = result.messages, survivor_positions
        dropped.sort(key=lambda d: d.index)
        return TrimResult(current, dropped, summary)
