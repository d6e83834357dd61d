"""Messages mode for chat providers: recorded in Anthropic's shape, sent as alternating turns."""

from __future__ import annotations

import pytest

from chatkit.messages import Message
from chatkit.providers import ProviderSpec, make_provider, provider_kind
from chatkit.providers.anthropic_messages import MESSAGES, MessagesShaped

TWO_USERS = [
    Message("system", "Be brief."),
    Message("user", "Hello"),
    Message("user", "Are you there?"),
]


def test_local_and_compatible_offer_it_openai_and_anthropic_do_not():
    assert provider_kind("Local").modes == ("chat", "responses", "messages")
    assert provider_kind("Local").mode_label("messages") == "Messages (Anthropic shape)"
    assert provider_kind("OpenAI-compatible").request_shape("messages") is MESSAGES
    for name in ("OpenAI", "Anthropic"):
        assert provider_kind(name).modes == ("chat", "responses")
    with pytest.raises(ValueError, match="OpenAI offers 'chat', 'responses'"):
        make_provider(ProviderSpec(kind="OpenAI", mode="messages"), api_key="sk-test")


def test_a_compatible_server_receives_merged_turns_and_the_record_is_anthropic_shaped(server):
    url = server.openai_base_url
    spec = ProviderSpec("OpenAI-compatible", "messages", "llama3.2", base_url=url)
    provider = make_provider(spec)
    assert isinstance(provider, MessagesShaped)
    result = provider.complete(TWO_USERS)
    assert result.mode == "messages"
    assert result.request_body["system"] == "Be brief."
    assert result.request_body["messages"] == [{"role": "user", "content": "Hello\nAre you there?"}]
    received = server.last_request("/chat/completions").body["messages"]
    assert [m["role"] for m in received] == ["system", "user"]
    assert received[1]["content"] == "Hello\nAre you there?"
    assert provider.build_request(TWO_USERS) == result.request_body


@pytest.mark.local_model
def test_the_local_model_streams_in_messages_mode():
    provider = make_provider(ProviderSpec(kind="Local", mode="messages"))
    reply = provider.stream(TWO_USERS)
    assert "".join(reply)
    assert reply.result.mode == "messages"
    assert "Anthropic's Messages shape" in reply.result.note
    assert reply.result.request_body["messages"][0]["content"] == "Hello\nAre you there?"
