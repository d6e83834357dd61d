"""The tutorial's classes, typed as a reader would, against the local protocol server."""

from __future__ import annotations

import pytest

from chatkit import Chatbot, ConversationManager, ConversationSession, ResponsesConversation
from chatkit.conversation import Conversation
from chatkit.errors import AuthenticationFailed
from chatkit.providers.openai_chat import OpenAIChat
from chatkit.summary import summarize


@pytest.mark.parametrize("mode", ["chat", "responses"])
def test_the_tutorial_exercise_runs_verbatim(server, openai_client, mode):
    client = openai_client
    session = ConversationSession(client, mode=mode)
    session.send("My favorite color is blue")
    answer = session.send("What's my favorite color?")
    assert answer == "Your favorite color is blue."
    summary = session.summary()
    assert summary.splitlines()[0] == "User: My favorite color is blue"
    assert "Assistant: Your favorite color is blue." in summary
    assert "..." not in summary and "…" not in summary
    # the model is used as given, in both modes (no "4.1" -> "4o" rewriting)
    assert {r.body["model"] for r in server.requests} == {"gpt-4.1"}


@pytest.mark.parametrize("mode", ["chat", "responses"])
def test_the_exercise_with_an_anthropic_client(server, anthropic_client, mode):
    session = ConversationSession(anthropic_client, mode=mode, model="claude-haiku-4-5")
    session.send("My favorite color is green")
    assert session.send("What's my favorite color?") == "Your favorite color is green."
    if mode == "responses":
        assert session.last_response_id.startswith("resp_local_")


def test_responses_mode_sends_only_the_new_message(server, openai_client):
    session = ConversationSession(openai_client, mode="responses", model="gpt-4.1")
    session.send("My name is Alice.")
    first_id = session.last_response_id
    session.send("What is my name?")
    body = server.last_request("/responses").body
    assert body["previous_response_id"] == first_id
    assert body["input"] == [{"type": "message", "role": "user", "content": "What is my name?"}]
    assert body["instructions"] == "You are a helpful assistant."


def test_summary_cuts_long_lines_with_an_ellipsis_only_when_cut(openai_client):
    session = ConversationSession(openai_client, mode="chat")
    session.send("x" * 150)
    line = session.summary().splitlines()[0]
    assert line == "User: " + "x" * 99 + "…"


def test_an_unknown_mode_is_a_clear_value_error(openai_client):
    with pytest.raises(ValueError, match="'chat' or 'responses'"):
        ConversationSession(openai_client, mode="completions")


def test_reset_starts_over(server, openai_client):
    session = ConversationSession(openai_client, mode="responses")
    session.send("My name is Alice.")
    session.reset()
    assert session.last_response_id is None
    assert session.messages == [{"role": "system", "content": "You are a helpful assistant."}]
    assert session.send("What is my name?") == "I don't know your name."


def test_conversation_manager(server, openai_client):
    conv = ConversationManager(system_prompt="You are a friendly tutor.")
    conv.get_response(openai_client, "My name is Alice.")
    assert conv.get_response(openai_client, "What is my name?") == "Your name is Alice."
    sent = server.last_request("/chat/completions").body
    assert len(sent["messages"]) == 4 and sent["model"] == "gpt-4o"
    copy = conv.get_messages()
    copy[0]["content"] = "changed"
    assert conv.messages[0]["content"] == "You are a friendly tutor."
    conv.clear()
    assert conv.messages == [{"role": "system", "content": "You are a friendly tutor."}]


def test_a_failed_call_leaves_the_history_as_it_was(server, openai_client):
    conv = ConversationManager()
    conv.get_response(openai_client, "Hello")
    before = conv.get_messages()
    server.fail_next("401")
    with pytest.raises(AuthenticationFailed):
        conv.get_response(openai_client, "Again")
    assert conv.get_messages() == before


def test_responses_conversation(server, openai_client):
    conv = ResponsesConversation(openai_client)
    conv.send("My name is Bob")
    assert conv.send("What's my name?") == "Your name is Bob."
    assert server.last_request("/responses").body["model"] == "gpt-4.1"
    conv.reset()
    assert conv.last_response_id is None
    assert conv.send("What's my name?") == "I don't know your name."


def test_responses_conversation_recovers_from_an_expired_chain(server, openai_client):
    conv = ResponsesConversation(openai_client)
    conv.send("My name is Bob")
    server.reset()  # the server forgot; chatkit's own store still has the chain
    assert conv.send("What's my name?") == "Your name is Bob."


def test_chatbot_trims_by_tokens_not_by_message_count(server, openai_client):
    bot = Chatbot(client=openai_client, system_prompt="Be brief.", max_history_tokens=120)
    bot.chat("My name is Alice.")
    for number in range(6):
        bot.chat(f"Here is a fairly long sentence number {number} to fill the context window up.")
    sent = server.last_request("/chat/completions").body["messages"]
    assert sent[0]["role"] == "system"
    assert len(sent) < len(bot.messages) - 1, "older turns were left out of the request"
    assert len(bot.messages) == 1 + 2 * 7, "but the chatbot keeps the whole history"
    assert bot.last_trim.dropped
    bot.clear_history()
    assert bot.messages == [{"role": "system", "content": "Be brief."}]


def test_chatbot_works_with_a_chatkit_provider(server, openai_client):
    bot = Chatbot(client=OpenAIChat(model="gpt-4o-mini", client=openai_client))
    bot.chat("My name is Alice.")
    assert bot.chat("What is my name?") == "Your name is Alice."
    assert server.last_request("/chat/completions").body["model"] == "gpt-4o-mini"


def test_summarize_asks_the_model_for_a_summary(server, openai_client):
    conversation = Conversation(system_prompt="Be brief.")
    conversation.add_user("My name is Alice.")
    conversation.add_assistant("Nice to meet you.")
    text = summarize(conversation, OpenAIChat(model="gpt-4o", client=openai_client))
    assert text.startswith("Summary:")
    sent = server.last_request("/chat/completions").body["messages"]
    assert "My name is Alice." in sent[-1]["content"]
