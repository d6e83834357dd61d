"""Errors and interruptions from llama.cpp's llama-server, as chatkit reports them.

Context overflow in the server's own words (``exceed_context_size_error``) is ContextTooLong
on every API; a rejected key names the server, not "OpenAI"; a stopped stream keeps what
arrived and leaves the server free for the next turn.
"""

from __future__ import annotations

import time

import anthropic
import openai
import pytest

from chatkit import ConversationManager
from chatkit.conversation import Conversation
from chatkit.errors import AuthenticationFailed, ContextTooLong
from chatkit.messages import Message
from chatkit.providers.anthropic import Anthropic
from chatkit.providers.base import GenerationOptions
from chatkit.providers.openai_chat import OpenAIChat
from chatkit.providers.openai_responses import OpenAIResponses
from chatkit.turn import finish_stopped, finish_turn, prepare_turn
from tests.peers.conftest import MODEL

SHORT = GenerationOptions(max_output_tokens=16)


def providers(llama, openai_client, anthropic_client):
    return {
        "chat": OpenAIChat(model=MODEL, client=openai_client, base_url=llama.openai_base_url),
        "responses": OpenAIResponses(
            model=MODEL, client=openai_client, base_url=llama.openai_base_url
        ),
        "anthropic": Anthropic(model=MODEL, client=anthropic_client),
    }


@pytest.mark.parametrize("kind", ["chat", "responses", "anthropic"])
def test_a_prompt_longer_than_the_context_is_context_too_long(
    kind: str, llama, llama_openai, llama_anthropic
) -> None:
    provider = providers(llama, llama_openai, llama_anthropic)[kind]
    too_long = [Message("user", "lighthouse " * (llama.context_tokens + 500))]
    with pytest.raises(ContextTooLong, match=r"too long for .*context window"):
        provider.stream(too_long, SHORT).finish()
    with pytest.raises(ContextTooLong, match="trimming"):
        provider.complete(too_long, SHORT, stream=False)
    # and the server answered with its own shape, which is what chatkit recognised
    assert llama.recorder.requests[-1].path.startswith("/v1/")


def test_a_rejected_key_names_the_server_not_openai(llama) -> None:
    wrong = openai.OpenAI(base_url=llama.openai_base_url, api_key="sk-wrong", max_retries=0)
    port = llama.recorder.base_url.rsplit(":", 1)[1]
    with pytest.raises(AuthenticationFailed) as failed:
        ConversationManager(model=MODEL).get_response(wrong, "Hello")
    assert str(failed.value).startswith(f"OpenAI-compatible at 127.0.0.1:{port} rejected the")
    wrong_anthropic = anthropic.Anthropic(
        base_url=llama.anthropic_base_url, api_key="sk-wrong", max_retries=0
    )
    with pytest.raises(AuthenticationFailed, match=r"^Anthropic rejected the API key"):
        Anthropic(model=MODEL, client=wrong_anthropic).complete([Message("user", "Hi")])


@pytest.mark.parametrize("kind", ["chat", "responses", "anthropic"])
def test_a_stopped_stream_keeps_what_arrived_and_frees_the_server(
    kind: str, llama, llama_openai, llama_anthropic
) -> None:
    provider = providers(llama, llama_openai, llama_anthropic)[kind]
    long_reply = GenerationOptions(max_output_tokens=400)
    conversation = Conversation(system_prompt="You are a storyteller.")
    prepared = prepare_turn(
        conversation, "Tell me a very long story about a lighthouse.", provider, options=long_reply
    )
    reply = provider.stream(prepared.messages, long_reply, prepared.previous_response_id)
    chunks = []
    for chunk in reply:
        chunks.append(chunk)
        if len(chunks) == 3:
            break
    reply.stop()
    assert reply.result is None and reply.partial_text == "".join(chunks)
    conversation = finish_stopped(prepared, provider, reply.partial_text, long_reply)
    assert conversation.replies[1].stopped
    # the connection closed, so the server gave up the reply instead of writing 400 tokens
    deadline = time.monotonic() + 10
    while llama.generating() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not llama.generating()
    assert "cancel task" in llama.log_tail(20_000)
    prepared = prepare_turn(conversation, "What was the story about?", provider, options=SHORT)
    result = provider.complete(prepared.messages, SHORT, prepared.previous_response_id)
    conversation = finish_turn(prepared, result)
    assert result.usage.output_tokens <= 16
    # the stopped reply is not chained from: the next request carried it as history
    sent = llama.recorder.requests[-1].body
    carried = [item["content"] for item in sent.get("messages") or sent.get("input")]
    assert reply.partial_text in carried
