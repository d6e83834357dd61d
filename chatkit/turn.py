"""One turn of a chat, start to finish: trim, send, stream, record.

The app, the teaching pages and the classic API all take a turn the same way:
``prepare_turn`` decides what to send (the trimmed history, and the response to chain from),
the provider streams the reply, and ``finish_turn`` returns a new conversation with the reply
and what it cost. A failed or stopped call leaves the original conversation untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from chatkit.conversation import Conversation, split_turns
from chatkit.errors import ContextOverflow, EmptyMessage
from chatkit.messages import Message
from chatkit.providers.base import GenerationOptions, Provider
from chatkit.providers.calls import CallResult, request_size
from chatkit.providers.registry import provider_kind
from chatkit.replies import ReplyInfo
from chatkit.summary import summarize_call
from chatkit.tokens import count_prompt
from chatkit.trimming import (
    LEFT_OUT_REASON,
    KeepAll,
    LastNTurns,
    SummarizeOlder,
    TokenBudget,
    TrimmingStrategy,
    TrimResult,
)

StrategyName = Literal["none", "last_n", "token_budget", "summarize"]
TRIMMING_LABELS: dict[str, str] = {
    "none": "None",
    "last_n": "Last N turns",
    "token_budget": "Token budget",
    "summarize": "Summarize older turns",
}
DEFAULT_MAX_INPUT_CHARS = 100_000


@dataclass(frozen=True)
class TrimmingSettings:
    """The sidebar's trimming choice and its parameter."""

    strategy: StrategyName = "none"
    last_n: int = 10
    max_tokens: int = 4000


class ModelSummarizer:
    """Summaries written by the model, by the exact messages summarized, so that later turns
    do not ask again; every call the model really makes is reported to ``on_call``."""

    def __init__(
        self,
        provider: Provider,
        cache: dict[tuple[Message, ...], str] | None = None,
        on_call: Callable[[CallResult], None] | None = None,
    ) -> None:
        self._provider = provider
        self._cache = {} if cache is None else cache
        self._on_call = on_call

    def __call__(self, messages: Sequence[Message]) -> str:
        key = tuple(messages)
        if key not in self._cache:
            result = summarize_call(list(messages), self._provider)
            if self._on_call is not None:
                self._on_call(result)
            self._cache[key] = result.text.strip()
        return self._cache[key]


def make_strategy(
    settings: TrimmingSettings,
    provider: Provider,
    summarizer: Callable[[Sequence[Message]], str] | None = None,
    *,
    cache: dict[tuple[Message, ...], str] | None = None,
    on_call: Callable[[CallResult], None] | None = None,
) -> TrimmingStrategy:
    """The trimming strategy for the settings, counting with the provider's tokenizer.

    "Summarize older turns" asks the provider for its summaries (remembered in ``cache``,
    each call reported to ``on_call``) unless given another ``summarizer``.
    """
    tokenizer = provider.tokenizer()
    if settings.strategy == "last_n":
        return LastNTurns(settings.last_n)
    if settings.strategy == "token_budget":
        return TokenBudget(settings.max_tokens, model=provider.model, tokenizer=tokenizer)
    if settings.strategy == "summarize":
        summarize = summarizer or ModelSummarizer(provider, cache, on_call)
        return SummarizeOlder(
            settings.max_tokens, summarize, model=provider.model, tokenizer=tokenizer
        )
    return KeepAll()


@dataclass(frozen=True)
class PreparedTurn:
    """What is about to be sent for one turn."""

    conversation: Conversation  # a copy, with the new user message
    messages: list[Message]  # what goes to the provider (system prompt first, trimmed)
    trim: TrimResult
    previous_response_id: str | None
    prompt_tokens: int
    note: str = ""
    summary_calls: tuple[CallResult, ...] = ()  # what a summarizing strategy asked the model
    options: GenerationOptions | None = None
    chained_locally: bool = False  # Responses mode through chatkit's local response store
    unseen: tuple[int, ...] = ()  # earlier messages the model will not see (``ReplyInfo``)


def chained_reply(conversation: Conversation, provider: Provider) -> tuple[int, ReplyInfo] | None:
    """The last reply and its record, if this provider made it as a Response to continue."""
    if provider.mode != "responses":
        return None
    for position in range(len(conversation.messages) - 1, -1, -1):
        if conversation.messages[position].role == "assistant":
            info = conversation.replies.get(position)
            if (
                info is not None
                and info.mode == "responses"
                and info.provider == provider.name
                and info.model == provider.model
                and info.response_id
                and not info.stopped
            ):
                return position, info
            return None
    return None


def chain_from(conversation: Conversation, provider: Provider) -> str | None:
    """The response id to continue from: the last reply, if this provider made it as a Response."""
    found = chained_reply(conversation, provider)
    return found[1].response_id if found else None


