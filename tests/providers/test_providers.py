"""Providers through the real SDKs against the local protocol server."""

from __future__ import annotations

import anthropic
import openai
import pytest

from chatkit.conversation import Conversation
from chatkit.errors import (
    AuthenticationFailed,
    ContextTooLong,
    MissingApiKey,
    ProviderUnavailable,
    RateLimited,
    StreamInterrupted,
    UnknownModel,
)
from chatkit.messages import Message
from chatkit.providers import ProviderSpec, make_provider
from chatkit.providers.anthropic import LEADING_USER_PLACEHOLDER, Anthropic
from chatkit.providers.base import GenerationOptions
from chatkit.providers.calls import request_size
from chatkit.providers.chained import LocallyChained
from chatkit.providers.openai_chat import OpenAIChat
from chatkit.providers.openai_responses import OpenAIResponses
from chatkit.turn import send

HISTORY = [
    Message("system", "Be brief."),
    Message("user", "My favorite color is blue."),
    Message("assistant", "Noted."),
    Message("user", "What's my favorite color?"),
]
PATHS = {"chat": "/chat/completions", "responses": "/responses", "anthropic": "/messages"}


@pytest.fixture(params=["chat", "responses", "anthropic"])
def provider_and_path(request, openai_client, anthropic_client):
    kind = request.param
    if kind == "chat":
        return OpenAIChat(model="gpt-4o", client=openai_client), PATHS[kind]
    if kind == "responses":
        return OpenAIResponses(model="gpt-4.1", client=openai_client), PATHS[kind]
    return Anthropic(model="claude-sonnet-4-6", client=anthropic_client), PATHS[kind]


def test_every_provider_streams_with_usage_and_the_raw_request(server, provider_and_path):
    provider, path = provider_and_path
    reply = provider.stream(HISTORY)
    chunks = list(reply)
    result = reply.result
    assert len(chunks) > 3, "the reply should arrive in several pieces"
    assert result.text == "".join(chunks) == "Your favorite color is blue."
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    sent = server.last_request(path).body
    assert sent == result.request_body
    assert result.request_bytes == request_size(sent)
    assert result.response_id


def test_every_provider_completes_without_streaming_code_in_the_caller(server, provider_and_path):
    provider, _ = provider_and_path
    result = provider.complete(HISTORY)
    assert result.text == "Your favorite color is blue."
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens


def test_chat_completions_sends_the_whole_array_with_the_system_prompt_first(server, openai_client):
    provider = OpenAIChat(model="gpt-5.5", client=openai_client)
    provider.complete(HISTORY, GenerationOptions(max_output_tokens=50, temperature=0.3))
    body = server.last_request("/chat/completions").body
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert body["max_completion_tokens"] == 50 and "max_tokens" not in body
    assert body["temperature"] == 0.3
    assert body["stream_options"] == {"include_usage": True}
    assert body["model"] == "gpt-5.5"


def test_chat_completions_can_send_the_system_prompt_as_developer(server, openai_client):
    OpenAIChat(model="gpt-5.5", client=openai_client, system_role="developer").complete(HISTORY)
    assert server.last_request("/chat/completions").body["messages"][0]["role"] == "developer"


def test_responses_chains_sending_only_new_input_and_resending_instructions(server, openai_client):
    provider = OpenAIResponses(model="gpt-4.1", client=openai_client)
    conversation = Conversation(system_prompt="Be brief.")
    conversation, first = send(conversation, "My name is Alice.", provider)
    conversation, second = send(conversation, "What is my name?", provider)
    assert second.text == "Your name is Alice."
    body = server.last_request("/responses").body
    assert body["previous_response_id"] == first.response_id
    assert body["input"] == [{"type": "message", "role": "user", "content": "What is my name?"}]
    assert body["instructions"] == "Be brief."
    assert body["store"] is True
    assert second.usage.input_tokens > first.usage.input_tokens, "prior turns are billed again"
    assert second.request_bytes < request_size(
        provider.build_request(conversation.to_messages()[:-1])
    )


