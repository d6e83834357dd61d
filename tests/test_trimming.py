"""Trimming strategies: pure, whole turns only, the system prompt and current message always kept.

Terms used below, as the issue defines them: the *system prompt* is the leading
system/developer messages; the *current message* is a final user message after it; a *turn* is
a user message and the replies after it (or a greeting before the first user message).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chatkit.errors import ContextOverflow
from chatkit.messages import Message, MessageLike, as_message, as_messages
from chatkit.tokens import count_tokens
from chatkit.trimming import (
    SUMMARY_PREFIX,
    Chain,
    KeepAll,
    LastNTurns,
    SummarizeOlder,
    TokenBudget,
    TrimResult,
)

# -- helpers ---------------------------------------------------------------------------------


def _conversation(turns: int, *, words: int = 5, current: bool = True) -> list[Message]:
    messages = [Message("system", "You are a helpful assistant.")]
    for turn in range(turns):
        messages.append(Message("user", f"question {turn} " + "why " * words))
        messages.append(Message("assistant", f"answer {turn} " + "because " * words))
    if current:
        messages.append(Message("user", "And now?"))
    return messages


def _shape(messages: Sequence[MessageLike]) -> tuple[list[int], list[list[int]], int | None]:
    """Indices of the system prompt, of each turn, and of the current message."""
    plain = as_messages(messages)
    head = 0
    while head < len(plain) and plain[head].is_instruction:
        head += 1
    current = len(plain) - 1 if len(plain) > head and plain[-1].role == "user" else None
    turns: list[list[int]] = []
    for index in range(head, len(plain) if current is None else current):
        if plain[index].role == "user" or not turns:
            turns.append([index])
        else:
            turns[-1].append(index)
    return list(range(head)), turns, current


def _added(messages: Sequence[MessageLike], result: TrimResult) -> list[Message]:
    """Messages in the result that were not in the input: the summaries a strategy wrote."""
    originals = as_messages(messages)
    return [
        m
        for m in result.messages
        if m.role == "system" and m.content.startswith(SUMMARY_PREFIX) and m not in originals
    ]


def _check_invariants(
    messages: Sequence[MessageLike], before: Sequence[MessageLike], result: TrimResult
) -> None:
    """What every strategy promises, whatever it chose to drop."""
    assert list(messages) == list(before), "the input was mutated"
    plain = as_messages(messages)
    head, turns, current = _shape(messages)
    dropped = [d.index for d in result.dropped]
    assert dropped == sorted(set(dropped))
    for item in result.dropped:
        assert item.message == plain[item.index]
        assert item.reason
    # Kept and dropped account for every input message, kept ones in their order.
    added = _added(messages, result)
    kept = [m for m in result.messages if all(m is not a for a in added)]
    assert kept == [m for i, m in enumerate(plain) if i not in set(dropped)]
    # The system prompt and the current message are always kept, first and last.
    assert result.messages[: len(head)] == [plain[i] for i in head]
    if current is not None:
        assert current not in dropped
        assert result.messages[-1] == plain[current]
    # Whole turns only.
    for turn in turns:
        assert set(turn) <= set(dropped) or not set(turn) & set(dropped), f"split turn {turn}"
    # Never an assistant message first after the system prompt once something was dropped.
    if dropped:
        sent = result.messages
        prompt_end = 0
        while prompt_end < len(sent) and sent[prompt_end].is_instruction:
            prompt_end += 1
        assert prompt_end == len(sent) or sent[prompt_end].role != "assistant"
    # Dicts are converted at the door: what comes out is Messages.
    assert all(isinstance(m, Message) for m in result.messages)
    # Summaries are system messages placed right after the system prompt.
    assert result.messages[len(head) : len(head) + len(added)] == added
    for summary in added:
        assert summary.role == "system" and summary.content.startswith(SUMMARY_PREFIX)
    if result.summary is not None:
        assert any(result.summary is a for a in added)


_words = st.lists(
    st.sampled_from(["the", "turn", "token", "budget", "你好", "👍🏽", "Alice", "42", "\n", "ok."]),
    max_size=30,
).map(" ".join)


@st.composite
def _message_lists(draw: st.DrawFn) -> list[MessageLike]:
    messages: list[Message] = []
    for _ in range(draw(st.integers(0, 2))):
        messages.append(Message(draw(st.sampled_from(["system", "developer"])), draw(_words)))
    if draw(st.integers(0, 4)) == 0:
        messages.append(Message("assistant", "Hi! How can I help?"))  # a greeting
    for _ in range(draw(st.integers(0, 7))):
        messages.append(Message("user", draw(_words)))
        for _ in range(draw(st.sampled_from([1, 1, 1, 0, 2]))):
            messages.append(Message("assistant", draw(_words)))
    if draw(st.booleans()):
        messages.append(Message("user", draw(_words)))
    if draw(st.booleans()):
        return [m.to_dict() for m in messages]
    return list(messages)


_examples = settings(max_examples=120, deadline=None)


class _RecordingSummarizer:
    """A summarizer standing in for the model: a short (or long) line about what it was given."""

    def __init__(self, verbose: bool = False) -> None:
        self.calls: list[list[Message]] = []
        self.verbose = verbose

    def __call__(self, messages: Sequence[Message]) -> str:
        self.calls.append(list(messages))
        if self.verbose:
            return " ".join(m.content for m in messages) + " (and much more)" * 50
        return f"{len(messages)} earlier messages about " + messages[0].content[:20]


# -- properties ------------------------------------------------------------------------------


@_examples
@given(messages=_message_lists(), n=st.integers(0, 9))
def test_last_n_turns_keeps_the_last_n_whole_turns(messages: list, n: int) -> None:
    before = copy.deepcopy(messages)
    result = LastNTurns(n).apply(messages)
    _check_invariants(messages, before, result)
    _, turns, _ = _shape(messages)
    expected = turns[max(len(turns) - n, 0) :]
    kept_turns = [t for t in turns if t[0] not in result.dropped_indices]
    assert kept_turns == expected


@_examples
@given(messages=_message_lists(), data=st.data())
def test_token_budget_keeps_the_newest_turns_that_fit(messages: list, data: st.DataObject) -> None:
    before = copy.deepcopy(messages)
    total = count_tokens(messages)
    max_tokens = data.draw(st.integers(0, total + 5), label="max_tokens")
    head, turns, current = _shape(messages)
    fixed = [messages[i] for i in head] + ([messages[current]] if current is not None else [])
    try:
        result = TokenBudget(max_tokens).apply(messages)
    except ContextOverflow as overflow:
        assert count_tokens(fixed) > max_tokens
        assert overflow.over_by == count_tokens(fixed) - max_tokens
        assert str(overflow.over_by) in str(overflow)
        return
    _check_invariants(messages, before, result)
    assert count_tokens(result.messages) <= max_tokens
    if not result.dropped:
        return
    # The kept turns are the newest ones, and the next older one would not have fit.
    kept_turns = [t for t in turns if t[0] not in result.dropped_indices]
    assert kept_turns == turns[len(turns) - len(kept_turns) :]
    older = turns[len(turns) - len(kept_turns) - 1]
    older_messages = [messages[i] for i in older]
    assert (
        count_tokens(list(result.messages) + older_messages) > max_tokens
        or as_message(older_messages[0]).role == "assistant"
    )


@_examples
@given(messages=_message_lists(), verbose=st.booleans(), data=st.data())
def test_summarize_older_replaces_what_it_drops_by_one_summary(
    messages: list, verbose: bool, data: st.DataObject
) -> None:
    before = copy.deepcopy(messages)
    total = count_tokens(messages)
    max_tokens = data.draw(st.integers(0, total + 5), label="max_tokens")
    summarizer = _RecordingSummarizer(verbose)
    try:
        result = SummarizeOlder(max_tokens, summarizer).apply(messages)
    except ContextOverflow:
        assert summarizer.calls == []
        return
    _check_invariants(messages, before, result)
    assert count_tokens(result.messages) <= max_tokens
    assert _added(messages, result) == ([] if result.summary is None else [result.summary])
    if not result.dropped:
        assert result.summary is None
        assert summarizer.calls == []
        return
    # The summarizer saw exactly the messages that were dropped in the end.
    assert summarizer.calls[-1] == [as_message(d.message) for d in result.dropped]
    if result.summary is not None:
        text = as_message(result.summary).content.removeprefix(SUMMARY_PREFIX)
        full = _RecordingSummarizer(verbose)(summarizer.calls[-1])
        # Whole, or shortened to its newest part (an ellipsis in front of the end of it).
        assert text == full or (text.startswith("…") and full.endswith(text[1:]))
        assert result.summary_shortened == (text != full)


_strategies = st.one_of(
    st.integers(0, 6).map(LastNTurns),
    st.integers(0, 400).map(TokenBudget),
    st.integers(0, 400).map(lambda m: SummarizeOlder(m, _RecordingSummarizer())),
)


@_examples
@given(messages=_message_lists(), first=_strategies, second=_strategies)
def test_chained_strategies_report_against_the_input(
    messages: list, first: object, second: object
) -> None:
    before = copy.deepcopy(messages)
    try:
        result = Chain((first, second)).apply(messages)  # type: ignore[arg-type]
    except ContextOverflow:
        assume(False)
        return
    _check_invariants(messages, before, result)
    budgets = [s.max_tokens for s in (first, second) if hasattr(s, "max_tokens")]
    if budgets:
        assert count_tokens(result.messages) <= min(budgets)


# -- examples ------------------------------------------------------------------------------


def test_last_n_turns_keeps_the_system_prompt_the_last_turns_and_the_current_message() -> None:
    messages = _conversation(5)
    result = LastNTurns(2).apply(messages)
    assert result.messages == [messages[0], *messages[7:11], messages[11]]
    assert [d.index for d in result.dropped] == list(range(1, 7))
    assert all("last 2 turns" in d.reason for d in result.dropped)


def test_last_n_turns_with_more_room_than_turns_keeps_everything() -> None:
    messages = _conversation(3)
    result = LastNTurns(5).apply(messages)
    assert result.messages == messages
    assert result.dropped == []


def test_last_zero_turns_keeps_only_the_system_prompt_and_the_current_message() -> None:
    messages = _conversation(3)
    assert LastNTurns(0).apply(messages).messages == [messages[0], messages[-1]]


def test_last_n_turns_refuses_a_negative_n() -> None:
    with pytest.raises(ValueError):
        LastNTurns(-1)


def test_keep_all_keeps_all() -> None:
    messages = _conversation(3)
    assert KeepAll().apply(messages).messages == messages


def test_strategies_accept_dicts_and_return_messages() -> None:
    messages = [m.to_dict() for m in _conversation(4)]
    for strategy in (LastNTurns(1), TokenBudget(60), SummarizeOlder(80, _RecordingSummarizer())):
        result = strategy.apply(messages)
        assert result.dropped
        assert all(isinstance(m, Message) for m in result.messages)
        assert result.messages[0] == Message.from_dict(messages[0])


def test_the_budget_counts_tokens_not_messages() -> None:
    """The tutorial kept the last 18 messages, however long; a budget keeps what fits."""
    messages = _conversation(10, words=300)
    assert count_tokens(messages[:1] + messages[-18:]) > 4000  # the tutorial's choice
    result = TokenBudget(4000).apply(messages)
    assert count_tokens(result.messages) <= 4000
    assert result.messages[0] == messages[0] and result.messages[-1] == messages[-1]
    assert result.messages[1].role == "user"
    assert all("budget of 4000 tokens" in d.reason for d in result.dropped)


def test_a_budget_that_cannot_hold_the_prompt_and_message_says_by_how_much() -> None:
    messages = [Message("system", "Be brief. " * 100), *_conversation(2)[1:]]
    need = count_tokens([messages[0], messages[-1]])
    with pytest.raises(ContextOverflow) as caught:
        TokenBudget(need - 7).apply(messages)
    assert caught.value.over_by == 7
    assert "7 more than the budget" in str(caught.value)
    # One token more and it fits, with no history at all.
    assert TokenBudget(need).apply(messages).messages == [messages[0], messages[-1]]


def test_everything_that_fits_is_kept_even_a_greeting() -> None:
    messages = [Message("assistant", "Hi! How can I help?"), *_conversation(2)[1:]]
    assert TokenBudget(10_000).apply(messages).messages == messages


def test_a_greeting_is_not_left_first_when_older_turns_go() -> None:
    messages = [Message("assistant", "Hi! How can I help?"), *_conversation(6)[1:]]
    result = TokenBudget(count_tokens(messages) - 1).apply(messages)
    assert result.dropped[0].index == 0
    assert as_message(result.messages[0]).role == "user"


def test_summarize_older_puts_one_summary_after_the_system_prompt() -> None:
    messages = _conversation(8)
    summarizer = _RecordingSummarizer()
    budget = count_tokens(messages) // 2
    result = SummarizeOlder(budget, summarizer).apply(messages)
    assert result.messages[0] == messages[0]
    assert result.messages[1] is result.summary
    assert result.summary.role == "system"
    assert result.summary.content.startswith("Summary of the earlier conversation: ")
    assert summarizer.calls[-1] == [d.message for d in result.dropped]
    assert "earlier messages about question 0" in result.summary.content
    assert result.messages[2].role == "user"
    assert count_tokens(result.messages) <= budget


def test_summarize_older_does_nothing_when_everything_fits() -> None:
    summarizer = _RecordingSummarizer()
    messages = _conversation(3)
    result = SummarizeOlder(10_000, summarizer).apply(messages)
    assert result.messages == messages and result.summary is None
    assert summarizer.calls == []


def test_a_summary_too_long_for_the_budget_is_shortened_to_fit() -> None:
    messages = _conversation(8)
    budget = count_tokens([messages[0], messages[-1]]) + 40
    summarizer = _RecordingSummarizer(verbose=True)
    result = SummarizeOlder(budget, summarizer).apply(messages)
    assert result.summary is not None and result.summary_shortened
    # The newest part is kept (a late correction must survive), cut between words.
    text = result.summary.content.removeprefix(SUMMARY_PREFIX)
    full = _RecordingSummarizer(verbose=True)(summarizer.calls[-1])
    assert text.startswith("…") and full.endswith(text[1:])
    assert full[len(full) - len(text) : len(full) - len(text) + 1] in (" ", "\n")
    assert count_tokens(result.messages) <= budget
    assert result.messages == [messages[0], result.summary, messages[-1]]


def test_chain_reports_dropped_messages_by_their_place_in_the_input() -> None:
    messages = _conversation(6)
    chain = Chain((LastNTurns(4), TokenBudget(count_tokens(messages[:1] + messages[-5:]))))
    result = chain.apply(messages)
    assert result.messages == [messages[0], *messages[-5:]]
    assert [d.index for d in result.dropped] == list(range(1, 9))
    assert [d.message for d in result.dropped] == messages[1:9]
    assert {d.reason for d in result.dropped[:4]} == {"older than the last 4 turns"}


def test_chain_keeps_the_summary_of_an_earlier_step() -> None:
    messages = _conversation(8)
    summarize = SummarizeOlder(count_tokens(messages) // 2, _RecordingSummarizer())
    result = Chain((summarize, LastNTurns(1))).apply(messages)
    assert result.summary is not None
    assert result.messages == [messages[0], result.summary, *messages[-3:]]