def _chain_plan(
    draft: Conversation, provider: Provider, trimmed: TrimResult
) -> tuple[str | None, tuple[int, ...], str]:
    """Whether this turn continues the stored chain: the response id to continue from (or
    None), the messages the model will not see, and a note when the chain had to restart.

    A stored chain holds every message it was given and can forget none, so a turn continues
    it only if exactly the messages the chain lacks are the ones this turn would leave unsent.
    """
    offset = 1 if draft.system_prompt else 0
    unsent = {d.index - offset for d in trimmed.dropped if d.index >= offset}
    left_out = {d.index - offset for d in trimmed.dropped if d.reason == LEFT_OUT_REASON}
    found = chained_reply(draft, provider)
    if found is None:
        return None, tuple(sorted(unsent)), ""
    position, info = found
    before = {p for p in unsent if p < position}
    lacks = set(info.unseen)
    if before == lacks:
        after = {p for p in unsent if p > position}
        return info.response_id, tuple(sorted(lacks | after)), ""
    if (before - lacks) & left_out:
        note = (
            "You left out a message the stored chain holds, so this turn sent the history "
            "without it and started a new chain (a server-side chain cannot forget)."
        )
    elif lacks - before:
        note = (
            "The stored chain lacks a message this turn sends (pinned or put back), so this "
            "turn sent the history with it and started a new chain."
        )
    else:
        note = (
            f"Trimming dropped {len(unsent)} messages, so this turn sent the trimmed "
            f"history and started a new chain (a server-side chain cannot forget)."
        )
    return None, tuple(sorted(unsent)), note


def prepare_turn(
    conversation: Conversation,
    user_text: str | None,
    provider: Provider,
    strategy: TrimmingStrategy | None = None,
    options: GenerationOptions | None = None,
    *,
    max_input_chars: int = DEFAULT_MAX_INPUT_CHARS,
) -> PreparedTurn:
    """Decide what to send. ``user_text=None`` resends the conversation as it is (regenerate).

    Raises ``EmptyMessage`` for blank input and ``ContextOverflow`` when the prompt cannot
    fit the model's context window (with advice to turn on or tighten trimming).
    """
    draft = conversation.copy()
    if user_text is not None:
        if len(user_text) > max_input_chars:
            raise ContextOverflow(
                f"The message has {len(user_text):,} characters, more than the {max_input_chars:,} "
                f"this app sends at once: shorten it or split it into parts.",
                over_by=len(user_text) - max_input_chars,
            )
        draft.add_user(user_text)
    elif draft.last_user_text is None:
        raise EmptyMessage("There is no message to send yet: type one first.")
    strategy = strategy or KeepAll()
    trimmed = strategy.apply(draft.to_messages())
    to_send = trimmed.messages
    tokenizer = provider.tokenizer()
    prompt_tokens, exact = count_prompt(to_send, provider.model, tokenizer=tokenizer)
    window = provider.context_window()
    reserve = (options.max_output_tokens if options and options.max_output_tokens else 0) or 0
    if window is not None and prompt_tokens + reserve > window:
        over_by = prompt_tokens + reserve - window
        about = "" if exact else "about "
        advice = (
            "choose a smaller budget in Trimming"
            if not isinstance(strategy, KeepAll)
            else "turn on Trimming in the sidebar (token budget or summarize older turns)"
        )
        raise ContextOverflow(
            f"This conversation needs {about}{prompt_tokens:,} tokens plus {reserve:,} for "
            f"the reply, "
            f"{over_by:,} more than {provider.model or provider.name}'s context window of "
            f"{window:,}: {advice}, or start a new conversation.",
            over_by=over_by,
        )
    previous, unseen, note = _chain_plan(draft, provider, trimmed)
    locally = provider.chains_locally
    return PreparedTurn(
        draft,
        to_send,
        trimmed,
        previous,
        prompt_tokens,
        note,
        options=options,
        chained_locally=locally,
        unseen=unseen,
    )


def reply_info(
    result: CallResult,
    *,
    note: str = "",
    stopped: bool = False,
    prepared: PreparedTurn | None = None,
) -> ReplyInfo:
    """The record kept with an assistant message (what trimming did, from ``prepared``)."""
    usage = result.usage
    sent, received = result.request_bytes, result.received_bytes
    if prepared is not None and prepared.chained_locally and received is None:
        sent, received = client_request_bytes(prepared, result)
    return ReplyInfo(
        provider=result.provider,
        model=result.model,
        mode=result.mode,
        input_tokens=usage.input_tokens if usage else None,
        output_tokens=usage.output_tokens if usage else None,
        cached_input_tokens=usage.cached_input_tokens if usage else None,
        tokens_estimated=usage.estimated if usage else False,
        request_bytes=sent,
        received_bytes=received,
        response_id=result.response_id,
        previous_response_id=result.previous_response_id,
        stopped=stopped or result.stopped,
        note=" ".join(part for part in (note, result.note) if part),
        request_body=result.request_body,
        response_body=result.response_body,
        **(trim_record(prepared) if prepared is not None else {}),
    )


