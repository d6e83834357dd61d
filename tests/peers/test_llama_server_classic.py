"""The tutorial's classes, by name, against llama.cpp's llama-server through the real SDKs.

Each runs three turns; the third request on the wire must carry the first turn (resent: the
server cannot chain), and nothing may be lost silently.
"""

from __future__ import annotations

import pytest

from chatkit import Chatbot, ConversationManager, ConversationSession, ResponsesConversation
from tests.peers.conftest import MODEL

TURNS = ("My name is Ada.", "I live in a lighthouse.", "Where do I live?")


def user_texts(body: dict) -> list[str]:
    """The user messages a request carried (Chat Completions, Responses or Messages)."""
    items = body.get("messages") or body.get("input") or []
    return [item["content"] for item in items if item["role"] == "user"]


def test_conversation_manager_resends_everything(llama, llama_openai) -> None:
    manager = ConversationManager(system_prompt="You are brief.", model=MODEL)
    for text in TURNS:
        assert manager.get_response(llama_openai, text)
    third = llama.recorder.requests_to("/v1/chat/completions")[-1].body
    assert user_texts(third) == list(TURNS)
    assert third["messages"][0] == {"role": "system", "content": "You are brief."}
    assert len(manager.get_messages()) == 7


def test_responses_conversation_never_loses_the_first_turn(llama, llama_openai) -> None:
    conversation = ResponsesConversation(llama_openai, model=MODEL)
    for text in TURNS:
        assert conversation.send(text)
        assert conversation.last_response_id
    requests = [r.body for r in llama.recorder.requests_to("/v1/responses")]
    # turn 1; turn 2 chained (refused by llama.cpp) then resent; turn 3 resent directly
    assert ["previous_response_id" in body for body in requests] == [False, True, False, False]
    third = requests[-1]
    assert user_texts(third) == list(TURNS)
    assert all(item["type"] == "message" for item in third["input"])
    assert third["instructions"] == conversation.instructions  # resent every turn


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_chatbot_keeps_the_history_within_its_budget(
    sdk: str, llama, llama_openai, llama_anthropic
) -> None:
    client = llama_openai if sdk == "openai" else llama_anthropic
    bot = Chatbot(client, model=MODEL, max_history_tokens=1500)
    for text in TURNS:
        assert bot.chat(text)
    path = "/v1/chat/completions" if sdk == "openai" else "/v1/messages"
    third = llama.recorder.requests_to(path)[-1].body
    assert user_texts(third) == list(TURNS)
    assert not bot.last_trim.dropped  # counted exactly by the server: everything fits


@pytest.mark.parametrize("mode", ["chat", "responses"])
@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_conversation_session_in_both_modes(
    sdk: str, mode: str, llama, llama_openai, llama_anthropic
) -> None:
    client = llama_openai if sdk == "openai" else llama_anthropic
    session = ConversationSession(client, mode=mode, model=MODEL)
    for text in TURNS:
        assert session.send(text)
    path = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}[sdk]
    if sdk == "openai" and mode == "responses":
        path = "/v1/responses"
    third = llama.recorder.requests_to(path)[-1].body
    assert user_texts(third) == list(TURNS)
    assert len(session.messages) == 7
