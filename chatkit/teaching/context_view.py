"""Figures for the context window page: where the tokens of the next request go.

The open conversation is measured against the model's context window and split into the
system prompt, a summary (when "summarize older turns" replaced some turns), the history, the
current turn (the newest user message and its reply), the tokens reserved for the reply, and
what is left free. Each message gets a row with its token count and whether the trimming
strategy keeps it, and why; a message the user left out is never counted as sent, and a
pinned one is kept like the system prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chatkit.conversation import Conversation, TurnLayout, split_turns
from chatkit.errors import ContextOverflow
from chatkit.messages import InContext, Message, as_message, clip
from chatkit.summary import message_lines
from chatkit.teaching.summary_preview import PreviewSummarizer, SummaryPreview
from chatkit.tokens import Tokenizer, count_message_tokens
from chatkit.trimming import LEFT_OUT_REASON, TrimmingStrategy
from chatkit.window_fill import (
    CURRENT_TURN,
    FREE,
    HISTORY,
    PARTS,
    RESERVED,
    SUMMARY,
    SYSTEM_PROMPT,
    WindowFill,
)

__all__ = [
    "CURRENT_TURN",
    "FREE",
    "HISTORY",
    "PARTS",
    "PINNED_REASON",
    "RESERVED",
    "SUMMARY",
    "SYSTEM_PROMPT",
    "ContextView",
    "MessageRow",
    "PreviewSummarizer",
    "SummaryPreview",
    "bar_rows",
    "build_view",
    "context_messages",
    "in_context_legend",
    "message_parts",
    "minimum_budget",
    "struck_through",
]
PREVIEW_CHARS = 80
PINNED_REASON = "pinned: always kept"
STRIKE = "\u0336"  # a combining long stroke: strikes through the character before it


def context_messages(conversation: Conversation, next_message: str = "") -> list[Message]:
    """What the next request would carry before trimming: the system prompt, every message,
    and ``next_message`` when one is typed."""
    messages = conversation.to_messages()
    if next_message.strip():
        messages.append(Message("user", next_message))
    return messages


def message_parts(messages: Sequence[Message]) -> list[str]:
    """Which part of the window each message belongs to.

    Leading system/developer messages are the system prompt; the newest user message and what
    follows it are the current turn; everything between is history.
    """
    return _parts(split_turns(messages), messages)


def _answered(layout: TurnLayout, messages: Sequence[Message]) -> int | None:
    """Where the message being answered stands: the pending user message, else the one the
    current turn starts with (its reply is on screen); None when there is neither."""
    if layout.pending is not None:
        return layout.pending
    if layout.turns and messages[layout.turns[-1].start].role == "user":
        return layout.turns[-1].start
    return None


def _parts(layout: TurnLayout, messages: Sequence[Message]) -> list[str]:
    answered = _answered(layout, messages)
    current = len(messages) if answered is None else answered
    return [
        SYSTEM_PROMPT if i in layout.head else CURRENT_TURN if i >= current else HISTORY
        for i in range(len(messages))
    ]


@dataclass(frozen=True)
class MessageRow:
    """One message of the request: its place, its tokens, and whether trimming keeps it."""

    index: int
    turn: int | None  # 1-based turn number; None for the system prompt
    role: str
    part: str
    tokens: int
    kept: bool
    reason: str
    preview: str
    in_context: InContext = "auto"  # the user's choice on the Chat page

    @property
    def pinned(self) -> bool:
        return self.in_context == "pinned"

    @property
    def left_out(self) -> bool:
        """Left out by the user, and so not sent (the message being answered always is)."""
        return self.reason == LEFT_OUT_REASON

    @property
    def mark(self) -> str:
        """The user's choice as the table marks it: "📌 pinned", "left out", or ""."""
        return "📌 pinned" if self.pinned else "left out" if self.left_out else ""

    @property
    def shown_preview(self) -> str:
        """The preview as the table shows it: struck through when the user left it out."""
        return struck_through(self.preview) if self.left_out else self.preview


def struck_through(text: str) -> str:
    """``text`` struck through in plain Unicode, so it shows so in any grid or caption
    (a data grid draws no Markdown and no CSS text decoration)."""
    return "".join(char + STRIKE if not char.isspace() else char for char in text)


