"""Importing a conversation: anything malformed, foreign or too big is one clear sentence."""

from __future__ import annotations

import json

import pytest

from chatkit.conversation import Conversation, ReplyInfo
from chatkit.errors import InvalidDocument
from chatkit.export import from_json, to_json


def _document(**changes: object) -> dict:
    conversation = Conversation(system_prompt="Be brief.")
    conversation.add_user("My name is Alice.")
    conversation.add_assistant("Hello, Alice!", ReplyInfo(model="gpt-4o", input_tokens=9))
    document = conversation.to_dict()
    document.update(changes)
    return document


def _with_reply(**reply: object) -> str:
    document = _document()
    document["messages"][1]["reply"].update(reply)
    return json.dumps(document)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("[" * 100_000 + "]" * 100_000, "nests its data too deeply"),
        ('{"n": ' + "9" * 5000 + "}", "number too large"),
        (json.dumps(_document(created_at="yesterday")), "is not a date"),
        (_with_reply(input_tokens=-5), "input_tokens is negative"),
        (_with_reply(output_tokens=10**15), "implausibly large"),
        (
            json.dumps(_document(messages=[{"role": "user", "content": "hi"}] * 2001)),
            "2,001 messages, more than the 2,000",
        ),
        (
            json.dumps(_document(messages=[{"role": "user", "content": "x" * 3000}])),
            "3,009 characters, more than the 1,000",
        ),
    ],
)
def test_each_bad_import_gives_its_sentence(content: str, says: str) -> None:
    with pytest.raises(InvalidDocument, match=says):
        from_json(content, max_messages=2000, max_chars=1000)


def test_imported_bodies_are_not_kept_as_if_this_app_sent_them() -> None:
    document = _document()
    document["messages"][1]["reply"]["request_body"] = {"model": "x", "nested": {"a": 1}}
    imported = from_json(json.dumps(document))
    assert imported.replies[1].request_body is None
    assert imported.replies[1].input_tokens == 9


def test_a_good_file_round_trips() -> None:
    conversation = Conversation.from_dict(_document())
    assert from_json(to_json(conversation)).messages == conversation.messages
