"""Captured calls built by hand, in each API's request shape, for the checks' unit tests."""

from __future__ import annotations

from typing import Any

from chatkit.lessons import CapturedCall
from chatkit.replies import ReplyInfo
from chatkit.turn import TrimmingSettings

SYSTEM = "Be brief."


def msgs(*texts: str, system: str = SYSTEM) -> list[dict[str, str]]:
    """A system prompt, then ``texts`` as user and assistant turns in order."""
    head = [{"role": "system", "content": system}] if system else []
    roles = ("user", "assistant")
    return head + [{"role": roles[i % 2], "content": t} for i, t in enumerate(texts)]


def chat(
    conversation: str,
    messages: list[dict[str, str]],
    *,
    system: str = SYSTEM,
    trimming: TrimmingSettings | None = None,
    window: int | None = 8192,
    **reply: Any,
) -> CapturedCall:
    """A Chat Completions call whose request carried ``messages``."""
    info = ReplyInfo(
        provider="OpenAI",
        model="gpt-4o",
        mode=reply.pop("mode", "chat"),
        request_body={"model": "gpt-4o", "messages": messages, "stream": True},
        **reply,
    )
    return CapturedCall(conversation, info, system, trimming or TrimmingSettings(), window)


def responses(
    conversation: str,
    new: list[str],
    *,
    response_id: str,
    previous: str | None = None,
    instructions: str | None = SYSTEM,
    store: bool = True,
    system: str = SYSTEM,
) -> CapturedCall:
    """A Responses call that sent ``new`` as input (chained to ``previous`` if given)."""
    body: dict[str, Any] = {"model": "gpt-4.1"}
    if instructions:
        body["instructions"] = instructions
    body["input"] = [{"type": "message", "role": "user", "content": t} for t in new]
    if previous:
        body["previous_response_id"] = previous
    body["store"] = store
    info = ReplyInfo(
        provider="OpenAI",
        model="gpt-4.1",
        mode="responses",
        response_id=response_id,
        previous_response_id=previous,
        request_body=body,
    )
    return CapturedCall(conversation, info, system)


def anthropic(
    conversation: str, turns: list[dict[str, str]], *, system: str | None = SYSTEM
) -> CapturedCall:
    """A Messages call: ``system`` at the top (when given) and ``turns`` as its messages."""
    body: dict[str, Any] = {"model": "claude-haiku-4-5", "max_tokens": 1024}
    if system:
        body["system"] = system
    body["messages"] = turns
    info = ReplyInfo(provider="Local", model="x", mode="messages", request_body=body)
    return CapturedCall(conversation, info, system or "")