def in_context_legend(rows: Sequence[MessageRow]) -> str:
    """What the marks in the table mean, for the marks it holds ("" when it holds none)."""
    parts = []
    if any(row.pinned for row in rows):
        parts.append("📌 pinned: always sent, never trimmed or summarized")
    if any(row.left_out for row in rows):
        parts.append(f"{struck_through('struck through')}: left out by you, never sent")
    return " · ".join(parts)


@dataclass(frozen=True)
class ContextView:
    """The next request measured against the context window, after trimming."""

    fill: WindowFill
    rows: tuple[MessageRow, ...]
    untrimmed_tokens: int
    summary: SummaryPreview | None = None
    overflow: str = ""

    @property
    def context_window(self) -> int:
        return self.fill.context_window

    @property
    def reserved_for_reply(self) -> int:
        return self.fill.reserved_for_reply

    @property
    def used(self) -> int:
        """Tokens the request takes after trimming (the reply priming included)."""
        return self.fill.used

    @property
    def free(self) -> int:
        """Tokens left; negative when the request and the reserve do not fit."""
        return self.fill.free

    @property
    def fits(self) -> bool:
        return self.fill.fits

    @property
    def exact(self) -> bool:
        return self.fill.exact

    @property
    def note(self) -> str:
        return self.fill.note

    @property
    def dropped_rows(self) -> list[MessageRow]:
        """Every message not sent: trimmed, or left out by the user."""
        return [row for row in self.rows if not row.kept]

    @property
    def trimmed_rows(self) -> list[MessageRow]:
        """The messages the trimming strategy does not send."""
        return [row for row in self.dropped_rows if not row.left_out]

    @property
    def left_out_rows(self) -> list[MessageRow]:
        """The messages the user left out."""
        return [row for row in self.rows if row.left_out]

    @property
    def pinned_rows(self) -> list[MessageRow]:
        return [row for row in self.rows if row.pinned]

    @property
    def dropped_tokens(self) -> int:
        """Tokens of the messages trimming leaves out."""
        return sum(row.tokens for row in self.dropped_rows)

    @property
    def dropped_turns(self) -> list[int]:
        """1-based numbers of the turns with at least one message trimming drops."""
        return sorted({row.turn for row in self.trimmed_rows if row.turn is not None})

    def parts(self) -> list[tuple[str, int]]:
        """The six parts of the window in order (free is never negative here)."""
        return self.fill.parts(with_summary=True)

    def used_parts(self) -> list[tuple[str, int]]:
        """Every part but the free space: the zoomed view of what the request takes."""
        return [(label, tokens) for label, tokens in self.parts() if label != FREE]


def _kept_reason(part: str, is_answered: bool, overflow: bool, message: Message) -> str:
    if part == SYSTEM_PROMPT:
        return "always kept: the system prompt"
    if is_answered:
        if message.left_out:
            return "always kept: the message being answered (even though you left it out)"
        return "always kept: the message being answered"
    if message.pinned:
        return PINNED_REASON
    if part == CURRENT_TURN:
        return "always kept: the reply to the message being answered"
    return "not trimmed: the budget is too small (see above)" if overflow else "kept"


