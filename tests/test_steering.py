"""Pin and leave out, message by message: every strategy and every API mode honours them.

A pinned message is always in the request (trimming never drops it, a summary never replaces
it); a left-out one never is; Anthropic's roles still alternate; a Responses chain continues
only while it holds exactly what the turn would send.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chatkit.conversation import Conversation
from chatkit.errors import ContextOverflow, InvalidDocument
from chatkit.export import from_json, to_json
from chatkit.messages import Message
from chatkit.providers.anthropic import Anthropic
from chatkit.providers.anthropic_messages import anthropic_request
from chatkit.replies import ReplyInfo
from chatkit.teaching.inspector import messages_for_turn
from chatkit.tokens import count_tokens
from chatkit.trimming import (
    LEFT_OUT_REASON,
    Chain,
    KeepAll,
    LastNTurns,
    SummarizeOlder,
    TokenBudget,
)
from chatkit.turn import TrimmingSettings, make_strategy, prepare_turn, send


def _summarize(messages) -> str:
    return f"{len(messages)} earlier messages."


def _turns(count: int) -> list[Message]:
    messages = [Message("system", "Be brief.")]
    for number in range(count):
        messages += [
            Message("user", f"question {number} " + "why " * 8),
            Message("assistant", f"answer {number} " + "because " * 8),
        ]
    return [*messages, Message("user", "And now?")]


STRATEGIES = {
    "none": KeepAll(),
    "last_n": LastNTurns(1),
    "token_budget": TokenBudget(90),
    "summarize": SummarizeOlder(120, _summarize),
    "chain": Chain((LastNTurns(3), TokenBudget(90))),
}


@pytest.mark.parametrize("name", STRATEGIES)
def test_a_pinned_old_message_is_sent_by_every_strategy(name: str) -> None:
    messages = _turns(5)
    messages[1] = replace(messages[1], in_context="pinned")
    result = STRATEGIES[name].apply(messages)
    assert messages[1] in result.messages
    assert 1 not in result.dropped_indices
    if result.summary is not None:
        assert "question 0" not in result.summary.content  # never summarized away
    assert result.messages[-1] == messages[-1]


@pytest.mark.parametrize("name", STRATEGIES)
def test_a_left_out_message_is_sent_by_no_strategy(name: str) -> None:
    messages = _turns(5)
    messages[-3] = replace(messages[-3], in_context="left_out")  # the newest question
    result = STRATEGIES[name].apply(messages)
    assert messages[-3] not in result.messages
    assert [d.reason for d in result.dropped if d.index == len(messages) - 3] == [LEFT_OUT_REASON]


@pytest.mark.parametrize("name", STRATEGIES)
def test_the_current_message_is_sent_even_when_left_out(name: str) -> None:
    messages = _turns(2)
    messages[-1] = replace(messages[-1], in_context="left_out")
    assert STRATEGIES[name].apply(messages).messages[-1] == messages[-1]


def test_pinned_messages_count_against_the_budget_and_say_so_when_too_big() -> None:
    messages = _turns(3)
    messages[1] = replace(messages[1], content="long " * 200, in_context="pinned")
    with pytest.raises(ContextOverflow, match="pinned"):
        TokenBudget(100).apply(messages)


def test_a_budget_keeps_fewer_turns_to_make_room_for_a_pin() -> None:
    messages = _turns(6)
    plain = TokenBudget(150).apply(messages)
    messages[1] = replace(messages[1], in_context="pinned")
    pinned = TokenBudget(150).apply(messages)
    assert count_tokens(pinned.messages) <= 150
    assert len(pinned.messages) < len(plain.messages) + 1


# -- properties ------------------------------------------------------------------------------

_choice = st.sampled_from(["auto", "auto", "pinned", "left_out"])
_text = st.sampled_from(["hi", "the budget", "Alice lives in Paris.", "ok " * 20, "👍🏽 你好"])


@st.composite
def _steered(draw: st.DrawFn) -> list[Message]:
    messages: list[Message] = []
    if draw(st.booleans()):
        messages.append(Message("system", "Be brief."))
    for _ in range(draw(st.integers(0, 6))):
        messages.append(Message("user", draw(_text), in_context=draw(_choice)))
        messages.append(Message("assistant", draw(_text), in_context=draw(_choice)))
    if draw(st.booleans()):
        messages.append(Message("user", draw(_text), in_context=draw(_choice)))
    return messages


_strategies = st.one_of(
    st.just(KeepAll()),
    st.integers(0, 4).map(LastNTurns),
    st.integers(20, 300).map(TokenBudget),
    st.integers(20, 300).map(lambda n: SummarizeOlder(n, _summarize)),
)


@settings(max_examples=150, deadline=None)
@given(messages=_steered(), strategy=_strategies)
def test_pins_are_always_sent_left_outs_never_and_anthropic_roles_alternate(
    messages: list[Message], strategy
) -> None:
    try:
        result = strategy.apply(messages)
    except ContextOverflow:
        assume(False)
        return
    pending = len(messages) - 1 if messages and messages[-1].role == "user" else None
    sent = [m for m in result.messages if m is not result.summary]
    for index, message in enumerate(messages):
        if message.pinned or index == pending:
            assert message in sent
        elif message.left_out:
            assert all(m is not message for m in sent)
            assert index in result.dropped_indices
    roles = [m["role"] for m in anthropic_request(result.messages, "claude")["messages"]]
    assert all(a != b for a, b in itertools.pairwise(roles))
    assert not roles or roles[0] == "user"


# -- saved, exported, imported ---------------------------------------------------------------


def test_pins_and_leave_outs_round_trip_through_export_and_old_exports_still_import() -> None:
    conversation = Conversation(system_prompt="Be brief.")
    conversation.add_user("My name is Alice.")
    conversation.add_assistant("Hello Alice.")
    conversation = conversation.with_in_context(0, "pinned").with_in_context(1, "left_out")
    document = json.loads(to_json(conversation))
    assert [m.get("in_context") for m in document["messages"]] == ["pinned", "left_out"]
    back = from_json(to_json(conversation))
    assert [m.in_context for m in back.messages] == ["pinned", "left_out"]
    for item in document["messages"]:
        item.pop("in_context")  # what an export from before pins looks like
    assert [m.in_context for m in from_json(json.dumps(document)).messages] == ["auto", "auto"]


def test_an_unknown_choice_in_a_file_is_refused_in_one_sentence() -> None:
    document = {
        "schema": "chatkit.conversation",
        "version": 2,
        "messages": [{"role": "user", "content": "hi", "in_context": "always"}],
    }
    with pytest.raises(InvalidDocument, match="in_context"):
        from_json(json.dumps(document))


def test_a_reply_record_keeps_what_its_model_did_not_see() -> None:
    info = ReplyInfo(provider="OpenAI", unseen=(0, 3))
    assert info.to_dict()["unseen"] == [0, 3]
    assert ReplyInfo.from_dict(info.to_dict()) == info
    with pytest.raises(InvalidDocument, match="unseen"):
        ReplyInfo.from_dict({"unseen": ["0"]})


# -- the API modes, against the test server ---------------------------------------------------


def _contents(body: dict, key: str) -> list[str]:
    return [item["content"] for item in body[key] if isinstance(item.get("content"), str)]


def test_chat_completions_sends_the_pin_and_not_the_left_out(server, chat_provider) -> None:
    conversation = Conversation()
    for text in ("My name is Alice.", "I live in Paris.", "I like tea.", "I have a cat."):
        conversation, _ = send(conversation, text, chat_provider)
    conversation = conversation.with_in_context(0, "pinned").with_in_context(6, "left_out")
    # Left out, "I have a cat." is no turn of its own: the last turn is "I like tea." and the
    # two replies after it.
    strategy = make_strategy(TrimmingSettings("last_n", last_n=1), chat_provider)
    conversation, _ = send(conversation, "What is my name?", chat_provider, strategy)
    sent = _contents(server.last_request("/chat/completions").body, "messages")
    assert "My name is Alice." in sent and "I have a cat." not in sent
    assert "I live in Paris." not in sent  # trimmed: older than the last turn
    info = conversation.replies[len(conversation.messages) - 1]
    assert "You left out 1 earlier message" in info.trimmed
    rebuilt = [m.content for m in messages_for_turn(conversation, len(conversation.messages) - 1)]
    assert rebuilt == [c for c in sent]  # the inspector rebuilds what was really sent


def test_responses_stops_chaining_from_a_chain_that_holds_a_left_out_message(
    server, responses_provider
) -> None:
    conversation = Conversation()
    for text in ("My name is Alice.", "I live in Paris."):
        conversation, _ = send(conversation, text, responses_provider)
    prepared = prepare_turn(conversation, "And now?", responses_provider)
    assert prepared.previous_response_id is not None  # nothing left out: the chain goes on
    conversation = conversation.with_in_context(2, "left_out")
    prepared = prepare_turn(conversation, "Where do I live?", responses_provider)
    assert prepared.previous_response_id is None
    assert "You left out a message the stored chain holds" in prepared.note
    conversation, _ = send(conversation, "Where do I live?", responses_provider)
    body = server.last_request("/responses").body
    assert "previous_response_id" not in body
    assert "I live in Paris." not in _contents(body, "input")
    # The new chain lacks exactly the left-out message: the next turn continues it.
    prepared = prepare_turn(conversation, "And my name?", responses_provider)
    assert prepared.previous_response_id == conversation.replies[5].response_id
    assert prepared.note == ""
    # Put back, the message is missing from that chain: a new one starts with it.
    conversation = conversation.with_in_context(2, "auto")
    prepared = prepare_turn(conversation, "And my name?", responses_provider)
    assert prepared.previous_response_id is None and "lacks a message" in prepared.note


def test_anthropic_messages_merge_around_a_left_out_reply(server, anthropic_client) -> None:
    provider = Anthropic(model="claude-haiku-4-5", client=anthropic_client)
    conversation = Conversation(system_prompt="Be brief.")
    for text in ("My name is Alice.", "I live in Paris."):
        conversation, _ = send(conversation, text, provider)
    conversation = conversation.with_in_context(1, "left_out")  # the first reply
    send(conversation, "Where do I live?", provider)
    body = server.last_request("/messages").body
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert body["messages"][0]["content"] == "My name is Alice.\nI live in Paris."
    assert body["system"] == "Be brief."
