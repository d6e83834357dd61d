"""What real OpenAI-compatible servers do differently, through the real SDKs against tests/server.

tests/server plays llama.cpp's quirks on request (no chaining, typed items only, its error
shapes, vLLM's count endpoint); tests/peers runs the same against llama.cpp's own server.
"""

from __future__ import annotations

import socket
import time

import pytest

from chatkit import ConversationManager, ResponsesConversation
from chatkit.conversation import Conversation
from chatkit.errors import ContextTooLong, ProviderUnavailable, UnknownModel
from chatkit.messages import Message
from chatkit.providers import LocallyChained
from chatkit.providers.anthropic import Anthropic
from chatkit.providers.base import GenerationOptions
from chatkit.providers.openai_chat import OpenAIChat
from chatkit.providers.openai_responses import OpenAIResponses
from chatkit.providers.server_tokens import forget_server_counts
from chatkit.tokens import count_message_tokens
from chatkit.turn import finish_turn, prepare_turn, send

HISTORY = [
    Message("system", "Be brief."),
    Message("user", "My favorite color is blue."),
    Message("assistant", "Noted."),
    Message("user", "What's my favorite color?"),
]


@pytest.fixture(autouse=True)
def fresh_counts():
    forget_server_counts()
    yield
    forget_server_counts()


def like_llama_cpp(server) -> None:
    server.supports_previous_response_id = False
    server.requires_typed_items = True


# -- Responses input items and the fallback ------------------------------------------------


def test_every_responses_input_item_is_typed(server, openai_client) -> None:
    provider = OpenAIResponses(model="gpt-4.1", client=openai_client)
    conversation = Conversation(system_prompt="Be brief.")
    for text in ("My name is Alice.", "My favorite color is blue.", "What is my name?"):
        conversation, _ = send(conversation, text, provider)
    server.reset()  # the server forgets the chain: the turn falls back to the whole history
    conversation, result = send(conversation, "What's my favorite color?", provider)
    assert result.text == "Your favorite color is blue."
    bodies = [r.body for r in server.requests_to("/responses")]
    assert len(bodies[-1]["input"]) == 7
    for body in bodies:
        assert all(item["type"] == "message" for item in body["input"])


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "plain"])
def test_a_server_that_cannot_chain_gets_the_whole_typed_history_every_turn(
    server, openai_client, streamed: bool
) -> None:
    like_llama_cpp(server)
    provider = OpenAIResponses(model="local", client=openai_client)
    conversation = Conversation(system_prompt="Be brief.")
    notes = []
    for text in ("My name is Alice.", "My favorite color is green.", "What is my name?"):
        prepared = prepare_turn(conversation, text, provider)
        result = provider.complete(
            prepared.messages, previous_response_id=prepared.previous_response_id, stream=streamed
        )
        conversation = finish_turn(prepared, result)
        notes.append(result.note)
    assert result.text == "Your name is Alice."
    last = server.last_request("/responses").body
    assert next(item["content"] for item in last["input"]) == "My name is Alice."
    assert "previous_response_id" not in last and len(last["input"]) == 5
    assert "cannot chain" in notes[1] and "from now on" in notes[1]
    assert "full history (5 messages)" in notes[2]


def test_the_classic_responses_conversation_keeps_its_context_on_a_server_that_cannot_chain(
    server, openai_client
) -> None:
    like_llama_cpp(server)
    conversation = ResponsesConversation(openai_client, model="local")
    conversation.send("My name is Alice.")
    conversation.send("My favorite color is green.")
    assert conversation.send("What is my name?") == "Your name is Alice."
    third = server.last_request("/responses").body
    # the third request carries the first turn: resent, since the server cannot chain
    assert third["input"][0] == {"type": "message", "role": "user", "content": "My name is Alice."}
    assert conversation.last_response_id  # and the conversation can go on from it
    assert conversation.send("What's my favorite color?") == "Your favorite color is green."


def test_the_note_says_when_no_history_could_be_found(server, openai_client) -> None:
    server.supports_previous_response_id = False
    provider = OpenAIResponses(model="local", client=openai_client)
    result = provider.complete(
        [Message("user", "What is my name?")], previous_response_id="resp_unknown"
    )
    assert "no record of response resp_unknown" in result.note
    assert "without the earlier conversation" in result.note


# -- plain (not streamed) requests ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["chat", "responses", "anthropic", "anthropic-responses"])
def test_complete_without_streaming_sends_one_plain_request(
    server, openai_client, anthropic_client, kind: str
) -> None:
    provider = {
        "chat": lambda: OpenAIChat(model="gpt-4o", client=openai_client),
        "responses": lambda: OpenAIResponses(model="gpt-4.1", client=openai_client),
        "anthropic": lambda: Anthropic(model="claude-haiku-4-5", client=anthropic_client),
        "anthropic-responses": lambda: LocallyChained(
            inner=Anthropic(model="claude-haiku-4-5", client=anthropic_client)
        ),
    }[kind]()
    result = provider.complete(HISTORY, GenerationOptions(max_output_tokens=40), stream=False)
    assert result.text == "Your favorite color is blue."
    sent = server.requests[-1].body
    assert "stream" not in sent and "stream_options" not in sent
    assert sent == result.request_body
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert result.response_id and result.response_body


