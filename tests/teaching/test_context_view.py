"""The context window page's figures: parts of the window, per-message rows, the summary."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatkit.conversation import Conversation
from chatkit.messages import Message
from chatkit.teaching.context_view import (
    CURRENT_TURN,
    FREE,
    HISTORY,
    PARTS,
    PINNED_REASON,
    RESERVED,
    SUMMARY,
    SYSTEM_PROMPT,
    PreviewSummarizer,
    bar_rows,
    build_view,
    context_messages,
    in_context_legend,
    message_parts,
    minimum_budget,
    struck_through,
)
from chatkit.tokens import count_message_tokens, tokenizer_for_model
from chatkit.trimming import KeepAll, LastNTurns, SummarizeOlder, TokenBudget

MODEL = "gpt-4o"
TOKENIZER = tokenizer_for_model(MODEL)
WINDOW = 128_000
NEXT = "And what is my favorite color?"


def alice(turns: int = 3) -> Conversation:
    conversation = Conversation(system_prompt="You are a helpful assistant.")
    pairs = [
        ("My name is Alice.", "Nice to meet you, Alice."),
        ("My favorite color is blue.", "Blue is a calm color."),
        ("What is my name?", "Your name is Alice."),
        ("What's my favorite color?", "Your favorite color is blue."),
    ]
    for user, assistant in pairs[:turns]:
        conversation.add_user(user)
        conversation.add_assistant(assistant)
    return conversation


def view(conversation: Conversation, strategy=None, *, next_message: str = "", reserve: int = 512):
    return build_view(
        context_messages(conversation, next_message),
        strategy or KeepAll(),
        context_window=WINDOW,
        reserved_for_reply=reserve,
        tokenizer=TOKENIZER,
        model=MODEL,
    )


def test_the_parts_add_up_to_the_window_and_to_the_prompt_count() -> None:
    conversation = alice()
    result = view(conversation)
    assert [label for label, _ in result.parts()] == list(PARTS)
    assert sum(tokens for _, tokens in result.parts()) == WINDOW
    # What is used is exactly what count_tokens says the prompt costs.
    assert result.used == count_message_tokens(conversation.to_messages(), MODEL).total
    assert result.untrimmed_tokens == result.used
    parts = dict(result.parts())
    assert parts[SYSTEM_PROMPT] == TOKENIZER.count_message(
        Message("system", "You are a helpful assistant.")
    )
    assert parts[RESERVED] == 512
    assert parts[SUMMARY] == 0
    assert parts[FREE] == WINDOW - 512 - result.used
    assert result.exact and result.fits


def test_the_newest_exchange_is_the_current_turn_and_the_rest_history() -> None:
    result = view(alice())
    assert [row.part for row in result.rows] == [SYSTEM_PROMPT] + [HISTORY] * 4 + [CURRENT_TURN] * 2
    assert [row.turn for row in result.rows] == [None, 1, 1, 2, 2, 3, 3]
    assert [row.role for row in result.rows] == ["system"] + ["user", "assistant"] * 3


def test_a_typed_next_message_becomes_the_current_turn() -> None:
    result = view(alice(), next_message="What is my name?")
    assert [row.part for row in result.rows][-3:] == [HISTORY, HISTORY, CURRENT_TURN]
    assert result.rows[-1].preview == "What is my name?"
    assert result.rows[-1].reason == "always kept: the message being answered"
    assert context_messages(alice(), "   ") == alice().to_messages()


def test_every_message_row_shows_its_own_token_count() -> None:
    conversation = alice()
    counted = count_message_tokens(conversation.to_messages(), MODEL)
    assert [row.tokens for row in view(conversation).rows] == list(counted.per_message)


def test_a_tight_budget_drops_the_oldest_turns_and_says_why() -> None:
    conversation = alice(4)
    everything = view(conversation).used
    result = view(conversation, TokenBudget(everything - 20, MODEL, TOKENIZER))
    assert result.dropped_turns == [1]
    dropped = result.dropped_rows
    assert [row.preview for row in dropped] == ["My name is Alice.", "Nice to meet you, Alice."]
    assert all("budget" in row.reason for row in dropped)
    assert all(row.kept for row in result.rows if row.turn != 1)
    assert result.used <= everything - 20
    assert result.dropped_tokens == sum(row.tokens for row in dropped)
    assert result.untrimmed_tokens == everything


def test_last_n_turns_keeps_only_the_newest_turns() -> None:
    result = view(alice(4), LastNTurns(1), next_message="And my name?")
    assert result.dropped_turns == [1, 2, 3]
    assert [row.kept for row in result.rows] == [True] + [False] * 6 + [True] * 3
    # Without a next message, turn 4 is the current turn: the one turn kept is the one before.
    result = view(alice(4), LastNTurns(1))
    assert result.dropped_turns == [1, 2]
    assert [row.kept for row in result.rows] == [True] + [False] * 4 + [True] * 4
    assert result.rows[0].reason == "always kept: the system prompt"


def test_summarize_older_previews_the_lines_that_replace_the_dropped_turns() -> None:
    conversation = alice(4)
    budget = view(conversation, next_message=NEXT).used - 5
    summarizer = PreviewSummarizer()
    strategy = SummarizeOlder(budget, summarizer, MODEL, TOKENIZER)
    result = view(conversation, strategy, next_message=NEXT)
    assert result.summary is not None
    assert result.summary.source == "lines"
    assert "no model call" in result.summary.source_label
    assert result.summary.text.startswith("Summary of the earlier conversation: User: My name")
    assert result.summary.replaces == tuple(
        conversation.to_messages()[row.index] for row in result.dropped_rows
    )
    assert dict(result.parts())[SUMMARY] == result.summary.tokens > 0
    assert result.used <= budget


def test_a_model_summary_is_used_when_the_page_has_one_for_those_turns() -> None:
    conversation = alice(4)
    budget = view(conversation).used - 20
    first = view(conversation, SummarizeOlder(budget, PreviewSummarizer(), MODEL, TOKENIZER))
    written = {first.summary.replaces: "Alice likes blue."}
    summarizer = PreviewSummarizer(written)
    result = view(conversation, SummarizeOlder(budget, summarizer, MODEL, TOKENIZER))
    assert result.summary.source == "model"
    assert result.summary.text.endswith("Alice likes blue.")
    assert "model" in result.summary.source_label


def test_a_budget_below_the_system_prompt_keeps_everything_and_says_so() -> None:
    conversation = alice()
    result = view(conversation, TokenBudget(3, MODEL, TOKENIZER), next_message="Hi")
    assert "budget" in result.overflow
    assert not result.dropped_rows
    assert minimum_budget(context_messages(conversation, "Hi"), TOKENIZER, MODEL) > 3


@pytest.mark.parametrize("next_message", ["", "And my favorite color?"])
def test_the_current_message_and_the_system_prompt_are_never_summarized(next_message) -> None:
    conversation = alice()
    strategy = SummarizeOlder(50, PreviewSummarizer(), MODEL, TOKENIZER)
    result = view(conversation, strategy, next_message=next_message)
    fixed = [row for row in result.rows if row.part in (SYSTEM_PROMPT, CURRENT_TURN)]
    assert fixed and all(row.kept and "always kept" in row.reason for row in fixed)
    assert result.dropped_rows and all(row.part == HISTORY for row in result.dropped_rows)
    assert result.summary is not None and not result.overflow
    # The slider's lowest budget is one the strategy meets, summarizing only the history.
    least = minimum_budget(context_messages(conversation, next_message), TOKENIZER, MODEL)
    strategy = SummarizeOlder(least, PreviewSummarizer(), MODEL, TOKENIZER)
    at_least = view(conversation, strategy, next_message=next_message)
    assert not at_least.overflow
    assert all(row.kept for row in at_least.rows if row.part != HISTORY)


@pytest.mark.parametrize("next_message", ["", "And my favorite color?"])
def test_a_budget_too_small_for_the_current_message_says_so_and_summarizes_nothing(
    next_message,
) -> None:
    conversation = alice()
    conversation.system_prompt = "You are a helpful assistant who answers in full sentences. " * 5
    strategy = SummarizeOlder(50, PreviewSummarizer(), MODEL, TOKENIZER)
    result = view(conversation, strategy, next_message=next_message)
    assert "more than the budget of 50" in result.overflow
    assert result.summary is None and not result.dropped_rows
    assert not any("summarized" in row.reason for row in result.rows)
    assert all("always kept" in row.reason for row in result.rows if row.part != HISTORY)


def test_turns_left_out_without_a_summary_are_not_called_summarized() -> None:
    conversation = alice()
    conversation.system_prompt = "You are a helpful assistant who answers in full sentences. " * 3
    messages = context_messages(conversation, "And my favorite color?")
    least = minimum_budget(messages, TOKENIZER, MODEL)
    result = view(
        conversation,
        SummarizeOlder(least, PreviewSummarizer(), MODEL, TOKENIZER),
        next_message="And my favorite color?",
    )
    assert result.summary is None and result.dropped_rows
    assert all("no summary fits" in row.reason for row in result.dropped_rows)


def test_minimum_budget_is_what_a_token_budget_can_just_meet() -> None:
    messages = context_messages(alice(), "And my color?")
    least = minimum_budget(messages, TOKENIZER, MODEL)
    result = TokenBudget(least, MODEL, TOKENIZER).apply(messages)
    assert len(result.messages) == 2  # the system prompt and the new message
    assert minimum_budget([], TOKENIZER, MODEL) == TOKENIZER.reply_priming


def test_an_overfull_conversation_has_no_free_space_and_does_not_fit() -> None:
    conversation = alice()
    result = build_view(
        conversation.to_messages(),
        KeepAll(),
        context_window=50,
        reserved_for_reply=30,
        tokenizer=TOKENIZER,
        model=MODEL,
    )
    assert not result.fits and result.free < 0
    assert dict(result.parts())[FREE] == 0


def test_an_unknown_model_is_counted_as_an_estimate_and_says_so() -> None:
    tokenizer = tokenizer_for_model("claude-sonnet-4-6")
    result = build_view(
        alice().to_messages(),
        KeepAll(),
        context_window=200_000,
        reserved_for_reply=0,
        tokenizer=tokenizer,
        model="claude-sonnet-4-6",
    )
    assert not result.exact and "Estimate" in result.note


def test_the_zoomed_bar_leaves_out_only_the_free_space() -> None:
    result = view(alice())
    assert [label for label, _ in result.used_parts()] == list(PARTS[:-1])
    rows = bar_rows(result.used_parts())
    assert rows[0]["start"] == 0
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(rows))
    assert rows[-1]["end"] == result.used + result.reserved_for_reply
    assert abs(sum(row["share"] for row in rows) - 1) < 1e-9


def test_message_parts_without_a_system_prompt_or_user_message() -> None:
    assert message_parts([]) == []
    assert message_parts([Message("assistant", "Hello!")]) == [HISTORY]
    assert message_parts([Message("user", "Hi")]) == [CURRENT_TURN]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.sampled_from(["Hi", "My name is Bob.", "What is my name?", "ok " * 30]), max_size=8
    ),
    st.integers(min_value=0, max_value=400),
)
def test_kept_and_dropped_always_account_for_every_message(texts, extra) -> None:
    conversation = Conversation(system_prompt="Be brief.")
    for number, text in enumerate(texts):
        conversation.add_user(text) if number % 2 == 0 else conversation.add_assistant(text)
    messages = conversation.to_messages()
    budget = minimum_budget(messages, TOKENIZER, MODEL) + extra
    result = build_view(
        messages,
        TokenBudget(budget, MODEL, TOKENIZER),
        context_window=WINDOW,
        reserved_for_reply=0,
        tokenizer=TOKENIZER,
        model=MODEL,
    )
    assert len(result.rows) == len(messages)
    assert result.used + result.dropped_tokens == result.untrimmed_tokens
    assert result.used <= max(budget, result.untrimmed_tokens)
    assert not result.overflow


def test_a_shortened_summary_says_which_turns_its_text_still_covers() -> None:
    """At a tight budget the lines summary keeps the newest lines: a late correction ("my
    name is Carol") survives, and the preview claims only the turns whose lines remain."""
    conversation = Conversation(system_prompt="You are a helpful assistant.")
    for number in range(1, 7):
        conversation.add_user(f"Fact number {number}: my favourite thing number {number} is x.")
        conversation.add_assistant(f"Noted fact {number}.")
    conversation.add_user("Actually my name is Carol.")
    conversation.add_assistant("Noted, Carol.")
    messages = context_messages(conversation, "What is my name?")
    least = minimum_budget(messages, TOKENIZER, MODEL)
    for budget in range(least, least + 200, 5):
        strategy = SummarizeOlder(budget, PreviewSummarizer(), MODEL, TOKENIZER)
        result = build_view(
            messages, strategy, context_window=WINDOW, reserved_for_reply=0, tokenizer=TOKENIZER
        )
        summary = result.summary
        if summary is None or not summary.shortened:
            continue
        assert "Carol" in summary.text  # the newest fact is kept
        assert set(summary.covered_turns) < set(summary.dropped_turns)
        assert "left out without a summary" in summary.claim
        break
    else:
        raise AssertionError("no budget made the summary shorten")


# -- pins and leave-outs ----------------------------------------------------------------------


def test_a_message_left_out_is_struck_through_and_never_counted_as_sent() -> None:
    conversation = alice().with_in_context(2, "left_out")  # turn 2's question
    everything = view(alice())
    result = view(conversation)
    row = result.rows[3]  # the system prompt comes first
    assert not row.kept and row.left_out and row.reason == "left out by you"
    assert row.mark == "left out"
    assert row.shown_preview == struck_through("My favorite color is blue.") != row.preview
    assert result.left_out_rows == [row] and not result.trimmed_rows
    assert result.dropped_turns == []  # left out by you, not by trimming
    assert result.used == everything.used - row.tokens
    assert dict(result.parts())[HISTORY] == dict(everything.parts())[HISTORY] - row.tokens
    assert result.used + result.dropped_tokens == result.untrimmed_tokens


def test_a_pinned_message_is_kept_when_trimming_drops_its_turn() -> None:
    conversation = alice(4).with_in_context(0, "pinned")  # "My name is Alice."
    result = view(conversation, LastNTurns(1), next_message=NEXT)
    pinned = result.rows[1]
    assert pinned.kept and pinned.pinned and pinned.reason == PINNED_REASON
    assert pinned.mark == "📌 pinned" and pinned.shown_preview == pinned.preview
    assert result.pinned_rows == [pinned]
    assert not result.rows[2].kept and "older than the last 1 turns" in result.rows[2].reason
    assert result.dropped_turns == [1, 2, 3]


def test_a_pinned_message_is_never_summarized_and_a_left_out_one_never_replaced() -> None:
    conversation = alice(4).with_in_context(0, "pinned").with_in_context(2, "left_out")
    messages = context_messages(conversation, NEXT)
    least = minimum_budget(messages, TOKENIZER, MODEL)
    assert least > minimum_budget(context_messages(alice(4), NEXT), TOKENIZER, MODEL)
    strategy = SummarizeOlder(least + 40, PreviewSummarizer(), MODEL, TOKENIZER)
    result = view(conversation, strategy, next_message=NEXT)
    assert not result.overflow and result.summary is not None
    assert result.rows[1].kept and result.rows[1].reason == PINNED_REASON
    assert result.rows[3].reason == "left out by you"
    replaced = {m.content for m in result.summary.replaces}
    assert "My name is Alice." not in replaced
    assert "My favorite color is blue." not in replaced
    assert "My favorite color" not in result.summary.text


def test_a_left_out_reply_on_screen_is_not_counted_as_sent() -> None:
    conversation = alice().with_in_context(5, "left_out")  # the last reply
    result = view(conversation)
    assert not result.rows[-1].kept and result.rows[-1].left_out
    assert dict(result.parts())[CURRENT_TURN] < dict(view(alice()).parts())[CURRENT_TURN]


def test_the_message_being_answered_is_sent_even_when_left_out() -> None:
    conversation = alice().with_in_context(4, "left_out")  # "What is my name?", answered
    row = view(conversation).rows[5]
    assert row.kept and not row.left_out
    assert "even though you left it out" in row.reason


def test_the_legend_explains_only_the_marks_the_table_holds() -> None:
    assert in_context_legend(view(alice()).rows) == ""
    pinned = view(alice().with_in_context(0, "pinned")).rows
    assert in_context_legend(pinned).startswith("📌 pinned: always sent")
    both = view(alice().with_in_context(0, "pinned").with_in_context(2, "left_out")).rows
    assert "left out by you, never sent" in in_context_legend(both)
    assert struck_through("ab c") == "a\u0336b\u0336 c\u0336"


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Hi", "My name is Bob.", "ok " * 30]),
            st.sampled_from(["auto", "pinned", "left_out"]),
        ),
        max_size=8,
    ),
    st.integers(min_value=0, max_value=300),
    st.sampled_from(["", "And my name?"]),
)
def test_pinned_rows_are_always_kept_and_left_out_ones_never(choices, extra, next_message):
    conversation = Conversation(system_prompt="Be brief.")
    for number, (text, choice) in enumerate(choices):
        conversation.add_user(text) if number % 2 == 0 else conversation.add_assistant(text)
        conversation = conversation.with_in_context(number, choice)
    messages = context_messages(conversation, next_message)
    budget = minimum_budget(messages, TOKENIZER, MODEL) + extra
    result = view(conversation, TokenBudget(budget, MODEL, TOKENIZER), next_message=next_message)
    answered = "always kept: the message being answered"
    for row, message in zip(result.rows, messages, strict=True):
        if message.pinned:
            assert row.kept
        if message.left_out and not row.reason.startswith(answered):
            assert not row.kept and row.left_out
    assert result.used + result.dropped_tokens == result.untrimmed_tokens
    assert not result.overflow
