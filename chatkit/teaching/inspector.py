"""The request inspector's figures: what one turn really sent, and what the other APIs would have.

Every assistant reply keeps the exact request and response bodies in memory
(``ReplyInfo.request_body``). After a reload only the usage survives, so the request is
rebuilt here with the same pure functions the providers use, and labelled as rebuilt. Beside
it, the same turn is shaped for each API the providers speak (a full message array, a
``previous_response_id`` plus the new input, Anthropic's top-level ``system`` plus messages)
with their sizes in bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatkit.conversation import Conversation, ReplyInfo
from chatkit.messages import Message, clip
from chatkit.providers.base import ApiShape, GenerationOptions
from chatkit.providers.calls import request_size
from chatkit.providers.registry import api_shapes, provider_kind

PLACEHOLDER_RESPONSE_ID = "resp_PREVIOUS_REPLY"
LABEL_CHARS = 60
MARK_CHARS = 40


@dataclass(frozen=True)
class TurnChoice:
    """One assistant reply the inspector can show."""

    assistant_index: int  # position of the reply in ``conversation.messages``
    number: int  # 1-based turn number
    label: str


def turn_choices(conversation: Conversation) -> list[TurnChoice]:
    """Every answered turn, newest last, labelled with its number and the user's words."""
    return [
        TurnChoice(
            turn.assistant_index,
            turn.index + 1,
            f"Turn {turn.index + 1}: {clip(turn.user.content, LABEL_CHARS)}"
            if turn.user is not None and turn.user.content
            else f"Turn {turn.index + 1}",
        )
        for turn in conversation.turns
        if turn.assistant_index is not None
    ]


def unseen_positions(conversation: Conversation, assistant_index: int) -> set[int]:
    """The earlier messages the model did not see for the reply at ``assistant_index``, as
    saved with it (``ReplyInfo.unseen``; a record older than that has only ``kept_from``)."""
    info = conversation.replies.get(assistant_index)
    if info is None:
        return set()
    if info.unseen:
        return set(info.unseen)
    return set(range(info.kept_from or 0))


def messages_for_turn(conversation: Conversation, assistant_index: int) -> list[Message]:
    """What the turn sent: the system prompt and the messages before the reply that trimming
    kept and the user did not leave out (after the summary that stood in for the others, if
    one did)."""
    if not 0 <= assistant_index < len(conversation.messages):
        raise IndexError(f"There is no message {assistant_index} in this conversation.")
    head = [Message("system", conversation.system_prompt)] if conversation.system_prompt else []
    info = conversation.replies.get(assistant_index)
    if info is not None and info.summary:
        head.append(Message("system", info.summary))
    unseen = unseen_positions(conversation, assistant_index)
    earlier = conversation.messages[:assistant_index]
    return head + [m for p, m in enumerate(earlier) if p not in unseen]


@dataclass(frozen=True)
class InContextMarks:
    """Which earlier messages of one turn the user pinned or left out, read from what was
    saved with the turn (``ReplyInfo.unseen``) and each message's ``in_context`` now.

    Positions are in ``conversation.messages``. ``pinned`` were pinned and in the request;
    ``left_out`` were left out and not in it. A choice made after the turn does not match
    its request: ``pinned_since`` are pinned now but were not sent, ``left_out_since`` are
    left out now but were sent.
    """

    messages: tuple[Message, ...]
    pinned: tuple[int, ...] = ()
    left_out: tuple[int, ...] = ()
    pinned_since: tuple[int, ...] = ()
    left_out_since: tuple[int, ...] = ()

    def _named(self, positions: tuple[int, ...]) -> str:
        return ", ".join(
            f"message {p + 1} (“{clip(self.messages[p].content, MARK_CHARS)}”)" for p in positions
        )

    @property
    def caption(self) -> str:
        """One line for the page, "" when the user pinned and left out nothing."""
        parts = []
        if self.pinned:
            parts.append(f"Pinned: {self._named(self.pinned)}")
        if self.left_out:
            parts.append(f"Left out: {self._named(self.left_out)} (not in this request)")
        if self.pinned_since:
            parts.append(
                f"Pinned since this turn: {self._named(self.pinned_since)} "
                f"(not in this request, which came first)"
            )
        if self.left_out_since:
            parts.append(
                f"Left out since this turn: {self._named(self.left_out_since)} "
                f"(still in this request, which came first)"
            )
        return " · ".join(parts)


