"""Every lesson's check on calls built by hand: one sequence that passes, others that fail,
each failure one sentence."""

from __future__ import annotations

import pytest

from chatkit.lessons import (
    CapturedCall,
    check_lesson,
    passed_earlier,
    strict_alternation_error,
)
from chatkit.messages import normalize_messages
from chatkit.turn import TrimmingSettings
from tests.lessons.builders import anthropic, chat, msgs, responses


def one_sentence(sentence: str) -> bool:
    return sentence.endswith(".") and sentence.count(". ") == 0 and "\n" not in sentence


def assert_fails(number: int, calls: list[CapturedCall], says: str) -> None:
    result = check_lesson(number, calls)
    assert not result.passed
    assert says in result.sentence
    assert one_sentence(result.sentence), result.sentence


def assert_passes(number: int, calls: list[CapturedCall]) -> None:
    result = check_lesson(number, calls)
    assert result.passed, result.sentence
    assert result.sentence.startswith("Passed: ") and one_sentence(result.sentence)


@pytest.mark.parametrize("number", range(1, 9))
def test_no_calls_fail_with_a_sentence(number):
    result = check_lesson(number, [])
    assert not result.passed and one_sentence(result.sentence)


def test_a_lesson_passed_earlier_says_passed_once():
    fact = chat("a", msgs("My name is Alice."))
    passing = check_lesson(1, [fact, chat("b", msgs("What is my name?"))]).sentence
    earlier = passed_earlier(passing)
    assert earlier.startswith("Passed earlier: the last request carried only your new question")
    assert earlier.count("Passed") == 1 and one_sentence(earlier)
    # the store keeps the latest sentence: a failing run after the pass gives no reason
    failing = check_lesson(1, [fact]).sentence
    assert passed_earlier(failing) == "Passed earlier."


def test_there_is_no_lesson_nine():
    with pytest.raises(ValueError, match="no lesson 9"):
        check_lesson(9, [])


# -- 1 ------------------------------------------------------------------------------------------


def test_stateless_passes_when_the_question_went_alone_in_a_new_chat():
    fact = chat("a", msgs("My name is Alice."))
    question = chat("b", msgs("What is my name?"))
    assert_passes(1, [fact, question])


def test_stateless_fails_in_the_same_conversation():
    fact = chat("a", msgs("My name is Alice."))
    question = chat("a", msgs("My name is Alice.", "Hi Alice.", "What is my name?"))
    assert_fails(1, [fact, question], "same conversation")


def test_stateless_fails_when_the_new_chat_carried_the_fact_again():
    fact = chat("a", msgs("My name is Alice."))
    question = chat("b", msgs("My name is Alice.", "Hi.", "What is my name?"))
    assert_fails(1, [fact, question], "more than your new message")


# -- 2 ------------------------------------------------------------------------------------------


def test_history_passes_when_the_previous_turn_is_resent_in_order():
    first = chat("a", msgs("My name is Alice."))
    second = chat("a", msgs("My name is Alice.", "Nice to meet you.", "What is my name?"))
    assert_passes(2, [first, second])


def test_history_the_wrong_way_says_the_request_carried_only_the_new_message():
    first = chat("a", msgs("My name is Alice."))
    second = chat("b", msgs("What is my name?"))
    assert_fails(2, [first, second], "carried only the new message")


def test_history_fails_in_responses_mode():
    first = responses("a", ["My name is Alice."], response_id="r1")
    assert_fails(2, [first], "switch the API mode to Chat Completions")


def test_history_fails_when_roles_do_not_alternate():
    first = chat("a", msgs("Hello."))
    bad = msgs("Hello.", "Hi!", "What is my name?")
    bad.insert(1, {"role": "user", "content": "Hey."})  # two user messages in a row
    second = chat("a", bad)
    assert_fails(2, [first, second], "do not alternate")


def test_history_fails_when_the_previous_turn_was_left_out():
    first = chat("a", msgs("One."))
    second = chat("a", msgs("One.", "1", "Two."))
    third = chat("a", msgs("One.", "1", "Three."))  # turn two is missing
    assert_fails(2, [first, second, third], "left out your previous turn")


