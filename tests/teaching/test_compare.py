"""Stateless vs. manual history vs. chaining, against the local protocol server."""

from __future__ import annotations

import pytest

from chatkit.errors import ChatkitError
from chatkit.messages import Message
from chatkit.providers import ProviderSpec, make_provider
from chatkit.providers.calls import request_size
from chatkit.providers.openai_chat import OpenAIChat
from chatkit.providers.openai_responses import OpenAIResponses, responses_request
from chatkit.teaching.compare import (
    CHAINED,
    DEFAULT_SCRIPT,
    MANUAL,
    STATELESS,
    WAY_SHORT_LABELS,
    WAYS,
    ComparisonResult,
    run_comparison,
    script_lines,
    trimming_words,
)
from chatkit.turn import TrimmingSettings

MODEL = "claude-sonnet-4-6"


def run_all(generator):
    """Drain a comparison: every progress step, and the returned result."""
    steps = []
    while True:
        try:
            steps.append(next(generator))
        except StopIteration as finished:
            return steps, finished.value


@pytest.fixture
def openai_pair(openai_client):
    return (
        OpenAIChat(model="gpt-4o", client=openai_client),
        OpenAIResponses(model="gpt-4o", client=openai_client),
    )


@pytest.fixture
def anthropic_pair(anthropic_client):
    """What the Compare page builds for Anthropic: Responses mode goes through the local store."""
    return (
        make_provider(ProviderSpec("Anthropic", "chat", MODEL), client=anthropic_client),
        make_provider(ProviderSpec("Anthropic", "responses", MODEL), client=anthropic_client),
    )


def replies(result: ComparisonResult, way: str) -> list[str]:
    return [call.reply for call in result.calls_of(way)]


def test_script_lines_are_the_non_blank_lines() -> None:
    assert script_lines("  My name is Alice. \n\n What is my name?\n   \n") == [
        "My name is Alice.",
        "What is my name?",
    ]


def test_only_the_stateless_way_forgets_the_name(server, openai_pair) -> None:
    _, result = run_all(run_comparison(DEFAULT_SCRIPT, *openai_pair, system_prompt="Be brief."))
    assert replies(result, STATELESS)[1] == "I don't know your name."
    assert replies(result, STATELESS)[3] == "I don't know your favorite color."
    for way in (MANUAL, CHAINED):
        assert replies(result, way)[1] == "Your name is Alice."
        assert replies(result, way)[3] == "Your favorite color is blue."
        assert replies(result, way)[4] == "Your name is Alice."
    assert result.finished and not result.chained_locally


def test_progress_is_reported_after_every_call(server, openai_pair) -> None:
    steps, result = run_all(run_comparison(["My name is Alice.", "What is my name?"], *openai_pair))
    assert [step.done for step in steps] == [1, 2, 3, 4, 5, 6]
    assert all(step.total == 6 for step in steps)
    assert [(step.latest.turn, step.latest.way) for step in steps] == [
        (1, STATELESS),
        (1, MANUAL),
        (1, CHAINED),
        (2, STATELESS),
        (2, MANUAL),
        (2, CHAINED),
    ]
    assert steps[2].text.startswith("Turn 1 of 2")
    assert steps[-1].result == result
    assert len(result.transcript(MANUAL)) == 4


def test_chaining_sends_fewer_bytes_but_is_billed_for_the_whole_history(server, openai_pair):
    _, result = run_all(run_comparison(DEFAULT_SCRIPT, *openai_pair, system_prompt="Be brief."))
    manual, chained = result.calls_of(MANUAL), result.calls_of(CHAINED)
    last = len(DEFAULT_SCRIPT) - 1
    # The manual array grows every turn; the chained request stays small.
    assert manual[last].request_bytes > 2 * manual[0].request_bytes
    assert chained[last].request_bytes < manual[last].request_bytes
    assert chained[last].request_bytes < 1.5 * chained[1].request_bytes
    # Yet both are billed for every earlier turn: input tokens grow the same way.
    assert chained[last].input_tokens > 3 * chained[0].input_tokens
    assert chained[last].input_tokens == manual[last].input_tokens
    # The stateless calls are billed only for one message each.
    assert max(c.input_tokens for c in result.calls_of(STATELESS)) < manual[last].input_tokens
    # The chained bytes are those of the real request the server received.
    sent = server.requests_to("/responses")[-1].body
    assert "previous_response_id" in sent
    assert chained[last].request_bytes == request_size(sent)


