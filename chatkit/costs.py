"""What a conversation cost, reply by reply and in total, as the providers billed it."""

from __future__ import annotations

from dataclasses import dataclass

from chatkit.conversation import Conversation, ReplyInfo
from chatkit.providers.factory import provider_kind


@dataclass(frozen=True)
class Totals:
    """Running totals over every reply of a conversation."""

    replies: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    request_bytes: int = 0
    estimated: bool = False
    with_usage: int = 0  # replies whose usage was reported (a stopped one has none)


def conversation_totals(conversation: Conversation) -> Totals:
    """Sum the billed usage and request bytes of every recorded reply."""
    replies = list(conversation.replies.values())
    return Totals(
        replies=len(replies),
        input_tokens=sum(r.input_tokens or 0 for r in replies),
        output_tokens=sum(r.output_tokens or 0 for r in replies),
        cached_input_tokens=sum(r.cached_input_tokens or 0 for r in replies),
        request_bytes=sum(r.request_bytes or 0 for r in replies),
        estimated=any(r.tokens_estimated for r in replies),
        with_usage=sum(1 for r in replies if r.input_tokens is not None),
    )


def format_bytes(count: int) -> str:
    """1234 -> '1.2 KB'; small counts stay in bytes."""
    if count < 1000:
        return f"{count} bytes"
    if count < 1_000_000:
        return f"{count / 1000:.1f} KB"
    return f"{count / 1_000_000:.1f} MB"


def reply_caption(info: ReplyInfo) -> str:
    """The small line under a reply: tokens in/out as billed, and the request's size."""
    parts: list[str] = []
    if info.input_tokens is not None:
        approx = "≈" if info.tokens_estimated else ""
        cached = f" ({info.cached_input_tokens:,} cached)" if info.cached_input_tokens else ""
        parts.append(
            f"{approx}{info.input_tokens:,} tokens in{cached} · {info.output_tokens or 0:,} out"
        )
    else:
        parts.append("no usage reported")
    if info.request_bytes is not None:
        parts.append(f"{format_bytes(info.request_bytes)} sent")
    mode = provider_kind(info.provider).mode_label(info.mode)
    parts.append(f"{info.provider} {info.model} · {mode}".strip())
    if info.stopped:
        parts.append("stopped")
    return " · ".join(p for p in parts if p)


def totals_caption(totals: Totals) -> str:
    """The running total for a conversation (replies without reported usage add no tokens)."""
    if not totals.replies:
        return "No replies yet."
    approx = "≈" if totals.estimated else ""
    replies = "1 reply" if totals.replies == 1 else f"{totals.replies} replies"
    if not totals.with_usage:
        return f"{replies} · no usage reported · {format_bytes(totals.request_bytes)} sent in all"
    return (
        f"{replies} · {approx}{totals.input_tokens:,} tokens in · "
        f"{totals.output_tokens:,} out · {format_bytes(totals.request_bytes)} sent in all"
    )