# -- 3 ------------------------------------------------------------------------------------------


def test_chaining_passes_with_the_previous_id_store_and_instructions():
    first = responses("a", ["My favorite color is blue."], response_id="r1")
    second = responses("a", ["What is it?"], response_id="r2", previous="r1")
    assert_passes(3, [first, second])


def test_chaining_fails_without_previous_response_id():
    first = responses("a", ["My favorite color is blue."], response_id="r1")
    second = responses("a", ["What is it?"], response_id="r2")
    assert_fails(3, [first, second], "previous_response_id")


def test_chaining_fails_without_store():
    first = responses("a", ["My favorite color is blue."], response_id="r1")
    second = responses("a", ["What is it?"], response_id="r2", previous="r1", store=False)
    assert_fails(3, [first, second], "store")


def test_chaining_fails_when_the_history_is_resent_too():
    first = responses("a", ["My favorite color is blue."], response_id="r1")
    second = responses("a", ["Blue.", "What is it?"], response_id="r2", previous="r1")
    assert_fails(3, [first, second], "only the new message")


def test_chaining_fails_when_instructions_are_not_resent():
    first = responses("a", ["My favorite color is blue."], response_id="r1")
    second = responses("a", ["What is it?"], response_id="r2", previous="r1", instructions=None)
    assert_fails(3, [first, second], "instructions")


# -- 4 ------------------------------------------------------------------------------------------

TURNS = msgs("Hi.", "Hello!", "What should I learn?", system="")


def test_messages_passes_with_top_level_system_and_alternating_turns():
    assert_passes(4, [anthropic("a", TURNS)])


def test_messages_fails_with_a_system_message_inside_messages():
    inside = [{"role": "system", "content": "Be brief."}, *TURNS]
    assert_fails(4, [anthropic("a", inside)], "inside messages")


def test_messages_fails_without_top_level_system_when_a_prompt_is_set():
    call = anthropic("a", TURNS, system=None)
    call = CapturedCall("a", call.reply, system_prompt="Be brief.")
    assert_fails(4, [call], "top-level system")


def test_messages_fails_when_two_user_turns_follow_each_other():
    doubled = [TURNS[0], {"role": "user", "content": "Are you there?"}, *TURNS[1:]]
    assert_fails(4, [anthropic("a", doubled)], "share a role")


def test_messages_fails_when_the_assistant_speaks_first():
    turns = [{"role": "assistant", "content": "Welcome."}, *TURNS]
    assert_fails(4, [anthropic("a", turns)], "not from the user")


def test_messages_fails_in_chat_mode():
    assert_fails(4, [chat("a", msgs("Hi."))], "switch the API mode to Messages")


def test_the_strict_error_for_two_user_turns_and_what_normalizing_makes_of_them():
    two_users = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello"},
        {"role": "user", "content": "Are you there?"},
    ]
    before = [dict(m) for m in two_users]
    assert strict_alternation_error(two_users) == (
        'messages: roles must alternate between "user" and "assistant", but found multiple '
        '"user" roles in a row'
    )
    normalized = normalize_messages(two_users)
    assert two_users == before, "neither the check nor normalizing changes the list"
    assert strict_alternation_error(normalized) is None
    assert normalized[1]["content"] == "Hello\nAre you there?"
    assert strict_alternation_error([{"role": "assistant", "content": "Hi"}]) == (
        'messages: first message must use the "user" role'
    )


# -- 5 ------------------------------------------------------------------------------------------


def test_window_passes_with_a_known_count_that_fits():
    result = check_lesson(5, [chat("a", msgs("Hi."), input_tokens=240)])
    assert result.passed and "exact" in result.sentence and "8,192" in result.sentence
    estimated = check_lesson(5, [chat("a", msgs("Hi."), input_tokens=240, tokens_estimated=True)])
    assert estimated.passed and "estimate" in estimated.sentence


def test_window_fails_below_a_hundred_tokens():
    assert_fails(5, [chat("a", msgs("Hi."), input_tokens=20)], "only 20 input tokens")


