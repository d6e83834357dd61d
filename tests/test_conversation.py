"""Conversation: turns, cheap copies, and a versioned JSON form that never half-loads."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatkit.conversation import (
    SCHEMA,
    SCHEMA_VERSION,
    Conversation,
    ReplyInfo,
    conversation_from_messages,
)
from chatkit.errors import EmptyMessage, InvalidDocument
from chatkit.messages import Message


def _alice() -> Conversation:
    conversation = Conversation(system_prompt="You are a friendly tutor.")
    conversation.add_user("My name is Alice")
    conversation.add_assistant("Nice to meet you, Alice!")
    conversation.add_user("What is my name?")
    conversation.add_assistant("Your name is Alice!")
    return conversation


# -- building and reading ---------------------------------------------------------------------


def test_the_system_prompt_goes_first_in_what_is_sent() -> None:
    assert _alice().to_messages() == [
        Message("system", "You are a friendly tutor."),
        Message("user", "My name is Alice"),
        Message("assistant", "Nice to meet you, Alice!"),
        Message("user", "What is my name?"),
        Message("assistant", "Your name is Alice!"),
    ]


def test_without_a_system_prompt_nothing_is_prepended() -> None:
    conversation = Conversation()
    conversation.add_user("hi")
    assert conversation.to_messages() == [Message("user", "hi")]


def test_turns_pair_each_user_message_with_its_reply() -> None:
    conversation = _alice()
    conversation.add_user("And my age?")
    turns = conversation.turns
    assert [(t.index, t.user, t.assistant) for t in turns] == [
        (0, Message("user", "My name is Alice"), Message("assistant", "Nice to meet you, Alice!")),
        (1, Message("user", "What is my name?"), Message("assistant", "Your name is Alice!")),
        (2, Message("user", "And my age?"), None),  # still waiting for its reply
    ]


def test_a_greeting_before_any_user_message_is_a_turn_of_its_own() -> None:
    conversation = Conversation(messages=[Message("assistant", "Hi! How can I help?")])
    conversation.add_user("Tell me a joke")
    turns = conversation.turns
    assert [(t.user, t.assistant) for t in turns] == [
        (None, Message("assistant", "Hi! How can I help?")),
        (Message("user", "Tell me a joke"), None),
    ]


def test_turns_carry_what_each_reply_cost() -> None:
    conversation = Conversation()
    conversation.add_user("hi")
    reply = ReplyInfo(provider="openai", model="gpt-4o", input_tokens=9, output_tokens=3)
    conversation.add_assistant("hello", reply)
    assert conversation.turns[0].reply == reply


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_message_is_refused(text: str) -> None:
    conversation = Conversation()
    with pytest.raises(EmptyMessage):
        conversation.add_user(text)
    assert len(conversation) == 0


def test_the_first_user_message_names_the_conversation() -> None:
    conversation = Conversation()
    conversation.add_user("How do I   reverse\na list in Python?")
    conversation.add_user("Something else")
    assert conversation.title == "How do I reverse a list in Python?"
    long = Conversation()
    long.add_user("word " * 40)
    assert len(long.title) <= 60
    assert long.title.endswith("…")


def test_add_accepts_dicts_and_messages() -> None:
    conversation = Conversation()
    conversation.add({"role": "user", "content": "a"})
    conversation.add(Message("assistant", "b"))
    assert conversation.messages == [Message("user", "a"), Message("assistant", "b")]


def test_last_user_text() -> None:
    conversation = _alice()
    assert conversation.last_user_text == "What is my name?"
    assert Conversation().last_user_text is None


def test_a_copy_is_independent_of_the_original() -> None:
    original = _alice()
    duplicate = original.copy()
    assert duplicate == original
    # Cheap: the frozen messages are shared, only the lists are new.
    assert all(a is b for a, b in zip(duplicate.messages, original.messages, strict=True))
    duplicate.add_user("Only in the copy")
    original.add_user("Only in the original")
    assert duplicate.last_user_text == "Only in the copy"
    assert original.last_user_text == "Only in the original"
    assert len(duplicate) == len(original) == 5


def test_clear_forgets_the_turns_but_keeps_the_system_prompt() -> None:
    conversation = _alice()
    conversation.clear()
    assert conversation.to_messages() == [Message("system", "You are a friendly tutor.")]
    assert conversation.turns == []


def test_regenerate_and_edit_start_from_a_copy_and_leave_the_original_alone() -> None:
    conversation = _alice()
    before = conversation.copy()
    regenerate = conversation.branched_at(conversation.trailing_replies_start())
    edit = conversation.branched_at(len(conversation.messages) - 2)
    assert regenerate.messages[-1] == Message("user", "What is my name?")
    assert edit.messages[-1] == Message("assistant", "Nice to meet you, Alice!")
    assert conversation == before


def test_conversation_from_an_api_message_list() -> None:
    conversation = conversation_from_messages(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": "Hi"},
        ]
    )
    assert conversation.system_prompt == "Be brief.\n\nAnswer in French."
    assert conversation.messages == [Message("user", "Hi")]


# -- JSON round trip ----------------------------------------------------------------------------


def test_to_dict_is_a_versioned_document() -> None:
    document = _alice().to_dict()
    assert document["schema"] == SCHEMA
    assert document["version"] == SCHEMA_VERSION
    assert document["system_prompt"] == "You are a friendly tutor."
    assert document["messages"][0] == {"role": "user", "content": "My name is Alice"}


def test_a_saved_conversation_loads_back_the_same() -> None:
    conversation = _alice()
    loaded = Conversation.from_dict(json.loads(json.dumps(conversation.to_dict())))
    assert loaded == conversation
    assert loaded.to_messages() == conversation.to_messages()


def test_calls_made_beside_the_turns_are_saved_without_their_bodies() -> None:
    conversation = _alice()
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Summarize"}]}
    call = ReplyInfo(model="gpt-4o", input_tokens=30, output_tokens=8, request_body=body)
    conversation.extra_calls.append(call)
    document = json.loads(json.dumps(conversation.to_dict()))
    assert document["extra_calls"] == [{"model": "gpt-4o", "input_tokens": 30, "output_tokens": 8}]
    assert Conversation.from_dict(document).extra_calls == [call.without_bodies()]
    assert conversation.to_dict(include_bodies=True)["extra_calls"][0]["request_body"] == body
    assert conversation.copy().extra_calls == conversation.extra_calls
    assert conversation.copy().extra_calls is not conversation.extra_calls
    # A document saved before there were such calls still loads, with none.
    older = _alice().to_dict()
    assert "extra_calls" not in older
    assert Conversation.from_dict(older).extra_calls == []


def test_what_each_reply_cost_survives_saving() -> None:
    conversation = Conversation()
    conversation.add_user("hi")
    reply = ReplyInfo(
        provider="openai",
        model="gpt-4o",
        mode="chat",
        input_tokens=12,
        output_tokens=5,
        cached_input_tokens=0,  # "nothing was cached" is not "unknown"
        request_bytes=321,
        response_id="resp_1",
    )
    conversation.add_assistant("hello", reply)
    loaded = Conversation.from_dict(json.loads(json.dumps(conversation.to_dict())))
    assert loaded.turns[0].reply == reply
    assert loaded.turns[0].reply.cached_input_tokens == 0


def test_request_bodies_are_saved_only_when_asked() -> None:
    conversation = Conversation()
    conversation.add_user("hi")
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    conversation.add_assistant("hello", ReplyInfo(request_body=body))
    assert "request_body" not in json.dumps(conversation.to_dict())
    loaded = Conversation.from_dict(conversation.to_dict(include_bodies=True))
    assert loaded.turns[0].reply.request_body == body


def test_loading_does_not_change_the_document() -> None:
    document = _alice().to_dict()
    before = copy.deepcopy(document)
    Conversation.from_dict(document)
    assert document == before


_text = st.text(max_size=40, alphabet=st.characters(blacklist_categories=("Cs",)))
_unicode_samples = st.sampled_from(
    [
        "你好，世界",
        "こんにちは",
        "مرحبا",
        "नमस्ते",
        "Привет",
        "안녕",
        "👨‍👩‍👧 🇯🇵",
        "a\x00b",
        '"\\\n\t',
    ]
)


@st.composite
def _conversations(draw: st.DrawFn) -> Conversation:
    conversation = Conversation(system_prompt=draw(st.one_of(_text, _unicode_samples)))
    conversation.title = draw(_text)
    for _ in range(draw(st.integers(0, 6))):
        role = draw(st.sampled_from(["user", "assistant", "system", "developer"]))
        text = draw(st.one_of(_text, _unicode_samples))
        name = draw(st.sampled_from([None, "alice", "example_user"]))
        conversation.add(Message(role, text, name))
        if role == "assistant" and draw(st.booleans()):
            position = len(conversation.messages) - 1
            conversation.replies[position] = ReplyInfo(
                provider=draw(_text),
                input_tokens=draw(st.none() | st.integers(0, 10**6)),
                output_tokens=draw(st.none() | st.integers(0, 10**6)),
                cached_input_tokens=draw(st.none() | st.integers(0, 10**6)),
                tokens_estimated=draw(st.booleans()),
                stopped=draw(st.booleans()),
            )
    return conversation


@settings(max_examples=150, deadline=None)
@given(_conversations())
def test_any_conversation_round_trips_through_json(conversation: Conversation) -> None:
    document = conversation.to_dict()
    assert Conversation.from_dict(document) == conversation
    # As a UTF-8 file would hold it:
    saved = json.dumps(document, ensure_ascii=False).encode("utf-8")
    assert Conversation.from_dict(json.loads(saved.decode("utf-8"))) == conversation


# -- malformed documents ------------------------------------------------------------------------


def _document(**changes: object) -> dict:
    document = _alice().to_dict()
    document.update(changes)
    return document


def _with_message(message: object) -> dict:
    document = _alice().to_dict()
    document["messages"].append(message)
    return document


@pytest.mark.parametrize(
    ("document", "says"),
    [
        (None, "not a chatkit conversation"),
        ([], "not a chatkit conversation"),
        ("{}", "not a chatkit conversation"),
        (42, "not a chatkit conversation"),
        ({}, "not a chatkit conversation"),
        (_document(schema="someone.else"), "not a chatkit conversation"),
        (_document(version=None), "no valid version"),
        (_document(version="1"), "no valid version"),
        (_document(version=True), "no valid version"),
        (_document(version=1.0), "no valid version"),
        (_document(version=SCHEMA_VERSION + 1), "newer chatkit"),
        (_document(version=0), "version 0"),
        (_document(messages=None), "no list of messages"),
        (_document(messages={"0": {"role": "user", "content": "hi"}}), "no list of messages"),
        (_document(system_prompt=["be", "brief"]), "system prompt is not text"),
        (_document(title=7), "title is not text"),
        (_document(id=12345), "id is not text"),
        (_document(extra_calls={"model": "gpt-4o"}), "calls made beside its turns"),
        (_document(extra_calls=["free"]), "reply record"),
        (_with_message("hello"), "Message 5 is not an object"),
        (_with_message({"role": "robot", "content": "beep"}), "Message 5: .*'robot'"),
        (_with_message({"role": "user"}), "Message 5: .*missing"),
        (_with_message({"content": "hi"}), "Message 5: .*missing"),
        (_with_message({"role": "user", "content": 3}), "Message 5: .*text"),
        (
            _with_message({"role": "user", "content": [{"type": "image_url"}]}),
            "Message 5: Only text",
        ),
        (_with_message({"role": "user", "content": "hi", "name": 1}), "Message 5: .*name"),
        (_with_message({"role": "assistant", "content": "hi", "reply": "free"}), "reply"),
        (
            _with_message({"role": "assistant", "content": "hi", "reply": {"input_tokens": "9"}}),
            "reply",
        ),
        (
            _with_message({"role": "assistant", "content": "hi", "reply": {"model": ["gpt"]}}),
            "reply",
        ),
    ],
)
def test_a_malformed_document_is_refused_with_a_sentence(document: object, says: str) -> None:
    with pytest.raises(InvalidDocument, match=says) as caught:
        Conversation.from_dict(document)
    sentence = str(caught.value)
    assert sentence[0].isupper() and sentence.endswith(".")


def test_a_future_version_says_to_update_chatkit() -> None:
    with pytest.raises(InvalidDocument) as caught:
        Conversation.from_dict(_document(version=SCHEMA_VERSION + 1))
    assert f"version {SCHEMA_VERSION + 1}" in str(caught.value)
    assert "update chatkit" in str(caught.value)


def test_the_cause_of_a_bad_message_is_kept_for_debugging() -> None:
    with pytest.raises(InvalidDocument) as caught:
        Conversation.from_dict(_with_message({"role": "robot", "content": "beep"}))
    assert isinstance(caught.value.__cause__, InvalidDocument)


def test_unknown_reply_fields_from_the_same_version_are_ignored() -> None:
    document = _with_message(
        {"role": "assistant", "content": "hi", "reply": {"model": "gpt-4o", "latency_ms": 120}}
    )
    assert Conversation.from_dict(document).turns[-1].reply == ReplyInfo(model="gpt-4o")