def test_locally_chained_bytes_are_the_request_handed_to_the_store(server, anthropic_pair):
    _, result = run_all(run_comparison(["My name is Alice.", "What is my name?"], *anthropic_pair))
    assert result.chained_locally
    assert replies(result, STATELESS)[1] == "I don't know your name."
    assert replies(result, CHAINED)[1] == "Your name is Alice."
    first, second = result.calls_of(CHAINED)
    assert first.response_id.startswith("resp_local_")
    # What the client handed the local store: the new input and the previous response id.
    handed = responses_request(
        [Message("user", "What is my name?")], MODEL, previous_response_id=first.response_id
    )
    assert second.request_bytes == request_size(handed)
    # The model itself received the whole history, which is larger.
    assert second.model_received_bytes == request_size(server.requests_to("/messages")[-1].body)
    assert second.model_received_bytes > second.request_bytes
    # And it was billed for all of it, as the manual array was.
    assert second.input_tokens == result.calls_of(MANUAL)[1].input_tokens


def test_chart_rows_name_every_way_and_turn(server, openai_pair) -> None:
    _, result = run_all(run_comparison(["Hello there.", "How are you?"], *openai_pair))
    rows = result.chart_rows()
    assert len(rows) == 6
    assert {row["way"] for row in rows} == {WAY_SHORT_LABELS[way] for way in WAYS}
    assert {row["turn"] for row in rows} == {1, 2}
    assert all(row["bytes sent"] > 0 and row["input tokens"] > 0 for row in rows)
    assert result.total_bytes(MANUAL) == sum(c.request_bytes for c in result.calls_of(MANUAL))


def test_a_failing_call_stops_the_run_with_a_plain_error(server, openai_pair) -> None:
    generator = run_comparison(["My name is Alice.", "What is my name?"], *openai_pair)
    first = next(generator)
    assert first.latest.way == STATELESS
    server.fail_next("401")
    with pytest.raises(ChatkitError):
        next(generator)


# -- trimming, pins and leave-outs -------------------------------------------------------------

SCRIPT = ("My name is Alice.", "My favorite color is blue.", "Hello there.", "What is my name?")


def contents(body) -> list[str]:
    """The texts of a Chat Completions or Responses request."""
    items = body.get("messages") or body.get("input") or []
    if isinstance(items, str):
        return [items]
    texts = []
    for item in items:
        content = item.get("content")
        if isinstance(content, list):
            texts += [part.get("text", "") for part in content]
        else:
            texts.append(content)
    return texts


def test_a_left_out_turn_is_never_sent_again_in_any_way(server, openai_pair) -> None:
    _, result = run_all(run_comparison(SCRIPT, *openai_pair, in_context={2: "left_out"}))
    # The last two turns: stateless and manual share Chat Completions, chaining has Responses.
    later = server.requests_to("/chat/completions")[-4:] + server.requests_to("/responses")[-2:]
    assert all("My favorite color is blue." not in contents(r.body) for r in later)
    assert replies(result, MANUAL)[3] == "Your name is Alice."
    assert replies(result, CHAINED)[3] == "Your name is Alice."
    assert result.calls_of(MANUAL)[3].seen_turns == (1, 3)
    assert result.calls_of(CHAINED)[3].seen_turns == (1, 3)
    # The chain held the left-out message: the next call started a new chain, and said so.
    assert "started a new chain" in result.calls_of(CHAINED)[2].note
    assert "previous_response_id" in server.requests_to("/responses")[-1].body


def test_a_pinned_turn_survives_trimming_in_the_manual_and_chained_ways(server, openai_pair):
    trimming = TrimmingSettings("last_n", last_n=1)
    _, plain = run_all(run_comparison(SCRIPT, *openai_pair, trimming=trimming))
    assert replies(plain, MANUAL)[3] == "I don't know your name."
    _, pinned = run_all(
        run_comparison(SCRIPT, *openai_pair, trimming=trimming, in_context={1: "pinned"})
    )
    for way in (MANUAL, CHAINED):
        assert replies(pinned, way)[3] == "Your name is Alice."
        assert pinned.calls_of(way)[3].seen_turns == (1, 3)
    assert "My name is Alice." in contents(server.requests_to("/chat/completions")[-1].body)
    assert replies(pinned, STATELESS)[3] == "I don't know your name."


def test_summary_calls_of_the_trimming_are_counted_in_the_totals(server, openai_pair) -> None:
    trimming = TrimmingSettings("summarize", max_tokens=60)
    _, result = run_all(run_comparison(SCRIPT, *openai_pair, trimming=trimming))
    manual = result.calls_of(MANUAL)
    assert sum(call.summary_calls for call in manual) > 0
    assert result.total_input_tokens(MANUAL) == sum(
        call.input_tokens + call.summary_input_tokens for call in manual
    )
    assert result.total_input_tokens(MANUAL) > sum(call.input_tokens for call in manual)


def test_trimming_words_name_the_setting() -> None:
    assert trimming_words(TrimmingSettings()) == "none"
    assert trimming_words(TrimmingSettings("last_n", last_n=2)) == "Last N turns (2)"
    assert trimming_words(TrimmingSettings("token_budget", max_tokens=4000)) == (
        "Token budget (4,000 tokens)"
    )
