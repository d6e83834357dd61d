"""One turn end to end: trimming, chaining, context checks, stop and failure handling."""

from __future__ import annotations

import pytest

from chatkit.conversation import Conversation
from chatkit.errors import ContextOverflow, EmptyMessage
from chatkit.providers.base import GenerationOptions
from chatkit.providers.openai_chat import OpenAIChat
from chatkit.turn import (
    TrimmingSettings,
    chain_from,
    finish_stopped,
    finish_turn,
    make_strategy,
    prepare_turn,
    send,
)
from chatkit.turn_queue import TurnRequest


def test_a_turn_records_usage_and_bytes(server, chat_provider):
    conversation, result = send(Conversation(system_prompt="Be brief."), "Hi there.", chat_provider)
    info = conversation.replies[1]
    assert info.input_tokens == result.usage.input_tokens
    assert info.request_bytes == result.request_bytes > 0
    assert info.mode == "chat" and info.provider == "OpenAI" and info.model == "gpt-4o"


def test_empty_input_is_refused_and_nothing_changes(chat_provider):
    conversation = Conversation()
    with pytest.raises(EmptyMessage):
        prepare_turn(conversation, "   ", chat_provider)
    assert conversation.messages == []


def test_oversized_input_gives_a_clear_message(chat_provider):
    with pytest.raises(ContextOverflow, match="characters"):
        prepare_turn(Conversation(), "x" * 200_000, chat_provider)


def test_input_beyond_the_context_window_offers_trimming(openai_client):
    provider = OpenAIChat(model="tiny", client=openai_client, context_window_tokens=50)
    conversation = Conversation(system_prompt="Be brief.")
    for number in range(5):
        conversation.add_user(f"question {number} " * 5)
        conversation.add_assistant(f"answer {number} " * 5)
    with pytest.raises(ContextOverflow, match="turn on Trimming") as caught:
        prepare_turn(conversation, "and now?", provider)
    assert caught.value.over_by > 0
    strategy = make_strategy(TrimmingSettings("token_budget", max_tokens=40), provider)
    prepared = prepare_turn(conversation, "and now?", provider, strategy)
    assert prepared.prompt_tokens <= 40
    assert prepared.messages[-1].content == "and now?"


def test_regenerate_resends_the_last_user_message(server, chat_provider):
    conversation, _ = send(Conversation(), "My name is Alice.", chat_provider)
    again, _ = send(TurnRequest(None).base(conversation), None, chat_provider)  # Regenerate
    assert len(again.messages) == 2
    assert server.last_request("/chat/completions").body["messages"][-1]["content"] == (
        "My name is Alice."
    )


def test_responses_turns_chain_and_a_switch_of_mode_starts_over(
    server, chat_provider, responses_provider
):
    conversation, _ = send(Conversation(), "My name is Alice.", chat_provider)
    assert chain_from(conversation, responses_provider) is None  # made in chat mode
    conversation, first = send(conversation, "My favorite color is red.", responses_provider)
    assert "previous_response_id" not in server.last_request("/responses").body
    assert len(server.last_request("/responses").body["input"]) == 3, "full history starts a chain"
    assert chain_from(conversation, responses_provider) == first.response_id
    conversation, second = send(conversation, "What is my name?", responses_provider)
    assert second.text == "Your name is Alice."
    # back to chat mode: the whole history is resent and still answers from turn one
    conversation, third = send(conversation, "What's my favorite color?", chat_provider)
    assert third.text == "Your favorite color is red."


def test_trimming_in_responses_mode_starts_a_new_chain(server, responses_provider):
    conversation = Conversation()
    for number in range(4):
        conversation, _ = send(
            conversation, f"Fact number {number} is long enough.", responses_provider
        )
    strategy = make_strategy(TrimmingSettings("last_n", last_n=1), responses_provider)
    prepared = prepare_turn(conversation, "And now?", responses_provider, strategy)
    assert prepared.previous_response_id is None
    assert "new chain" in prepared.note


def test_a_stopped_reply_is_kept_and_marked(server, chat_provider):
    prepared = prepare_turn(Conversation(), "Tell me a story.", chat_provider)
    reply = chat_provider.stream(prepared.messages)
    next(iter(reply))
    reply.stop()
    conversation = finish_stopped(prepared, chat_provider, reply.partial_text, GenerationOptions())
    assert conversation.messages[-1].content == reply.partial_text
    assert conversation.replies[1].stopped
    assert conversation.replies[1].request_bytes > 0


def test_finish_turn_does_not_touch_the_original(server, chat_provider):
    original = Conversation()
    prepared = prepare_turn(original, "Hello", chat_provider)
    result = chat_provider.complete(prepared.messages)
    finished = finish_turn(prepared, result)
    assert original.messages == [] and len(finished.messages) == 2
