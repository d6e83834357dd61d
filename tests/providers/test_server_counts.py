"""Token counts asked of the server, against tests/server: exact where it answers, cached per
distinct prompt, labelled estimates where it cannot, and never asked at every rerun.

tests/peers checks the same against llama.cpp's own server; here the test double plays
llama.cpp's ``/v1/chat/completions/input_tokens``, vLLM's ``/tokenize`` and Anthropic's
``/v1/messages/count_tokens``, and fails them on request.
"""

from __future__ import annotations

import pytest

from chatkit.conversation import Conversation
from chatkit.messages import Message
from chatkit.providers import ProviderSpec, make_provider, server_tokens
from chatkit.providers.anthropic import Anthropic
from chatkit.providers.openai_chat import OpenAIChat
from chatkit.providers.openai_responses import OpenAIResponses
from chatkit.tokens import count_label, count_message_tokens
from chatkit.turn import finish_turn, prepare_turn

LLAMA_COUNT = "/chat/completions/input_tokens"
HISTORY = [
    Message("system", "Be brief."),
    Message("user", "My favorite color is blue."),
    Message("assistant", "Noted."),
    Message("user", "What's my favorite color?"),
]


def compatible(server, mode: str = "chat"):
    """The OpenAI-compatible provider the sidebar makes for the test server."""
    spec = ProviderSpec("OpenAI-compatible", mode, "local", base_url=server.openai_base_url)
    return make_provider(spec, api_key="sk-test")


@pytest.mark.parametrize("mode", ["chat", "responses"])
def test_llama_cpps_count_endpoint_gives_the_servers_own_prompt_tokens(server, mode) -> None:
    server.count_endpoint = "llama.cpp"
    provider = compatible(server, mode)
    counted = count_message_tokens(HISTORY, tokenizer=provider.tokenizer())
    result = provider.complete(HISTORY, stream=False)
    assert counted.exact
    assert counted.total == result.usage.input_tokens
    label = count_label(counted.exact, counted.note)
    assert label == (
        f"Exact: counted by OpenAI-compatible at 127.0.0.1:{server.port} "
        f"(llama.cpp's /v1/chat/completions/input_tokens)."
    )
    asked = server.last_request(LLAMA_COUNT).body
    assert asked["messages"][0] == {"role": "system", "content": "Be brief."}
    assert len(server.requests_to("/tokenize")) == 0  # the first method that answers is kept


def test_each_distinct_prompt_is_asked_once_and_shared_by_every_provider_object(server) -> None:
    server.count_endpoint = "llama.cpp"
    first = count_message_tokens(HISTORY, tokenizer=compatible(server).tokenizer())
    asked = len(server.requests_to(LLAMA_COUNT))
    for _ in range(5):  # reruns, each with a provider of its own
        again = count_message_tokens(HISTORY, tokenizer=compatible(server).tokenizer())
    assert again == first
    assert len(server.requests_to(LLAMA_COUNT)) == asked
    longer = [*HISTORY, Message("assistant", "Blue."), Message("user", "And my name?")]
    grown = count_message_tokens(longer, tokenizer=compatible(server).tokenizer())
    # one question per new message (its share) and one for the whole prompt
    assert len(server.requests_to(LLAMA_COUNT)) == asked + 3
    assert grown.exact and grown.per_message[: len(HISTORY)] == first.per_message


def test_a_turn_asks_the_server_one_question_for_its_prompt(server) -> None:
    server.count_endpoint = "llama.cpp"
    provider = compatible(server)
    conversation = Conversation(system_prompt="Be brief.")
    for text in ("My name is Alice.", "My favorite color is blue."):
        before = len(server.requests_to(LLAMA_COUNT))
        prepared = prepare_turn(conversation, text, provider)
        assert len(server.requests_to(LLAMA_COUNT)) == before + 1  # the whole prompt, only
        result = provider.complete(prepared.messages)
        assert prepared.prompt_tokens == result.usage.input_tokens
        conversation = finish_turn(prepared, result)


def test_the_messages_shares_add_up_to_the_servers_count(server) -> None:
    server.count_endpoint = "llama.cpp"
    counted = count_message_tokens(HISTORY, tokenizer=compatible(server).tokenizer())
    tokenizer = compatible(server).tokenizer()
    assert sum(counted.per_message) + tokenizer.reply_priming == counted.total
    assert all(share > 0 for share in counted.per_message)


