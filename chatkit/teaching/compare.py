"""One scripted conversation run three ways: stateless, manual history, Responses chaining.

* **Stateless**: every call sends the system prompt and that one message, nothing else, so the
  model forgets everything said before.
* **Manual history**: the Chat Completions way: the client resends the whole message array.
* **Chaining**: the Responses way: the client sends only the new input and
  ``previous_response_id``; the server (or chatkit's local response store) supplies the rest.

For every call the run records the bytes the client sent and the input tokens billed. The
figures show what tutorials often get wrong: chaining sends fewer bytes, but the prior turns
are still billed as input tokens on every call.

The manual and chained ways trim as a chat turn does (``prepare_turn`` with the chat's
strategy), and honour the user's choice for each turn of the script: a pinned turn is sent on
every later call whatever trimming drops, and a turn left out is asked at its own call, then
never sent again (the chained way starts a new chain without it, as the chat does).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from chatkit.conversation import Conversation, split_turns
from chatkit.messages import InContext, Message
from chatkit.prices import cost_of
from chatkit.providers.base import GenerationOptions, Provider
from chatkit.providers.calls import CallResult, request_size
from chatkit.providers.registry import provider_kind
from chatkit.tokens import count_message_tokens
from chatkit.turn import (
    TRIMMING_LABELS,
    PreparedTurn,
    TrimmingSettings,
    finish_turn,
    make_strategy,
    prepare_turn,
)

STATELESS = "stateless"
MANUAL = "manual"
CHAINED = "chained"
WAYS: tuple[str, ...] = (STATELESS, MANUAL, CHAINED)
WAY_LABELS: dict[str, str] = {
    STATELESS: "Stateless single turns",
    MANUAL: "Manual message array",
    CHAINED: "Responses chaining",
}
WAY_SHORT_LABELS: dict[str, str] = {
    STATELESS: "Stateless",
    MANUAL: "Manual history",
    CHAINED: "Chaining",
}
WAY_EXPLANATIONS: dict[str, str] = {
    STATELESS: "Each call sends only the system prompt and that one message.",
    MANUAL: "Each call resends the whole conversation (Chat Completions).",
    CHAINED: "Each call sends the new message and previous_response_id (Responses).",
}
DEFAULT_SCRIPT = (
    "My name is Alice.",
    "What is my name?",
    "My favorite color is blue.",
    "What's my favorite color?",
    "What is my name?",
)


def trimming_words(trimming: TrimmingSettings) -> str:
    """The trimming choice in words: "Last N turns (2)", "Token budget (4,000 tokens)"."""
    label = TRIMMING_LABELS[trimming.strategy]
    if trimming.strategy == "last_n":
        return f"{label} ({trimming.last_n})"
    if trimming.strategy in ("token_budget", "summarize"):
        return f"{label} ({trimming.max_tokens:,} tokens)"
    return "none"


def script_lines(text: str) -> list[str]:
    """The user messages of a script: one per non-blank line, trimmed."""
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class Call:
    """One call of one way: the exchange and what it cost."""

    turn: int  # 1-based
    way: str
    user: str
    reply: str
    request_bytes: int
    input_tokens: int
    output_tokens: int
    tokens_estimated: bool = False
    model_received_bytes: int | None = None  # locally chained: the body the model really got
    response_id: str | None = None
    note: str = ""
    seen_turns: tuple[int, ...] = ()  # the earlier turns of the script the model saw
    summary_calls: int = 0  # what a summarizing strategy asked the model before this call
    summary_input_tokens: int = 0
    summary_output_tokens: int = 0


@dataclass(frozen=True)
class ComparisonResult:
    """Every call made so far, in order, and how the chained bytes were measured."""

    script: tuple[str, ...]
    calls: tuple[Call, ...] = ()
    chained_locally: bool = False
    provider: str = ""
    model: str = ""

    def calls_of(self, way: str) -> list[Call]:
        return [call for call in self.calls if call.way == way]

    def transcript(self, way: str) -> list[Message]:
        """The conversation as that way saw it: each user line and its reply."""
        messages: list[Message] = []
        for call in self.calls_of(way):
            messages += [Message("user", call.user), Message("assistant", call.reply)]
        return messages

    def total_bytes(self, way: str) -> int:
        return sum(call.request_bytes for call in self.calls_of(way))

    def total_input_tokens(self, way: str) -> int:
        """Input tokens of the way's calls, its summary calls included."""
        return sum(call.input_tokens + call.summary_input_tokens for call in self.calls_of(way))

    def total_cost(self, way: str) -> float | None:
        """Dollars the way's calls (and their summary calls) cost at the model's listed price
        (None if not listed)."""
        models_key = provider_kind(self.provider).models_key
        costs = [
            cost_of(
                self.model,
                call.input_tokens + call.summary_input_tokens,
                call.output_tokens + call.summary_output_tokens,
                models_key=models_key,
            )
            for call in self.calls_of(way)
        ]
        return None if not costs or None in costs else sum(c for c in costs if c is not None)

    @property
    def finished(self) -> bool:
        return len(self.calls) == len(self.script) * len(WAYS)

    def chart_rows(self) -> list[dict[str, object]]:
        """One row per call for the per-turn charts (ways by their short names)."""
        return [
            {
                "turn": call.turn,
                "way": WAY_SHORT_LABELS[call.way],
                "bytes sent": call.request_bytes,
                "input tokens": call.input_tokens,
                "estimated": call.tokens_estimated,
            }
            for call in self.calls
        ]