def test_responses_falls_back_to_full_history_on_an_unknown_id(server, openai_client):
    provider = OpenAIResponses(model="gpt-4.1", client=openai_client)
    conversation = Conversation(system_prompt="Be brief.")
    conversation, _ = send(conversation, "My name is Alice.", provider)
    server.reset()  # the server forgets every stored response
    conversation, second = send(conversation, "What is my name?", provider)
    assert second.text == "Your name is Alice."
    assert "full history" in second.note
    retried = server.last_request("/responses").body
    assert "previous_response_id" not in retried
    assert [item["content"] for item in retried["input"]][-1] == "What is my name?"
    assert len(retried["input"]) == 3
    # and the chain continues from the new response
    conversation, third = send(conversation, "What is my name?", provider)
    assert server.last_request("/responses").body["previous_response_id"] == second.response_id
    assert third.text == "Your name is Alice."
    assert conversation.replies[3].note  # the fallback is recorded with the reply


def test_responses_falls_back_when_the_server_cannot_chain(server, openai_client):
    server.supports_previous_response_id = False
    provider = OpenAIResponses(model="local", client=openai_client)
    conversation = Conversation()
    conversation, _ = send(conversation, "My favorite color is green.", provider)
    conversation, second = send(conversation, "What's my favorite color?", provider)
    assert second.text == "Your favorite color is green."
    assert "cannot chain" in second.note
    conversation, third = send(conversation, "What's my favorite color?", provider)
    assert third.text == "Your favorite color is green."
    # once known, no more doomed chained attempts: one request per turn
    bodies = [r.body for r in server.requests_to("/responses")]
    assert len(bodies) == 4
    assert "previous_response_id" not in bodies[-1]


def test_anthropic_request_shape(server, anthropic_client):
    provider = Anthropic(model="claude-haiku-4-5", client=anthropic_client)
    messages = [
        Message("system", "Be brief."),
        Message("assistant", "Hello! How can I help?"),
        Message("user", "Hi."),
        Message("user", "My name is Bob."),
    ]
    provider.complete(messages, GenerationOptions(temperature=0.9))
    body = server.last_request("/messages").body
    assert body["system"] == "Be brief."
    assert body["max_tokens"] == 1024
    assert "temperature" not in body
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][0]["content"] == LEADING_USER_PLACEHOLDER
    assert body["messages"][2]["content"] == "Hi.\nMy name is Bob."


def test_anthropic_in_responses_mode_chains_through_the_local_store(server, anthropic_client):
    provider = make_provider(
        ProviderSpec(kind="Anthropic", mode="responses", model="claude-haiku-4-5"),
        client=anthropic_client,
    )
    assert isinstance(provider, LocallyChained)
    conversation = Conversation(system_prompt="Be brief.")
    conversation, first = send(conversation, "My favorite color is red.", provider)
    assert first.response_id.startswith("resp_local_")
    only_new = [Message("system", "Be brief."), Message("user", "What's my favorite color?")]
    second = provider.complete(only_new, previous_response_id=first.response_id)
    assert second.text == "Your favorite color is red."
    assert second.previous_response_id == first.response_id
    sent = server.last_request("/messages").body
    assert len(sent["messages"]) == 3 and sent["system"] == "Be brief."