def test_a_count_that_fails_is_estimated_and_asked_again_only_later(server, monkeypatch) -> None:
    server.count_endpoint = "llama.cpp"
    server.fail_next("500", path=LLAMA_COUNT)
    estimate = count_message_tokens(HISTORY, tokenizer=compatible(server).tokenizer())
    assert not estimate.exact
    assert count_label(estimate.exact, estimate.note) == (
        f"Estimate: OpenAI-compatible at 127.0.0.1:{server.port} did not answer a token count "
        f"(HTTP 500); counted with o200k_base."
    )
    asked = len(server.requests_to(LLAMA_COUNT))
    count_message_tokens(HISTORY, tokenizer=compatible(server).tokenizer())
    assert len(server.requests_to(LLAMA_COUNT)) == asked, "not asked again at once"
    monkeypatch.setattr(server_tokens, "RETRY_AFTER_SECONDS", 0.0)
    exact = count_message_tokens(HISTORY, tokenizer=compatible(server).tokenizer())
    assert exact.exact and len(server.requests_to(LLAMA_COUNT)) > asked


def test_a_refused_count_does_not_quote_the_servers_words(server) -> None:
    server.count_endpoint = "llama.cpp"
    server.fail_next("401", path=LLAMA_COUNT)
    counted = count_message_tokens(HISTORY, tokenizer=compatible(server).tokenizer())
    assert not counted.exact and "(HTTP 401)" in counted.note
    assert "sk-test" not in counted.note and "Incorrect API key" not in counted.note


def test_vllms_endpoint_is_found_after_llama_cpps_is_missing(server) -> None:
    server.count_endpoint = "vllm"
    counted = count_message_tokens(HISTORY, tokenizer=compatible(server).tokenizer())
    assert counted.exact and "vLLM's /tokenize" in counted.note
    assert len(server.requests_to(LLAMA_COUNT)) == 1  # tried once, then left alone
    count_message_tokens(
        [*HISTORY, Message("user", "More.")], tokenizer=compatible(server).tokenizer()
    )
    assert len(server.requests_to(LLAMA_COUNT)) == 1


def test_openai_itself_counts_offline_and_says_it_is_exact(server) -> None:
    provider = OpenAIChat(model="gpt-4o", api_key="sk-test")  # OpenAI's own API: not asked
    counted = count_message_tokens(HISTORY, tokenizer=provider.tokenizer())
    assert counted.exact and server.requests == []
    assert count_label(counted.exact, counted.note) == (
        "Exact: counted with the model's own tokenizer."
    )


def test_a_responses_client_elsewhere_asks_that_server(server, openai_client) -> None:
    server.count_endpoint = "llama.cpp"
    provider = OpenAIResponses(model="local", client=openai_client)
    counted = count_message_tokens(HISTORY, tokenizer=provider.tokenizer())
    assert counted.exact and counted.total == provider.complete(HISTORY).usage.input_tokens


# -- Anthropic ---------------------------------------------------------------------------------


def test_anthropic_with_a_key_counts_every_prompt_once(server, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
    provider = Anthropic(model="claude-haiku-4-5", api_key="sk-ant-test")
    counted = count_message_tokens(HISTORY, tokenizer=provider.tokenizer())
    asked = len(server.requests_to("/messages/count_tokens"))
    assert counted.exact and asked > 0
    assert counted.total == provider.complete(HISTORY, stream=False).usage.input_tokens
    body = server.last_request("/messages/count_tokens").body
    assert body["model"] == "claude-haiku-4-5" and "max_tokens" not in body
    again = Anthropic(model="claude-haiku-4-5", api_key="sk-ant-test")
    assert count_message_tokens(HISTORY, tokenizer=again.tokenizer()) == counted
    assert len(server.requests_to("/messages/count_tokens")) == asked


def test_anthropic_without_a_key_is_not_asked_and_says_estimate(server, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    counted = count_message_tokens(
        HISTORY, tokenizer=Anthropic(model="claude-haiku-4-5").tokenizer()
    )
    assert not counted.exact and server.requests == []
    assert count_label(counted.exact, counted.note).startswith(
        "Estimate: no offline tokenizer exists for claude-haiku-4-5"
    )


def test_anthropic_count_failing_gives_a_labelled_estimate(server, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
    server.fail_next("529", path="/messages/count_tokens")
    provider = Anthropic(model="claude-haiku-4-5", api_key="sk-ant-test")
    counted = count_message_tokens(HISTORY, tokenizer=provider.tokenizer())
    assert not counted.exact
    assert f"Anthropic at 127.0.0.1:{server.port} did not answer a token count (HTTP 529)" in (
        counted.note
    )


# -- the label every shown count carries -------------------------------------------------------


@pytest.mark.parametrize(
    ("exact", "note", "label"),
    [
        (True, "", "Exact: counted with the model's own tokenizer."),
        (True, "Exact: counted by X.", "Exact: counted by X."),
        (
            True,
            "Without a system prompt, the template adds its own (12 tokens).",
            "Exact: counted with the model's own tokenizer. Without a system prompt, the "
            "template adds its own (12 tokens).",
        ),
        (False, "Estimate: tiktoken does not know 'x'.", "Estimate: tiktoken does not know 'x'."),
        (False, "", "Estimate: not the model's own tokenizer."),
    ],
)
def test_count_label_always_says_exact_or_estimate(exact: bool, note: str, label: str) -> None:
    assert count_label(exact, note) == label