@dataclass(frozen=True)
class Progress:
    """Where a run stands: after ``done`` of ``total`` calls, the latest one and the result."""

    done: int
    total: int
    latest: Call
    result: ComparisonResult = field(repr=False)

    @property
    def text(self) -> str:
        return (
            f"Turn {self.latest.turn} of {len(self.result.script)}: "
            f"{WAY_LABELS[self.latest.way].lower()} done ({self.done}/{self.total} calls)"
        )


def _call(
    turn: int,
    way: str,
    line: str,
    answer: CallResult,
    prepared: PreparedTurn,
    provider: Provider,
    *,
    request_bytes: int | None = None,
    model_received_bytes: int | None = None,
) -> Call:
    """The record of one call; input tokens as billed, or counted locally (and marked) when
    the provider reported none."""
    sent = prepared.messages
    if answer.usage is not None:
        tokens, output, estimated = (
            answer.usage.input_tokens,
            answer.usage.output_tokens,
            answer.usage.estimated,
        )
    else:
        counted = count_message_tokens(sent, provider.model, tokenizer=provider.tokenizer())
        tokens, output, estimated = counted.total, 0, True
    return Call(
        turn=turn,
        way=way,
        user=line,
        reply=answer.text,
        request_bytes=answer.request_bytes if request_bytes is None else request_bytes,
        input_tokens=tokens,
        output_tokens=output,
        tokens_estimated=estimated,
        model_received_bytes=model_received_bytes,
        response_id=answer.response_id,
        note=" ".join(part for part in (prepared.note, answer.note) if part),
        seen_turns=_seen_turns(prepared),
        summary_calls=len(prepared.summary_calls),
        summary_input_tokens=sum(c.usage.input_tokens for c in prepared.summary_calls if c.usage),
        summary_output_tokens=sum(c.usage.output_tokens for c in prepared.summary_calls if c.usage),
    )


def _seen_turns(prepared: PreparedTurn) -> tuple[int, ...]:
    """The earlier turns whose question the model saw (sent, or held by the stored chain)."""
    messages = prepared.conversation.messages
    layout = split_turns(messages)
    unseen = set(prepared.unseen)
    return tuple(
        number
        for number, turn in enumerate(layout.turns, start=1)
        if turn[0] not in unseen and messages[turn[0]].role == "user"
    )


def _with_choice(conversation: Conversation, choice: InContext) -> Conversation:
    """The conversation with ``choice`` on its newest turn: the question and its reply."""
    if choice == "auto":
        return conversation
    last = len(conversation.messages) - 1
    return conversation.with_in_context(last - 1, choice).with_in_context(last, choice)


