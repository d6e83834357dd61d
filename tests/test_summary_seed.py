"""A new conversation seeded with a summary of the old one, and the cheap line summary."""

from __future__ import annotations

import pytest

from chatkit.conversation import Conversation
from chatkit.errors import EmptyMessage
from chatkit.messages import Message
from chatkit.providers.openai_chat import OpenAIChat
from chatkit.summary import SEED_HEADING, message_lines, seeded_conversation
from chatkit.turn import send


def old_conversation() -> Conversation:
    conversation = Conversation(system_prompt="You are a helpful assistant.", title="Alice")
    conversation.add_user("My name is Alice.")
    conversation.add_assistant("Nice to meet you, Alice.")
    return conversation


def test_the_seeded_conversation_is_empty_and_carries_the_summary() -> None:
    old = old_conversation()
    seeded = seeded_conversation(old, "  The user's name is Alice.  ")
    assert seeded.messages == [] and seeded.replies == {}
    assert seeded.system_prompt == (
        f"You are a helpful assistant.\n\n{SEED_HEADING}\nThe user's name is Alice."
    )
    assert seeded.id != old.id
    assert seeded.title == "Alice (continued)"
    # The old conversation is untouched.
    assert len(old.messages) == 2 and old.system_prompt == "You are a helpful assistant."


def test_without_an_old_system_prompt_only_the_summary_is_carried() -> None:
    seeded = seeded_conversation(Conversation(), "Name: Alice.")
    assert seeded.system_prompt == f"{SEED_HEADING}\nName: Alice."
    assert seeded.title == ""


def test_an_empty_summary_is_refused() -> None:
    with pytest.raises(EmptyMessage):
        seeded_conversation(old_conversation(), "   ")


def test_the_first_request_of_the_seeded_conversation_carries_the_summary(
    server, openai_client
) -> None:
    provider = OpenAIChat(model="gpt-4o", client=openai_client)
    old, _ = send(old_conversation(), "What is my name?", provider)
    seeded = seeded_conversation(old, "The user's name is Alice.")
    fresh, _ = send(seeded, "Hello again.", provider)
    sent = server.last_request("/chat/completions").body["messages"]
    assert [m["role"] for m in sent] == ["system", "user"]
    assert sent[0]["content"].endswith("The user's name is Alice.")
    assert fresh.messages[0].content == "Hello again."


def test_message_lines_are_role_lines_cut_to_one_line_each() -> None:
    lines = message_lines([Message("user", "My name is\nAlice."), Message("assistant", "x" * 150)])
    first, second = lines.split("\n")
    assert first == "User: My name is Alice."
    assert second.startswith("Assistant: xxx") and second.endswith("…")
    assert len(second) == len("Assistant: ") + 100
    assert message_lines([]) == ""