# -- errors by what they mean, naming the server -------------------------------------------


@pytest.mark.parametrize("style", ["llama.cpp", "vllm", "ollama"])
@pytest.mark.parametrize("kind", ["chat", "responses", "anthropic"])
def test_every_servers_context_overflow_is_context_too_long(
    server, openai_client, anthropic_client, kind: str, style: str
) -> None:
    provider = {
        "chat": lambda: OpenAIChat(model="local", client=openai_client),
        "responses": lambda: OpenAIResponses(model="local", client=openai_client),
        "anthropic": lambda: Anthropic(model="local", client=anthropic_client),
    }[kind]()
    server.fail_next("context_length", style=style, tokens=3031, limit=1024)
    with pytest.raises(ContextTooLong, match="too long for local's context window"):
        provider.stream(HISTORY).finish()
    server.fail_next("context_length", style=style, tokens=3031, limit=1024)
    with pytest.raises(ContextTooLong, match="too long for local's context window"):
        provider.complete(HISTORY, stream=False)


def test_errors_name_the_compatible_server_a_client_points_at(server, openai_client) -> None:
    where = f"OpenAI-compatible at 127.0.0.1:{server.port}"
    manager = ConversationManager(model="local")
    server.fail_next("500")
    with pytest.raises(ProviderUnavailable) as failed:
        manager.get_response(openai_client, "Hello")
    assert str(failed.value).startswith(f"{where} had a problem on its side")
    server.fail_next("404_model")
    with pytest.raises(UnknownModel, match=f"^{where} does not know the model 'local'"):
        ResponsesConversation(openai_client, model="local").send("Hello")
    assert manager.get_messages()[1:] == []  # nothing half-recorded


# -- token counts: asked of the server, or honestly estimated -------------------------------


def test_a_compatible_server_without_a_count_endpoint_gives_labelled_estimates(
    server, openai_client
) -> None:
    provider = OpenAIChat(model="gpt-4o", client=openai_client)  # an OpenAI name, elsewhere
    counted = count_message_tokens(HISTORY, tokenizer=provider.tokenizer())
    assert not counted.exact
    assert counted.note.startswith("Estimate:") and "no token-counting endpoint" in counted.note
    assert f"127.0.0.1:{server.port}" in counted.note
    asked = len(server.requests)
    count_message_tokens([*HISTORY, Message("user", "More.")], tokenizer=provider.tokenizer())
    assert len(server.requests) == asked, "a server without the endpoint is not asked again"


@pytest.mark.parametrize("mode", ["chat", "responses"])
def test_vllms_tokenize_endpoint_gives_exact_counts(server, openai_client, mode: str) -> None:
    server.count_endpoint = "vllm"
    provider = (OpenAIChat if mode == "chat" else OpenAIResponses)(
        model="local", client=openai_client
    )
    counted = count_message_tokens(HISTORY, tokenizer=provider.tokenizer())
    result = provider.complete(HISTORY)
    assert counted.exact and "vLLM's /tokenize" in counted.note
    assert counted.total == result.usage.input_tokens
    tokenize = server.last_request("/tokenize")
    assert tokenize.path == "/tokenize" and tokenize.body["add_generation_prompt"] is True


def test_anthropic_counts_with_its_count_tokens_endpoint_when_a_key_is_set(
    server, anthropic_client, monkeypatch
) -> None:
    provider = Anthropic(model="claude-haiku-4-5", client=anthropic_client)
    counted = count_message_tokens(HISTORY, tokenizer=provider.tokenizer())
    result = provider.complete(HISTORY)
    assert counted.exact and "count_tokens" in counted.note
    assert counted.total == result.usage.input_tokens
    assert "max_tokens" not in server.last_request("/messages/count_tokens").body
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    keyless = Anthropic(model="claude-haiku-4-5")
    estimate = count_message_tokens(HISTORY, tokenizer=keyless.tokenizer())
    assert not estimate.exact and estimate.note.startswith("Estimate:")


def test_an_unreachable_server_gives_estimates_quickly_and_is_not_asked_at_every_rerun() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = OpenAIChat(model="local", base_url=f"http://127.0.0.1:{port}/v1")
    started = time.monotonic()
    for _ in range(20):  # reruns
        counted = count_message_tokens(HISTORY, tokenizer=provider.tokenizer())
    assert time.monotonic() - started < 5
    assert not counted.exact and "did not answer" in counted.note
    assert counted.total == count_message_tokens(HISTORY, "local").total