def _prepare(
    conversation: Conversation,
    line: str,
    provider: Provider,
    trimming: TrimmingSettings,
    summaries: dict[tuple[Message, ...], str],
) -> PreparedTurn:
    """The turn as the chat prepares it, with the chat's trimming; the summary calls it made
    are kept on it."""
    calls: list[CallResult] = []
    strategy = make_strategy(trimming, provider, cache=summaries, on_call=calls.append)
    prepared = prepare_turn(conversation, line, provider, strategy)
    return replace(prepared, summary_calls=tuple(calls))


def run_comparison(
    script: Sequence[str],
    chat_provider: Provider,
    responses_provider: Provider,
    *,
    system_prompt: str = "",
    options: GenerationOptions | None = None,
    trimming: TrimmingSettings | None = None,
    in_context: Mapping[int, InContext] | None = None,
) -> Generator[Progress, None, ComparisonResult]:
    """Run ``script`` three ways, turn by turn; yields after every call, returns the result.

    ``chat_provider`` serves the stateless and the manual-history ways; ``responses_provider``
    (Responses mode) the chained way. The manual and chained ways trim with ``trimming`` (the
    chat's setting) and give turn ``n`` (1-based) the choice ``in_context[n]`` once it is
    answered: "pinned" keeps it in every later request, "left_out" sends it no more. For a
    provider chained through chatkit's local response store, the chained bytes are those of
    the Responses request the client handed the store (new input + ``previous_response_id``),
    and ``model_received_bytes`` the full request the model then got. Provider errors
    propagate as ``ChatkitError``; the calls made so far are in the last ``Progress``.
    """
    lines = tuple(line for line in script if line.strip())
    options = options or GenerationOptions()
    trimming = trimming or TrimmingSettings()
    choices = dict(in_context or {})
    summaries: dict[tuple[Message, ...], str] = {}  # a summary is asked for once per way
    chained_summaries: dict[tuple[Message, ...], str] = {}
    locally = responses_provider.chains_locally
    result = ComparisonResult(
        lines, (), locally, responses_provider.name, responses_provider.model or chat_provider.model
    )
    manual = Conversation(system_prompt=system_prompt)
    chained = Conversation(system_prompt=system_prompt)
    total = len(lines) * len(WAYS)
    calls: list[Call] = []

    def record(call: Call) -> Progress:
        nonlocal result
        calls.append(call)
        result = ComparisonResult(lines, tuple(calls), locally, result.provider, result.model)
        return Progress(len(calls), total, call, result)

    for turn, line in enumerate(lines, start=1):
        # Stateless: a fresh conversation every time.
        choice = choices.get(turn, "auto")
        prepared = prepare_turn(Conversation(system_prompt=system_prompt), line, chat_provider)
        answer = chat_provider.complete(prepared.messages, options)
        yield record(_call(turn, STATELESS, line, answer, prepared, chat_provider))

        # Manual history: the whole (trimmed) message array every time.
        prepared = _prepare(manual, line, chat_provider, trimming, summaries)
        answer = chat_provider.complete(prepared.messages, options)
        manual = _with_choice(finish_turn(prepared, answer), choice)
        yield record(_call(turn, MANUAL, line, answer, prepared, chat_provider))

        # Chaining: previous_response_id and the new input.
        prepared = _prepare(chained, line, responses_provider, trimming, chained_summaries)
        answer = responses_provider.complete(
            prepared.messages, options, prepared.previous_response_id
        )
        chained = _with_choice(finish_turn(prepared, answer), choice)
        sent_bytes = received = None
        if locally:
            handed = (
                provider_kind(responses_provider.name)
                .request_shape("responses")
                .request(
                    prepared.messages,
                    responses_provider.model,
                    options,
                    prepared.previous_response_id,
                )
            )
            sent_bytes, received = request_size(handed), answer.request_bytes
        yield record(
            _call(
                turn,
                CHAINED,
                line,
                answer,
                prepared,
                responses_provider,
                request_bytes=sent_bytes,
                model_received_bytes=received,
            )
        )
    return result
