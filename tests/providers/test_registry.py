"""One record per provider: found in the providers' own modules, each fact written once, every
provider built from its record alone; streams that carry typed events."""

from __future__ import annotations

import anthropic
import openai
import pytest

from chatkit.messages import Message
from chatkit.providers import (
    Finished,
    ProviderSpec,
    TextDelta,
    UsageReport,
    api_shapes,
    default_provider_kind,
    make_provider,
    provider_for_client,
    provider_kind,
    provider_kinds,
    provider_names,
)
from chatkit.providers.anthropic import MESSAGES, Anthropic
from chatkit.providers.openai_chat import CHAT_COMPLETIONS, OpenAIChat
from chatkit.providers.openai_responses import RESPONSES, OpenAIResponses
from tests.server import ProtocolServer

HISTORY = [Message("system", "Be brief."), Message("user", "My name is Alice.")]


def test_every_provider_the_app_offers_has_one_record_in_its_own_module() -> None:
    kinds = provider_kinds()
    names = provider_names()
    assert len(set(names)) == len(names)
    offered = [
        name for name in names if name in ("OpenAI", "Anthropic", "OpenAI-compatible", "Local")
    ]
    assert offered == ["OpenAI", "Anthropic", "OpenAI-compatible", "Local"]  # in this order
    modules = {kind.build.__module__ for kind in kinds}
    assert {"chatkit.providers.openai", "chatkit.providers.anthropic"} <= modules
    assert "chatkit.providers.local" in modules
    assert [kind.order for kind in kinds] == sorted(kind.order for kind in kinds)


@pytest.mark.parametrize("name", ["OpenAI", "Anthropic", "OpenAI-compatible"])
@pytest.mark.parametrize("mode", ["chat", "responses"])
def test_a_provider_is_built_from_its_record_and_answers_to_its_name(
    name: str, mode: str, server: ProtocolServer
) -> None:
    spec = ProviderSpec(name, mode, "gpt-4o", base_url=server.openai_base_url)
    provider = make_provider(spec, api_key="sk-test-fake")
    assert provider.name == name and provider.mode == mode
    assert provider.chains_locally == (mode == "responses" and provider_kind(name).chains_locally)


def test_the_variables_come_from_each_record_endpoint() -> None:
    assert provider_kind("OpenAI").api_key_env == "OPENAI_API_KEY"
    assert provider_kind("Anthropic").base_url_env == "ANTHROPIC_BASE_URL"
    assert provider_kind("Local").model_env == "CHATKIT_LOCAL_MODEL"
    assert provider_kind("OpenAI").models_key == "openai"
    assert provider_kind("OpenAI-compatible").models_key is None  # any provider's model


def test_the_request_shapes_come_from_the_records() -> None:
    assert api_shapes()[:3] == (CHAT_COMPLETIONS, RESPONSES, MESSAGES)
    assert provider_kind("Anthropic").request_shape("chat") == MESSAGES
    assert provider_kind("Local").request_shape("responses") == RESPONSES  # chained locally
    assert RESPONSES.chains and not CHAT_COMPLETIONS.chains


def test_the_starting_provider_is_chosen_from_the_records() -> None:
    assert default_provider_kind({}, {}) == "Local"
    # a base URL at another server, with no OpenAI key: that server, not OpenAI's models
    local_server = {"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}
    assert default_provider_kind(local_server, {}) == "OpenAI-compatible"
    assert default_provider_kind({**local_server, "OPENAI_API_KEY": "sk-fake"}, {}) == "OpenAI"
    assert default_provider_kind({}, {"ANTHROPIC_API_KEY": "sk-ant-fake"}) == "Anthropic"


def test_an_sdk_client_finds_the_record_that_takes_it(server: ProtocolServer) -> None:
    own = openai.OpenAI(api_key="sk-test-fake", base_url="https://api.openai.com/v1")
    elsewhere = openai.OpenAI(api_key="sk-test-fake", base_url=server.openai_base_url)
    claude = anthropic.Anthropic(api_key="sk-ant-fake", base_url=server.anthropic_base_url)
    assert provider_for_client(own, "gpt-4o").name == "OpenAI"
    other = provider_for_client(elsewhere, "gpt-4o", "responses")
    assert other.name == "OpenAI-compatible" and isinstance(other, OpenAIResponses)
    assert "127.0.0.1" in other.label  # sentences name the server it is at
    chained = provider_for_client(claude, "claude-haiku-4-5", "responses")
    assert chained.chains_locally and isinstance(chained.inner, Anthropic)
    with pytest.raises(TypeError, match=r"Expected an openai\.OpenAI client"):
        provider_for_client(object(), "gpt-4o")


def test_an_openai_compatible_server_is_an_endpoint_not_a_subclass(server: ProtocolServer) -> None:
    provider = OpenAIChat("llama3.2", base_url=server.openai_base_url)
    assert type(provider) is OpenAIChat and provider.endpoint.own_host is None
    assert provider.name == "OpenAI-compatible"
    assert OpenAIChat("gpt-4o").name == "OpenAI" and OpenAIChat("gpt-4o").endpoint.on_own_api


@pytest.mark.parametrize("shape", ["chat", "responses", "anthropic"])
def test_a_stream_carries_text_then_usage_and_why_it_finished(
    shape: str, openai_client: openai.OpenAI, anthropic_client: anthropic.Anthropic
) -> None:
    provider = {
        "chat": lambda: OpenAIChat("gpt-4o", client=openai_client),
        "responses": lambda: OpenAIResponses("gpt-4.1", client=openai_client),
        "anthropic": lambda: Anthropic("claude-haiku-4-5", client=anthropic_client),
    }[shape]()
    reply = provider.stream(HISTORY)
    events = list(reply.events())
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text and text == reply.partial_text == reply.result.text
    usages = [e.usage for e in events if isinstance(e, UsageReport)]
    assert usages and usages[-1] == reply.result.usage
    finished = [e for e in events if isinstance(e, Finished)]
    assert len(finished) == 1 and finished[0].reason == reply.result.finish_reason
    first_text = next(i for i, e in enumerate(events) if isinstance(e, TextDelta))
    assert events.index(finished[0]) > first_text
