"""What a conversation cost, reply by reply and in total: tokens as billed, bytes sent, and
money where the model's price is known (always an estimate, from ``chatkit.prices``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chatkit.conversation import Conversation
from chatkit.prices import cost_of, format_money
from chatkit.providers.registry import provider_kind
from chatkit.replies import ReplyInfo


@dataclass(frozen=True)
class Totals:
    """Running totals over replies and the calls made beside them: tokens as billed (summary
    calls included), bytes sent, and money where the model's price is known (``cost`` is None
    when none is)."""

    replies: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    request_bytes: int = 0
    estimated: bool = False
    with_usage: int = 0  # calls whose usage was reported (a stopped reply has none)
    summary_calls: int = 0  # made by "summarize older turns" for the replies
    extra_calls: int = 0  # made beside the turns (``Conversation.extra_calls``)
    cost: float | None = None
    unpriced: int = 0  # replies with usage but no known price

    @property
    def calls(self) -> int:
        """Every model call counted: the replies, their summary calls and the extra calls."""
        return self.replies + self.summary_calls + self.extra_calls


def reply_cost(info: ReplyInfo) -> float | None:
    """Dollars one reply cost (its summary calls included), or None when unknown."""
    if info.input_tokens is None and not info.summary_calls:
        return None
    return cost_of(
        info.model,
        (info.input_tokens or 0) + info.summary_input_tokens,
        (info.output_tokens or 0) + info.summary_output_tokens,
        info.cached_input_tokens or 0,
        models_key=provider_kind(info.provider).models_key,
    )


def totals_of(replies: Iterable[ReplyInfo], extra_calls: Iterable[ReplyInfo] = ()) -> Totals:
    """Sum the billed usage, bytes and money of ``replies`` and of ``extra_calls`` (calls
    made beside the turns, recorded like replies)."""
    extra = list(extra_calls)
    replies = [*replies, *extra]
    costs = [reply_cost(r) for r in replies if r.input_tokens is not None or r.summary_calls]
    known = [c for c in costs if c is not None]
    return Totals(
        replies=len(replies) - len(extra),
        input_tokens=sum((r.input_tokens or 0) + r.summary_input_tokens for r in replies),
        output_tokens=sum((r.output_tokens or 0) + r.summary_output_tokens for r in replies),
        cached_input_tokens=sum(r.cached_input_tokens or 0 for r in replies),
        request_bytes=sum((r.request_bytes or 0) + r.summary_request_bytes for r in replies),
        estimated=any(r.tokens_estimated for r in replies),
        with_usage=sum(1 for r in replies if r.input_tokens is not None),
        summary_calls=sum(r.summary_calls for r in replies),
        extra_calls=len(extra),
        cost=sum(known) if known else None,
        unpriced=len(costs) - len(known),
    )


def conversation_totals(conversation: Conversation, *, every_version: bool = False) -> Totals:
    """Totals for the branch on screen, or (``every_version``) for every attempt made in the
    conversation: the versions Regenerate and Edit kept count too. The calls made beside the
    turns (a summary the Summary page asked for) count in both."""
    replies = conversation.all_replies() if every_version else conversation.replies.values()
    return totals_of(replies, conversation.extra_calls)


def format_bytes(count: int) -> str:
    """1234 -> '1.2 KB'; small counts stay in bytes."""
    if count < 1000:
        return f"{count} bytes"
    if count < 1_000_000:
        return f"{count / 1000:.1f} KB"
    return f"{count / 1_000_000:.1f} MB"


def reply_caption(info: ReplyInfo) -> str:
    """The small line under a reply: tokens in/out as billed, its price where known, and the
    size of the request the client sent (and, chained locally, what the model received)."""
    parts: list[str] = []
    if info.input_tokens is not None:
        approx = "≈" if info.tokens_estimated else ""
        cached = f" ({info.cached_input_tokens:,} cached)" if info.cached_input_tokens else ""
        parts.append(
            f"{approx}{info.input_tokens:,} tokens in{cached} · {info.output_tokens or 0:,} out"
        )
    else:
        parts.append("no usage reported")
    if info.summary_calls:
        calls = "1 summary call" if info.summary_calls == 1 else f"{info.summary_calls} calls"
        used = info.summary_input_tokens + info.summary_output_tokens
        sent = info.summary_request_bytes
        size = f", {format_bytes(sent)} sent" if sent else ""
        parts.append(f"+ {calls} ({used:,} tokens{size})")
    cost = reply_cost(info)
    if cost is not None:
        parts.append(format_money(cost))
    if info.request_bytes is not None:
        sent = f"{format_bytes(info.request_bytes)} sent"
        if info.received_bytes is not None:
            sent += f" ({format_bytes(info.received_bytes)} reached the model)"
        parts.append(sent)
    mode = provider_kind(info.provider).mode_label(info.mode)
    parts.append(f"{info.provider} {info.model} · {mode}".strip())
    if info.stopped:
        parts.append("stopped")
    return " · ".join(p for p in parts if p)


def totals_caption(shown: Totals, every_version: Totals | None = None) -> str:
    """The running total for the branch on screen (replies without reported usage add no
    tokens), and for every version when there are others."""
    if not shown.calls:
        return "No replies yet."
    text = _totals_words(shown)
    if every_version is not None and every_version.replies > shown.replies:
        text += f" — every version: {_totals_words(every_version)}"
    return text


def _totals_words(totals: Totals) -> str:
    approx = "≈" if totals.estimated else ""
    replies = "1 reply" if totals.replies == 1 else f"{totals.replies} replies"
    if totals.calls > totals.replies:
        replies += f" · {totals.calls} calls"
    sent = f"{format_bytes(totals.request_bytes)} sent in all"
    if not totals.with_usage:
        return f"{replies} · no usage reported · {sent}"
    money = ""
    if totals.cost is not None:
        money = f" · {format_money(totals.cost)}"
        if totals.unpriced:
            money += f" (+{totals.unpriced} without a price)"
    return (
        f"{replies} · {approx}{totals.input_tokens:,} tokens in · "
        f"{totals.output_tokens:,} out{money} · {sent}"
    )