def build_view(
    messages: Sequence[Message],
    strategy: TrimmingStrategy,
    *,
    context_window: int,
    reserved_for_reply: int,
    tokenizer: Tokenizer,
    model: str = "",
) -> ContextView:
    """Measure ``messages`` and what ``strategy`` keeps of them against ``context_window``.

    The strategy trims the request that answers the current turn, as the chat sends it: up to
    the message being answered (the pending one, or the one whose reply is on screen, as
    Regenerate would send it), so that message and the system prompt are never trimmed or
    summarized; the reply on screen is kept beside them. A strategy that cannot fit even those
    two (it raises ``ContextOverflow``) keeps everything here, and ``overflow`` says why.
    Messages the user left out are never sent (the strategy removes them, and so does this
    view after the message being answered, or when the strategy overflows); pinned ones are
    kept.
    """
    messages = [as_message(m) for m in messages]
    counted = count_message_tokens(messages, model, tokenizer=tokenizer)
    priming = counted.total - sum(counted.per_message)
    layout = split_turns(messages)
    parts = _parts(layout, messages)
    turns = layout.turn_numbers()
    answered = _answered(layout, messages)
    overflow = ""
    try:
        trimmed = strategy.apply(messages if answered is None else messages[: answered + 1])
    except ContextOverflow as error:
        trimmed, overflow = None, error.message
    dropped = {d.index: d.reason for d in trimmed.dropped} if trimmed else {}
    for i, message in enumerate(messages):  # what the strategy did not see is left out too
        if message.left_out and i != answered and i not in dropped:
            dropped[i] = LEFT_OUT_REASON
    rows = tuple(
        MessageRow(
            index=i,
            turn=turns[i],
            role=message.role,
            part=parts[i],
            tokens=counted.per_message[i],
            kept=i not in dropped,
            reason=dropped.get(i) or _kept_reason(parts[i], i == answered, bool(overflow), message),
            preview=clip(message.content, PREVIEW_CHARS),
            in_context=message.in_context,
        )
        for i, message in enumerate(messages)
    )

    def kept_tokens(part: str) -> int:
        return sum(row.tokens for row in rows if row.kept and row.part == part)

    summary = None
    summary_tokens = 0
    if trimmed is not None and trimmed.summary is not None:
        summary_message = as_message(trimmed.summary)
        summary_tokens = tokenizer.count_message(summary_message)
        summarizer = getattr(strategy, "summarizer", None)
        source = getattr(summarizer, "last_source", "lines")
        # The summary stands in for what trimming dropped, never for what the user left out.
        summarized = sorted(i for i, reason in dropped.items() if reason != LEFT_OUT_REASON)
        replaces = tuple(messages[i] for i in summarized)
        dropped_turns = tuple(sorted({turns[i] for i in summarized if turns[i] is not None}))
        covered = dropped_turns
        if trimmed.summary_shortened and source == "lines":
            # One line per message: the turns whose lines survived the shortening.
            lines = summary_message.content
            covered = tuple(
                sorted(
                    {
                        turns[i]
                        for i in summarized
                        if turns[i] is not None and message_lines([messages[i]]).strip() in lines
                    }
                )
            )
        summary = SummaryPreview(
            summary_message.content,
            source,
            replaces,
            summary_tokens,
            shortened=trimmed.summary_shortened,
            covered_turns=covered,
            dropped_turns=dropped_turns,
        )
    fill = WindowFill(
        context_window=context_window,
        reserved_for_reply=reserved_for_reply,
        system_prompt=kept_tokens(SYSTEM_PROMPT),
        summary=summary_tokens,
        history=kept_tokens(HISTORY),
        current_turn=kept_tokens(CURRENT_TURN) + priming,
        exact=counted.exact,
        note=counted.note,
    )
    return ContextView(fill, rows, counted.total, summary, overflow)


def minimum_budget(messages: Sequence[Message], tokenizer: Tokenizer, model: str = "") -> int:
    """The smallest token budget a strategy can meet in ``build_view``: the system prompt, the
    pinned messages before the one being answered, that message (if any) and the reply
    priming."""
    messages = [as_message(m) for m in messages]
    counted = count_message_tokens(messages, model, tokenizer=tokenizer)
    priming = counted.total - sum(counted.per_message)
    layout = split_turns(messages)
    answered = _answered(layout, messages)
    before = len(messages) if answered is None else answered
    fixed = set(layout.head) | {i for i in range(before) if messages[i].pinned}
    if answered is not None:
        fixed.add(answered)
    return sum(counted.per_message[i] for i in fixed) + priming


def bar_rows(parts: Sequence[tuple[str, int]]) -> list[dict[str, object]]:
    """Rows for a stacked bar: each part with its tokens, start, end and share of the total."""
    total = sum(tokens for _, tokens in parts) or 1
    rows: list[dict[str, object]] = []
    start = 0
    for order, (label, tokens) in enumerate(parts):
        rows.append(
            {
                "part": label,
                "order": order,
                "tokens": tokens,
                "start": start,
                "end": start + tokens,
                "share": tokens / total,
            }
        )
        start += tokens
    return rows
