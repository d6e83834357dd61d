"""Figures for the context window page: where the tokens of the next request go.

The open conversation is measured against the model's context window and split into the
system prompt, a summary (when "summarize older turns" replaced some turns), the history, the
current turn (the newest user message and its reply), the tokens reserved for the reply, and
what is left free. Each message gets a row with its token count and whether the trimming
strategy keeps it, and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chatkit.conversation import Conversation
from chatkit.errors import ContextOverflow
from chatkit.messages import Message, as_message
from chatkit.summary import clip, message_lines
from chatkit.tokens import Tokenizer, count_message_tokens
from chatkit.trimming import TrimmingStrategy

SYSTEM_PROMPT = "System prompt"
SUMMARY = "Summary"
HISTORY = "History"
CURRENT_TURN = "Current turn"
RESERVED = "Reserved for reply"
FREE = "Free"
PARTS: tuple[str, ...] = (SYSTEM_PROMPT, SUMMARY, HISTORY, CURRENT_TURN, RESERVED, FREE)
PREVIEW_CHARS = 80

SummarySource = str  # "model" or "lines"
SUMMARY_SOURCE_LABELS: dict[str, str] = {
    "model": "written by the model",
    "lines": "the dropped turns as lines (no model call)",
}


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
    head = 0
    while head < len(messages) and messages[head].is_instruction:
        head += 1
    current = next(
        (i for i in range(len(messages) - 1, head - 1, -1) if messages[i].role == "user"),
        len(messages),
    )
    return [
        SYSTEM_PROMPT if i < head else CURRENT_TURN if i >= current else HISTORY
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


class PreviewSummarizer:
    """The summarizer the page previews with: never calls a model.

    It returns a model-written summary when the page already has one for exactly these
    messages (``model_summaries``), else the messages as "User: …" lines. It remembers what it
    was last asked to summarize and which kind of summary it gave.
    """

    def __init__(self, model_summaries: Mapping[tuple[Message, ...], str] | None = None) -> None:
        self.model_summaries = dict(model_summaries or {})
        self.last_messages: tuple[Message, ...] = ()
        self.last_source: SummarySource = "lines"

    def __call__(self, messages: Sequence[Message]) -> str:
        key = tuple(as_message(m) for m in messages)
        self.last_messages = key
        if key in self.model_summaries:
            self.last_source = "model"
            return self.model_summaries[key]
        self.last_source = "lines"
        return message_lines(key)


@dataclass(frozen=True)
class SummaryPreview:
    """The summary message that would replace the dropped turns."""

    text: str
    source: SummarySource
    replaces: tuple[Message, ...]
    tokens: int

    @property
    def source_label(self) -> str:
        return SUMMARY_SOURCE_LABELS[self.source]


@dataclass(frozen=True)
class ContextView:
    """The next request measured against the context window, after trimming."""

    context_window: int
    reserved_for_reply: int
    rows: tuple[MessageRow, ...]
    system_prompt: int
    summary_tokens: int
    history: int
    current_turn: int
    untrimmed_tokens: int
    exact: bool = True
    note: str = ""
    summary: SummaryPreview | None = None
    overflow: str = ""

    @property
    def used(self) -> int:
        """Tokens the request takes after trimming (the reply priming included)."""
        return self.system_prompt + self.summary_tokens + self.history + self.current_turn

    @property
    def free(self) -> int:
        """Tokens left; negative when the request and the reserve do not fit."""
        return self.context_window - self.reserved_for_reply - self.used

    @property
    def fits(self) -> bool:
        return self.free >= 0

    @property
    def dropped_rows(self) -> list[MessageRow]:
        return [row for row in self.rows if not row.kept]

    @property
    def dropped_tokens(self) -> int:
        """Tokens of the messages trimming leaves out."""
        return sum(row.tokens for row in self.dropped_rows)

    @property
    def dropped_turns(self) -> list[int]:
        """1-based numbers of the turns with at least one dropped message."""
        return sorted({row.turn for row in self.dropped_rows if row.turn is not None})

    def parts(self) -> list[tuple[str, int]]:
        """The six parts of the window in order (free is never negative here)."""
        return [
            (SYSTEM_PROMPT, self.system_prompt),
            (SUMMARY, self.summary_tokens),
            (HISTORY, self.history),
            (CURRENT_TURN, self.current_turn),
            (RESERVED, self.reserved_for_reply),
            (FREE, max(self.free, 0)),
        ]

    def used_parts(self) -> list[tuple[str, int]]:
        """Every part but the free space: the zoomed view of what the request takes."""
        return [(label, tokens) for label, tokens in self.parts() if label != FREE]


def _turn_numbers(messages: Sequence[Message]) -> list[int | None]:
    """1-based turn of each message (a turn starts at a user message); None for the prompt."""
    numbers: list[int | None] = []
    turn = 0
    for message in messages:
        if turn == 0 and message.is_instruction:
            numbers.append(None)
            continue
        if message.role == "user" or turn == 0:
            turn += 1
        numbers.append(turn)
    return numbers


def _kept_reason(part: str, is_pending_user: bool) -> str:
    if part == SYSTEM_PROMPT:
        return "always kept: the system prompt"
    if is_pending_user:
        return "always kept: the message being answered"
    return "kept"


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

    A strategy that cannot fit even the system prompt and the pending message (it raises
    ``ContextOverflow``) keeps everything here, and the view says why in ``overflow``.
    """
    messages = [as_message(m) for m in messages]
    counted = count_message_tokens(messages, model, tokenizer=tokenizer)
    priming = counted.total - sum(counted.per_message)
    parts = message_parts(messages)
    turns = _turn_numbers(messages)
    overflow = ""
    try:
        trimmed = strategy.apply(messages)
    except ContextOverflow as error:
        trimmed, overflow = None, error.message
    dropped = {d.index: d.reason for d in trimmed.dropped} if trimmed else {}
    pending = len(messages) - 1 if messages and messages[-1].role == "user" else None
    rows = tuple(
        MessageRow(
            index=i,
            turn=turns[i],
            role=message.role,
            part=parts[i],
            tokens=counted.per_message[i],
            kept=i not in dropped,
            reason=dropped.get(i) or _kept_reason(parts[i], i == pending),
            preview=clip(message.content, PREVIEW_CHARS),
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
        replaces = tuple(messages[i] for i in sorted(dropped))
        summary = SummaryPreview(summary_message.content, source, replaces, summary_tokens)
    return ContextView(
        context_window=context_window,
        reserved_for_reply=reserved_for_reply,
        rows=rows,
        system_prompt=kept_tokens(SYSTEM_PROMPT),
        summary_tokens=summary_tokens,
        history=kept_tokens(HISTORY),
        current_turn=kept_tokens(CURRENT_TURN) + priming,
        untrimmed_tokens=counted.total,
        exact=counted.exact,
        note=counted.note,
        summary=summary,
        overflow=overflow,
    )


def minimum_budget(messages: Sequence[Message], tokenizer: Tokenizer, model: str = "") -> int:
    """The smallest token budget a strategy can meet: the system prompt, the pending user
    message (if any) and the reply priming."""
    messages = [as_message(m) for m in messages]
    counted = count_message_tokens(messages, model, tokenizer=tokenizer)
    priming = counted.total - sum(counted.per_message)
    head = 0
    while head < len(messages) and messages[head].is_instruction:
        head += 1
    fixed = sum(counted.per_message[:head])
    if len(messages) > head and messages[-1].role == "user":
        fixed += counted.per_message[-1]
    return fixed + priming


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
