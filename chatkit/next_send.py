"""The next send, before sending: what the request will hold, cost and leave out.

``plan_next_send`` runs the same trimming the turn will run on the conversation plus the
message being typed, counts the result with the provider's own counter and prices it, and
says which earlier messages will not be sent: the chat draws its "Next request: ..." line and
its "not sent" dividers from it. It never calls a model: "summarize older turns" is
previewed with the summaries already written (or the messages as lines), so a keystroke
costs no call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chatkit.conversation import Conversation
from chatkit.errors import ContextOverflow
from chatkit.messages import Message
from chatkit.prices import cost_of, format_money
from chatkit.providers.base import GenerationOptions, Provider
from chatkit.providers.registry import provider_kind
from chatkit.summary import GrowingLines
from chatkit.teaching.context_view import context_messages
from chatkit.tokens import count_message_tokens, count_prompt
from chatkit.trimming import LEFT_OUT_REASON
from chatkit.turn import TrimmingSettings, make_strategy

PLACEHOLDER_DRAFT = "…"  # stands for the message not typed yet: it is always sent


@dataclass(frozen=True)
class Divider:
    """A line in the transcript above the message at ``before``: everything older that
    trimming keeps out is not sent (``summary`` stands in for it when one does)."""

    before: int
    words: str
    summary: str = ""


@dataclass(frozen=True)
class NextSend:
    """The request the next send would make, measured."""

    tokens: int
    exact: bool
    counted_by: str
    cost: float | None
    context_window: int | None
    trimmed: int  # earlier messages trimming will not send
    left_out: int  # earlier messages the user left out
    divider: Divider | None = None
    overflow: str = ""  # the sentence the send would fail with, if it would
    summary_previewed: bool = False  # the summary is not written yet: its size is a guess
    typed: bool = True  # False: nothing typed yet, a one-character message stands in

    @property
    def share(self) -> float | None:
        """The share of the context window the request takes, when the window is known."""
        return self.tokens / self.context_window if self.context_window else None

    def line(self, allowance: str = "") -> str:
        """ "Next request: 1,234 tokens (exact, counted by …) · about $0.0031 · 62 % of the
        context window · 3 older messages will be trimmed"."""
        if self.overflow:
            return self.overflow
        exact = self.exact and not self.summary_previewed
        about = "" if exact else "about "
        kind = "exact" if exact else "estimate"
        start = "Next request" if self.typed else "Next request (with a one-word message)"
        parts = [f"{start}: {about}{self.tokens:,} tokens ({kind}, counted by {self.counted_by})"]
        if self.cost is not None:
            parts.append(f"about {format_money(self.cost).removeprefix('≈')}")
        if self.share is not None:
            parts.append(f"{self.share:.0%} of the context window".replace("%", " %"))
        if self.trimmed:
            parts.append(f"{_older(self.trimmed)} will be trimmed")
        if self.left_out:
            parts.append(f"{self.left_out} left out by you")
        if allowance:
            parts.append(allowance)
        return " · ".join(parts)


class PlanSummarizer:
    """The Context window page's ``PreviewSummarizer``, made for a keystroke: the same text
    (the model's summary of exactly these messages when one is given, else the messages as
    "User: …" lines), and ``last_source`` saying which.

    "Summarize older turns" asks about a longer list each time it gives up one more kept
    turn: the lines come from ``GrowingLines`` (each text grown from the one before, the same
    objects at the next keystroke), and the model's summaries are looked up only for lists
    as long as one of theirs.
    """

    def __init__(self, model_summaries: Mapping[tuple[Message, ...], str] | None = None) -> None:
        self.model_summaries = dict(model_summaries or {})
        self._lengths = {len(key) for key in self.model_summaries}
        self._lines = GrowingLines()
        self.last_source = "lines"

    def __call__(self, messages: Sequence[Message]) -> str:
        if len(messages) in self._lengths:
            summary = self.model_summaries.get(tuple(messages))
            if summary is not None:
                self.last_source = "model"
                return summary
        self.last_source = "lines"
        return self._lines(messages)


def _older(count: int) -> str:
    return "1 older message" if count == 1 else f"{count} older messages"


def plan_next_send(
    conversation: Conversation,
    draft: str,
    provider: Provider,
    trimming: TrimmingSettings,
    options: GenerationOptions | None = None,
    summaries: Mapping[tuple[Message, ...], str] | None = None,
) -> NextSend:
    """Measure the request that sending ``draft`` now would make (an empty draft is measured
    with a one-character message standing in, and says so)."""
    typed = bool(draft.strip())
    messages = context_messages(conversation, draft if typed else PLACEHOLDER_DRAFT)
    summarizer = PlanSummarizer(summaries)
    strategy = make_strategy(trimming, provider, summarizer=summarizer)
    tokenizer = provider.tokenizer()
    window = provider.context_window()
    try:
        trimmed = strategy.apply(messages)
    except ContextOverflow as error:
        counted = count_message_tokens(messages, provider.model, tokenizer=tokenizer)
        return NextSend(
            counted.total,
            counted.exact,
            counted.tokenizer,
            None,
            window,
            0,
            0,
            None,
            error.message,
            typed=typed,
        )
    # One question to a server that counts (the turn asks the same one, so it is cached then).
    total, exact = count_prompt(trimmed.messages, provider.model, tokenizer=tokenizer)
    offset = 1 if conversation.system_prompt else 0
    by_you = [d for d in trimmed.dropped if d.reason == LEFT_OUT_REASON]
    by_trimming = [d for d in trimmed.dropped if d.reason != LEFT_OUT_REASON and d.index >= offset]
    divider = None
    if by_trimming:
        reason = by_trimming[0].reason
        summary = trimmed.summary.content if trimmed.summary is not None else ""
        before = max(d.index for d in by_trimming) - offset + 1
        words = (
            f"Above this line: a summary stands in for older messages ({_budget_words(trimming)})"
            if summary
            else f"Above this line: not sent ({_budget_words(trimming) or reason})"
        )
        divider = Divider(before, words, summary)
    reserve = (options.max_output_tokens if options else None) or 0
    overflow = ""
    if window is not None and total + reserve > window:
        overflow = (
            f"Next request: {total:,} tokens plus {reserve:,} for the reply, more than "
            f"the context window of {window:,}: turn on or tighten Trimming in the sidebar."
        )
    models_key = provider_kind(provider.name).models_key
    cost = cost_of(provider.model, total, 0, models_key=models_key)
    return NextSend(
        total,
        exact,
        tokenizer.name,
        cost,
        window,
        len(by_trimming),
        len(by_you),
        divider,
        overflow,
        summary_previewed=trimmed.summary is not None and summarizer.last_source != "model",
        typed=typed,
    )


def _budget_words(trimming: TrimmingSettings) -> str:
    if trimming.strategy == "last_n":
        return "last turn" if trimming.last_n == 1 else f"last {trimming.last_n} turns"
    if trimming.strategy in ("token_budget", "summarize"):
        return f"token budget {trimming.max_tokens:,}"
    return ""