def test_window_fails_without_a_count_or_a_window_or_over_it():
    assert_fails(5, [chat("a", msgs("Hi."))], "no input tokens")
    assert_fails(5, [chat("a", msgs("Hi."), input_tokens=240, window=None)], "unknown")
    assert_fails(5, [chat("a", msgs("Hi."), input_tokens=240, window=200)], "overflow")


# -- 6 ------------------------------------------------------------------------------------------

LAST_ONE = TrimmingSettings("last_n", last_n=1)


def test_last_n_passes_when_the_request_kept_at_most_n_turns():
    call = chat("a", msgs("Two.", "2", "Three."), trimming=LAST_ONE, kept_from=2)
    assert_passes(6, [call])


def test_last_n_fails_with_more_turns_than_n():
    call = chat("a", msgs("One.", "1", "Two.", "2", "Three."), trimming=LAST_ONE, kept_from=0)
    assert_fails(6, [call], "more than the last 1")


def test_trimming_fails_when_off_or_when_nothing_was_trimmed():
    assert_fails(6, [chat("a", msgs("Hi."))], "Trimming is off")
    assert_fails(6, [chat("a", msgs("Hi."), trimming=LAST_ONE)], "Nothing was trimmed")


def test_token_budget_passes_within_and_fails_over_the_budget():
    long = "word " * 150
    budget = TrimmingSettings("token_budget", max_tokens=100)
    within = chat("a", msgs("Short question?"), trimming=budget, kept_from=4)
    assert_passes(6, [within])
    over = chat("a", msgs(long, "ok", "Short question?"), trimming=budget, kept_from=2)
    assert_fails(6, [over], "more than the budget of 100")


# -- 7 ------------------------------------------------------------------------------------------

SUMMARIZE = TrimmingSettings("summarize", max_tokens=150)
SUMMARY = "Summary of the earlier conversation: The user is Alice."


def test_summary_passes_when_it_stands_in_for_the_older_turns():
    first = chat("a", msgs("My name is Alice.", "Hi Alice.", "I like tea."), trimming=SUMMARIZE)
    sent = msgs("What is my name?")
    sent.insert(1, {"role": "system", "content": SUMMARY})
    last = chat("a", sent, trimming=SUMMARIZE, kept_from=4, summary=SUMMARY)
    assert_passes(7, [first, last])


def test_summary_fails_when_the_summarized_messages_are_still_sent():
    first = chat("a", msgs("My name is Alice.", "Hi Alice.", "I like tea."), trimming=SUMMARIZE)
    sent = msgs("My name is Alice.", "Hi Alice.", "What is my name?")
    sent.insert(1, {"role": "system", "content": SUMMARY})
    last = chat("a", sent, trimming=SUMMARIZE, kept_from=2, summary=SUMMARY)
    assert_fails(7, [first, last], "still carried")


def test_summary_fails_without_the_strategy_a_summary_or_its_text_in_the_request():
    assert_fails(7, [chat("a", msgs("Hi."))], "Summarize older turns")
    assert_fails(7, [chat("a", msgs("Hi."), trimming=SUMMARIZE)], "No summary")
    missing = chat("a", msgs("Hi."), trimming=SUMMARIZE, kept_from=2, summary=SUMMARY)
    assert_fails(7, [missing], "not in the request")


# -- 8 ------------------------------------------------------------------------------------------


def test_classes_pass_when_the_second_request_resent_or_chained():
    kept = [chat("s", msgs("My name is Alice.")), chat("s", msgs("My name is Alice.", "Hi", "?"))]
    assert_passes(8, kept)
    chained = [
        responses("s", ["My name is Bob."], response_id="r1"),
        responses("s", ["What's my name?"], response_id="r2", previous="r1"),
    ]
    assert_passes(8, chained)


def test_classes_fail_when_each_request_starts_over():
    forgot = [chat("s", msgs("My name is Alice.")), chat("s", msgs("What is my name?"))]
    assert_fails(8, forgot, "carried only its new message")
    unchained = [
        responses("s", ["My name is Bob."], response_id="r1"),
        responses("s", ["What's my name?"], response_id="r2"),
    ]
    assert_fails(8, unchained, "no previous_response_id")