def client_request_bytes(prepared: PreparedTurn, result: CallResult) -> tuple[int, int | None]:
    """``(sent, received)`` bytes of a Responses-mode turn. A provider chained through
    chatkit's local response store was handed a Responses request (the new input and
    ``previous_response_id``) but the model received the whole history: both are kept, so
    every page counts "bytes sent" the same way, as what the client sent."""
    received = result.request_bytes
    if not prepared.previous_response_id:
        return received, None
    handed = (
        provider_kind(result.provider)
        .request_shape("responses")
        .request(prepared.messages, result.model, prepared.options, prepared.previous_response_id)
    )
    sent = request_size(handed)
    return (sent, received) if sent != received else (received, None)


def trim_record(prepared: PreparedTurn) -> dict[str, Any]:
    """What trimming did for a turn and what its summary calls cost, as ``ReplyInfo`` fields."""
    record: dict[str, Any] = {"unseen": prepared.unseen} if prepared.unseen else {}
    calls = prepared.summary_calls
    if calls:
        record["summary_calls"] = len(calls)
        record["summary_input_tokens"] = sum(c.usage.input_tokens for c in calls if c.usage)
        record["summary_output_tokens"] = sum(c.usage.output_tokens for c in calls if c.usage)
        record["summary_request_bytes"] = sum(c.request_bytes for c in calls)
    dropped = prepared.trim.dropped
    if not dropped:
        return record
    offset = 1 if prepared.conversation.system_prompt else 0
    by_you = [d.index - offset for d in dropped if d.reason == LEFT_OUT_REASON]
    trimmed = [d for d in dropped if d.index >= offset and d.reason != LEFT_OUT_REASON]
    positions = [d.index - offset for d in trimmed]
    sentences = []
    if positions:
        turns = split_turns(prepared.conversation.messages).turn_numbers()
        numbers = sorted({turns[p] for p in positions if p < len(turns) and turns[p]})
        span = f"turn {numbers[0]}" if len(numbers) == 1 else f"turns {numbers[0]}–{numbers[-1]}"
        summary = prepared.trim.summary
        sentences.append(
            f"Trimming left out {_messages(len(positions))} ({span}): {trimmed[0].reason}"
            + ("; a summary stood in for them." if summary is not None else ".")
        )
        record["kept_from"] = max(positions) + 1
        if summary is not None:
            record["summary"] = summary.content
    if by_you:
        sentences.append(f"You left out {_messages(len(by_you))}: not sent.")
    if sentences:
        record["trimmed"] = " ".join(sentences)
    return record


def _messages(count: int) -> str:
    return f"{count} earlier message" + ("" if count == 1 else "s")


def finish_turn(prepared: PreparedTurn, result: CallResult) -> Conversation:
    """The conversation after the turn: the prepared copy plus the reply and its record."""
    conversation = prepared.conversation.copy()
    conversation.add_assistant(
        result.text, reply_info(result, note=prepared.note, prepared=prepared)
    )
    return conversation


def finish_stopped(
    prepared: PreparedTurn,
    provider: Provider,
    partial_text: str,
    options: GenerationOptions | None = None,
) -> Conversation:
    """The conversation after a reply stopped early: what arrived, marked as stopped."""
    body = provider.build_request(
        prepared.messages, options or GenerationOptions(), prepared.previous_response_id
    )
    conversation = prepared.conversation.copy()
    conversation.add_assistant(
        partial_text,
        ReplyInfo(
            provider=provider.name,
            model=provider.model,
            mode=provider.mode,
            request_bytes=request_size(body),
            previous_response_id=prepared.previous_response_id,
            stopped=True,
            note="Stopped before the reply finished; no usage was reported.",
            request_body=body,
            **trim_record(prepared),
        ),
    )
    return conversation


def send(
    conversation: Conversation,
    user_text: str | None,
    provider: Provider,
    strategy: TrimmingStrategy | None = None,
    options: GenerationOptions | None = None,
) -> tuple[Conversation, CallResult]:
    """One whole turn without streaming: the new conversation and the call's result."""
    prepared = prepare_turn(conversation, user_text, provider, strategy, options)
    result = provider.complete(prepared.messages, options, prepared.previous_response_id)
    return finish_turn(prepared, result), result