def in_context_marks(conversation: Conversation, assistant_index: int) -> InContextMarks:
    """What the user pinned and left out among the messages before the reply at
    ``assistant_index``, and whether the turn's request carried them."""
    unseen = unseen_positions(conversation, assistant_index)
    earlier = list(enumerate(conversation.messages[:assistant_index]))
    return InContextMarks(
        tuple(conversation.messages),
        pinned=tuple(p for p, m in earlier if m.pinned and p not in unseen),
        left_out=tuple(p for p, m in earlier if m.left_out and p in unseen),
        pinned_since=tuple(p for p, m in earlier if m.pinned and p in unseen),
        left_out_since=tuple(p for p, m in earlier if m.left_out and p not in unseen),
    )


def shape_of(
    info: ReplyInfo | None, fallback_provider: str = "", fallback_mode: str = "chat"
) -> ApiShape:
    """Which request shape a reply's client sent (as its provider declares).

    Responses mode is the Responses shape for every provider (providers without server-side
    state chain through chatkit's local store); otherwise each sends its own chat shape.
    """
    provider = info.provider if info and info.provider else fallback_provider
    mode = info.mode if info and info.mode else fallback_mode
    return provider_kind(provider).request_shape(mode)


def options_of(body: dict[str, Any]) -> GenerationOptions:
    """The generation options a request body carried, whichever API's words it uses."""
    limit = next(
        (
            body[key]
            for key in ("max_completion_tokens", "max_output_tokens", "max_tokens")
            if isinstance(body.get(key), int)
        ),
        None,
    )
    return GenerationOptions(
        max_output_tokens=limit, temperature=body.get("temperature"), seed=body.get("seed")
    )


@dataclass(frozen=True)
class ShapedRequest:
    """The same turn as one API would receive it."""

    shape: ApiShape
    body: dict[str, Any]
    size: int
    is_actual: bool
    note: str = ""

    @property
    def title(self) -> str:
        return self.shape.title


def previous_reply_id(conversation: Conversation, assistant_index: int) -> str | None:
    """The Responses id of the reply before this one, when that reply was made as a Response
    (a Chat Completions or Messages id cannot be chained from)."""
    for position in range(assistant_index - 1, -1, -1):
        if conversation.messages[position].role == "assistant":
            info = conversation.replies.get(position)
            if info is not None and info.mode == "responses" and info.response_id:
                return info.response_id
            return None
    return None


def has_earlier_reply(conversation: Conversation, assistant_index: int) -> bool:
    return any(m.role == "assistant" for m in conversation.messages[:assistant_index])


def same_turn_in_every_shape(
    conversation: Conversation,
    assistant_index: int,
    model: str,
    options: GenerationOptions | None = None,
    actual_shape: ApiShape | None = None,
) -> list[ShapedRequest]:
    """The turn as each API the providers speak would get it, with its size in bytes.

    All use the same model name, so the sizes differ only by shape. The Responses body
    chains from the previous reply's response id (a placeholder when it had none); the first
    turn has nothing to chain from and sends its whole input.
    """
    messages = messages_for_turn(conversation, assistant_index)
    info = conversation.replies.get(assistant_index)
    previous: str | None = None
    note = ""
    if has_earlier_reply(conversation, assistant_index):
        previous = (info.previous_response_id if info else None) or previous_reply_id(
            conversation, assistant_index
        )
        if previous is None:
            previous = PLACEHOLDER_RESPONSE_ID
            note = "The previous reply has no response id; a placeholder stands in for it."
    else:
        note = "The first turn has nothing to chain from, so it sends its whole input."
    shaped: list[ShapedRequest] = []
    for shape in api_shapes():
        body = shape.request(messages, model, options, previous)
        shaped.append(
            ShapedRequest(
                shape=shape,
                body=body,
                size=request_size(body),
                is_actual=shape == actual_shape,
                note=note if shape.chains else "",
            )
        )
    return shaped