def test_compatible_server_built_from_its_record(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    provider = make_provider(
        ProviderSpec(
            kind="OpenAI-compatible", mode="chat", model="llama3.2", base_url=server.openai_base_url
        )
    )
    assert provider.complete(HISTORY).text == "Your favorite color is blue."
    assert server.last_request("/chat/completions").body["model"] == "llama3.2"


def test_clients_come_from_the_sdks_environment_variables(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
    OpenAIChat(model="gpt-4o").complete(HISTORY)
    assert server.last_request("/chat/completions").headers["authorization"] == "Bearer sk-from-env"
    Anthropic(model="claude-haiku-4-5").complete(HISTORY)
    headers = server.last_request("/messages").headers
    assert "sk-ant-from-env" in (headers.get("authorization", "") + headers.get("x-api-key", ""))


def test_missing_keys_are_a_clear_error(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MissingApiKey, match="OPENAI_API_KEY"):
        OpenAIChat(model="gpt-4o").complete(HISTORY)
    with pytest.raises(MissingApiKey, match="ANTHROPIC_API_KEY"):
        Anthropic(model="claude-haiku-4-5").complete(HISTORY)


FAILURES = [
    ("401", AuthenticationFailed, "rejected the API key"),
    ("404_model", UnknownModel, "does not know the model"),
    ("429", RateLimited, "wait a moment"),
    ("500", ProviderUnavailable, "on its side"),
    ("context_length", ContextTooLong, "context window"),
]


@pytest.mark.parametrize(("kind", "error", "words"), FAILURES)
def test_failures_become_chatkit_errors_and_leave_the_conversation_alone(
    server, provider_and_path, kind, error, words
):
    provider, _ = provider_and_path
    conversation = Conversation(system_prompt="Be brief.")
    conversation, _ = send(conversation, "My name is Alice.", provider)
    before = conversation.to_dict()
    server.fail_next(kind)
    with pytest.raises(error, match=words) as caught:
        send(conversation, "What is my name?", provider)
    assert caught.value.__cause__ is not None, "the SDK's exception stays attached"
    assert conversation.to_dict() == before
    # and retrying works
    conversation, result = send(conversation, "What is my name?", provider)
    assert result.text == "Your name is Alice."


def test_anthropic_overloaded_is_unavailable(server, anthropic_client):
    server.fail_next("529")
    with pytest.raises(ProviderUnavailable, match="overloaded"):
        Anthropic(model="claude-haiku-4-5", client=anthropic_client).complete(HISTORY)


def test_rate_limit_then_success_through_the_sdks_own_retries(server):
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=2)
    server.fail_next("429")
    result = OpenAIChat(model="gpt-4o", client=client).complete(HISTORY)
    assert result.text == "Your favorite color is blue."
    assert len(server.requests_to("/chat/completions")) == 2


@pytest.mark.parametrize("after_chunks", [0, 3])
def test_a_cut_stream_keeps_its_partial_text(server, provider_and_path, after_chunks):
    provider, _ = provider_and_path
    server.fail_next("cut_stream", after_chunks=after_chunks)
    reply = provider.stream(HISTORY)
    received: list[str] = []
    with pytest.raises((StreamInterrupted, ProviderUnavailable)) as caught:
        for chunk in reply:
            received.append(chunk)
    if after_chunks:
        assert isinstance(caught.value, StreamInterrupted)
        assert caught.value.partial_text == "".join(received) != ""
        assert reply.partial_text == caught.value.partial_text


def test_a_mid_stream_error_keeps_its_partial_text(server, provider_and_path):
    provider, _ = provider_and_path
    server.fail_next("stream_error")
    reply = provider.stream(HISTORY)
    with pytest.raises((StreamInterrupted, ProviderUnavailable)) as caught:
        list(reply)
    if isinstance(caught.value, StreamInterrupted):
        assert caught.value.partial_text == reply.partial_text


def test_a_slow_server_times_out_with_a_clear_error(server):
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="k", max_retries=0, timeout=0.3)
    server.fail_next("slow", delay=2)
    with pytest.raises(ProviderUnavailable, match="in time"):
        OpenAIChat(model="gpt-4o", client=client).complete(HISTORY)
    aclient = anthropic.Anthropic(
        base_url=server.anthropic_base_url, api_key="k", max_retries=0, timeout=0.3
    )
    server.fail_next("slow", delay=2)
    with pytest.raises(ProviderUnavailable, match="in time"):
        Anthropic(model="claude-haiku-4-5", client=aclient).complete(HISTORY)


def test_an_unreachable_server_is_a_clear_error():
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="k", max_retries=0)
    with pytest.raises(ProviderUnavailable, match="Could not reach"):
        OpenAIChat(model="gpt-4o", client=client).complete(HISTORY)


def test_stopping_a_stream_keeps_what_arrived(server, openai_client):
    server.chunk_delay = 0.01
    reply = OpenAIChat(model="gpt-4o", client=openai_client).stream(HISTORY)
    iterator = iter(reply)
    first = next(iterator)
    reply.stop()
    assert reply.partial_text == first
    assert reply.stopped and not reply.done
