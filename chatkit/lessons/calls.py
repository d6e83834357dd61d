"""What the lessons' checks read: each finished turn as the student's chat sent it.

A check never reads the model's answer, only the request and response records, so it holds
the same with the bundled 135M model as with a frontier model. ``sent_request`` is the body
the student's client handed over, and ``request_messages`` the conversation a body carries,
whichever API's words it uses (Chat Completions, Responses, Anthropic Messages).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatkit.messages import Message
from chatkit.providers.registry import provider_kind
from chatkit.replies import ReplyInfo
from chatkit.teaching.inspector import options_of
from chatkit.turn import TrimmingSettings


@dataclass(frozen=True)
class CapturedCall:
    """One finished turn as the student's chat sent it: what the checks read."""

    conversation_id: str
    reply: ReplyInfo
    system_prompt: str = ""
    trimming: TrimmingSettings = field(default_factory=TrimmingSettings)
    context_window: int | None = None


@dataclass(frozen=True)
class WireMessage:
    """One message of a request body, in the body's own order: a role and its text."""

    role: str
    content: str


def sent_request(call: CapturedCall) -> dict[str, Any]:
    """The body the client sent for ``call`` (empty when none was kept).

    A provider chained through chatkit's local response store records what the model
    received (the whole history rebuilt); the client itself sent a Responses request, rebuilt
    here with the provider's own Responses shape, as the request inspector shows it.
    """
    reply = call.reply
    body = reply.request_body or {}
    if reply.mode != "responses" or "input" in body or "messages" not in body:
        return dict(body)
    shape = provider_kind(reply.provider).request_shape("responses")
    messages = [_as_message(m) for m in request_messages(body)]
    return shape.request(messages, reply.model, options_of(body), reply.previous_response_id)


def request_messages(body: Mapping[str, Any]) -> list[WireMessage]:
    """The conversation a request body carries, instructions first: Chat Completions'
    ``messages``, Responses' ``instructions`` and ``input``, Anthropic's ``system`` and
    ``messages``."""
    found: list[WireMessage] = []
    for key in ("instructions", "system"):
        if isinstance(body.get(key), str) and body[key]:
            found.append(WireMessage("system", body[key]))
    items = body.get("messages", body.get("input", []))
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("role"), str):
            found.append(WireMessage(item["role"], _text(item.get("content"))))
    return found


def turns_of(body: Mapping[str, Any]) -> list[WireMessage]:
    """The body's messages after its instructions: the turns it carries."""
    return [m for m in request_messages(body) if m.role not in ("system", "developer")]


def user_texts(body: Mapping[str, Any]) -> list[str]:
    """The user messages a body carries, in order."""
    return [m.content for m in request_messages(body) if m.role == "user"]


def same_conversation(calls: Sequence[CapturedCall], call: CapturedCall) -> list[CapturedCall]:
    """The calls of ``call``'s conversation in ``calls`` before it, oldest first."""
    earlier = list(calls[: _position(calls, call)])
    return [c for c in earlier if c.conversation_id == call.conversation_id]


def _position(calls: Sequence[CapturedCall], call: CapturedCall) -> int:
    for index in range(len(calls) - 1, -1, -1):
        if calls[index] is call:
            return index
    return len(calls)


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return ""


def _as_message(message: WireMessage) -> Message:
    role = message.role if message.role in ("system", "developer", "assistant") else "user"
    return Message(role, message.content)