@dataclass(frozen=True)
class TurnInspection:
    """One turn: its exact request (or a rebuilt one), response, usage and size."""

    number: int
    user_text: str
    reply_text: str
    info: ReplyInfo | None
    shape: ApiShape
    request_body: dict[str, Any]
    rebuilt: bool
    request_bytes: int
    response_body: dict[str, Any] | None
    shapes: tuple[ShapedRequest, ...]
    notes: tuple[str, ...] = ()
    # Chained through chatkit's local response store: what the model itself received.
    received_body: dict[str, Any] | None = None
    received_bytes: int | None = None
    in_context: InContextMarks | None = None  # what the user pinned and left out

    @property
    def request_label(self) -> str:
        """Says whether the body is what was sent or a reconstruction."""
        return "rebuilt" if self.rebuilt else "exactly as sent"

    def usage_rows(self) -> list[dict[str, Any]]:
        """Usage as the provider reported it, one row per figure."""
        info = self.info
        if info is None or info.input_tokens is None:
            return []
        counted = "counted by chatkit (estimate)" if info.tokens_estimated else "reported"
        rows = [
            {"figure": "Input tokens", "value": info.input_tokens, "source": counted},
            {"figure": "Output tokens", "value": info.output_tokens or 0, "source": counted},
        ]
        if info.cached_input_tokens:
            rows.append(
                {
                    "figure": "Cached input tokens",
                    "value": info.cached_input_tokens,
                    "source": counted,
                }
            )
        return rows


def inspect_turn(
    conversation: Conversation,
    assistant_index: int,
    *,
    options: GenerationOptions | None = None,
    fallback_provider: str = "",
    fallback_mode: str = "chat",
    fallback_model: str = "",
) -> TurnInspection:
    """Everything the inspector shows for the reply at ``assistant_index``.

    ``options`` and the fallbacks (the sidebar's current choice) are used only for a request
    that was not kept; a kept one lends its own options to the other APIs' shapes.
    """
    messages = messages_for_turn(conversation, assistant_index)
    info = conversation.replies.get(assistant_index)
    shape = shape_of(info, fallback_provider, fallback_mode)
    model = (info.model if info and info.model else "") or fallback_model
    notes: list[str] = []
    received_body: dict[str, Any] | None = None
    received_bytes: int | None = None
    if info is not None and info.trimmed:
        notes.append(info.trimmed)
    if info is not None and info.summary_calls:
        notes.append(
            f"Before this turn, the trimming strategy asked the model for a summary "
            f"({info.summary_calls} call(s), {info.summary_input_tokens:,} tokens in and "
            f"{info.summary_output_tokens:,} out): counted in the totals."
        )
    if info is not None and info.request_body is not None:
        body, rebuilt = info.request_body, False
        options = options_of(body)
        size = info.request_bytes if info.request_bytes is not None else request_size(body)
        if info.received_bytes is not None:
            # The client handed the local store a Responses request; the model got the rest.
            received_body, received_bytes = body, info.received_bytes
            responses = provider_kind(info.provider).request_shape("responses")
            body = responses.request(messages, model, options, info.previous_response_id)
            notes.append(
                f"{info.provider} has no server-side chain: the client sent this Responses "
                f"request ({size:,} bytes) to chatkit's local response store, which rebuilt the "
                f"history; the model itself received {received_bytes:,} bytes (below)."
            )
    else:
        previous = info.previous_response_id if info else None
        body = shape.request(messages, model, options, previous)
        rebuilt, size = True, request_size(body)
        notes.append(
            "The exact request was not kept (it lives only in memory, so a reload forgets it): "
            "rebuilt from the conversation as it is now (with what trimming kept at the time), "
            "and the current generation settings."
        )
        if info is not None and provider_kind(info.provider).capabilities.loads_in_process:
            notes.append(
                "The local model's own record also holds the prompt its chat template made; "
                "the rebuilt body shows only the messages."
            )
    if info is not None and info.note:
        notes.append(info.note)
    user_text = next((m.content for m in reversed(messages) if m.role == "user"), "")
    number = next(
        (c.number for c in turn_choices(conversation) if c.assistant_index == assistant_index), 0
    )
    return TurnInspection(
        number=number,
        user_text=user_text,
        reply_text=conversation.messages[assistant_index].content,
        info=info,
        shape=shape,
        request_body=body,
        rebuilt=rebuilt,
        request_bytes=size,
        response_body=info.response_body if info else None,
        shapes=tuple(
            same_turn_in_every_shape(conversation, assistant_index, model, options, shape)
        ),
        notes=tuple(notes),
        received_body=received_body,
        received_bytes=received_bytes,
        in_context=in_context_marks(conversation, assistant_index),
    )
