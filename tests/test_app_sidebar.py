"""Each sidebar control under AppTest, judged by what the protocol server received.

Also: switching provider or API mode mid-conversation keeps the history and continues from it.
"""

from __future__ import annotations

import pytest

from tests.apptest_helpers import (
    ANTHROPIC_MODEL,
    OPENAI_MODEL,
    captions,
    chat_requests,
    choose,
    configure_env,
    find,
    has,
    replies,
    send,
    start,
)

PROVIDERS = ["OpenAI", "Anthropic", "OpenAI-compatible", "Local"]
TUTOR = "You are a patient tutor. Explain step by step and check understanding with a question."


def local_store_caption(at) -> bool:
    return any("local response store" in c for c in captions(at, sidebar=True))


# -- Provider, API mode, Model ----------------------------------------------------------------


def test_provider_choices_and_openai_by_default_when_a_key_is_configured(app) -> None:
    at = start()
    provider = find(at, "selectbox", "Provider", sidebar=True)
    assert provider.options == PROVIDERS
    assert provider.value == "OpenAI"
    assert find(at, "radio", "API mode", sidebar=True).options == ["Chat Completions", "Responses"]
    assert find(at, "selectbox", "Model", sidebar=True).value == OPENAI_MODEL
    assert "OpenAI · Chat Completions · gpt-4.1-mini" in captions(at)[0]


def test_local_is_the_default_when_no_key_is_configured(keyless_app) -> None:
    at = start()
    assert find(at, "selectbox", "Provider", sidebar=True).value == "Local"
    assert find(at, "selectbox", "Model", sidebar=True).value == ""  # the bundled model
    assert not has(at, "text_input", "API key", sidebar=True)
    assert local_store_caption(at)


def test_openai_compatible_asks_for_a_base_url_and_uses_it(app) -> None:
    at = start()
    choose(at, "Provider", "OpenAI-compatible")
    assert has(at, "text_input", "Base URL", sidebar=True)
    assert not has(at, "text_input", "API key", sidebar=True)
    choose(at, "Base URL", app.openai_base_url)
    choose(at, "Model", "llama3.2")
    send(at, "My name is Alice.")
    assert replies(at) == ["You said: My name is Alice. (1 messages in context)"]
    assert chat_requests(app)[-1]["model"] == "llama3.2"


def test_model_choice_is_what_is_sent(app) -> None:
    at = start()
    choose(at, "Model", "gpt-4o")
    send(at, "hello")
    assert chat_requests(app)[-1]["model"] == "gpt-4o"


def test_responses_mode_caption_only_for_providers_without_a_response_store(app) -> None:
    at = start()
    assert not local_store_caption(at)  # OpenAI keeps responses itself
    choose(at, "Provider", "Anthropic")
    assert local_store_caption(at)
    assert find(at, "selectbox", "Model", sidebar=True).value == ANTHROPIC_MODEL


# -- System prompt and Preset -------------------------------------------------------------------


def test_preset_fills_the_system_prompt_which_is_sent(app) -> None:
    at = start()
    assert find(at, "text_area", "System prompt", sidebar=True).value == (
        "You are a helpful assistant."
    )
    choose(at, "Preset", "Tutor")
    assert find(at, "text_area", "System prompt", sidebar=True).value == TUTOR
    send(at, "hello")
    assert chat_requests(app)[-1]["messages"][0] == {"role": "system", "content": TUTOR}
    choose(at, "System prompt", "You are terse.")
    send(at, "hello again")
    assert chat_requests(app)[-1]["messages"][0] == {"role": "system", "content": "You are terse."}


# -- API key ------------------------------------------------------------------------------------


def test_api_key_field_only_when_no_key_is_configured(app, monkeypatch, tmp_path) -> None:
    at = start()
    assert not has(at, "text_input", "API key", sidebar=True)
    assert "Using the OpenAI key from OPENAI_API_KEY." in captions(at, sidebar=True)

    configure_env(monkeypatch, app, tmp_path, OPENAI_API_KEY=None)
    at = start()
    field = find(at, "text_input", "API key", sidebar=True)
    assert field.proto.type == field.proto.PASSWORD
    field.set_value("fake-key-typed-in-the-sidebar-1234")
    send(at, "hello")
    assert app.last_request("/chat/completions").headers["authorization"] == (
        "Bearer fake-key-typed-in-the-sidebar-1234"
    )


def test_anthropic_key_field_and_its_key_is_used(monkeypatch, server, tmp_path) -> None:
    configure_env(monkeypatch, server, tmp_path, ANTHROPIC_API_KEY=None)
    at = start()
    choose(at, "Provider", "Anthropic")
    find(at, "text_input", "API key", sidebar=True).set_value("sk-ant-typed-5678")
    send(at, "hello")
    headers = server.last_request("/messages").headers
    assert "sk-ant-typed-5678" in (headers.get("x-api-key", "") + headers.get("authorization", ""))


# -- Trimming, Temperature, Max output tokens --------------------------------------------------


def test_trimming_choices_and_their_parameter(app) -> None:
    at = start()
    trimming = find(at, "selectbox", "Trimming", sidebar=True)
    assert trimming.options == ["None", "Last N turns", "Token budget", "Summarize older turns"]
    assert trimming.value == "None"
    choose(at, "Trimming", "Token budget")
    assert find(at, "number_input", "Token budget", sidebar=True).value == 4000
    choose(at, "Trimming", "Summarize older turns")
    assert has(at, "number_input", "Token budget", sidebar=True)
    choose(at, "Trimming", "Last N turns")
    assert not has(at, "number_input", "Token budget", sidebar=True)
    choose(at, "Turns to keep", 1)
    send(at, "My name is Alice.")
    send(at, "My favorite color is blue.")
    send(at, "What is my name?")
    assert replies(at)[-1] == "I don't know your name."  # turn one was trimmed away
    sent = chat_requests(app)[-1]["messages"]
    assert [m["content"] for m in sent[1:]] == [
        "My favorite color is blue.",
        "You said: My favorite color is blue. (3 messages in context)",
        "What is my name?",
    ]


def test_token_budget_trims_older_turns(app) -> None:
    at = start()
    send(at, "My name is Alice. " + "filler " * 300)
    send(at, "What is my name?")
    assert replies(at)[-1] == "Your name is Alice."
    choose(at, "Trimming", "Token budget")
    choose(at, "Token budget", 100)
    send(at, "What is my name?")
    assert replies(at)[-1] == "I don't know your name."
    assert "filler" not in str(chat_requests(app)[-1]["messages"])


def test_temperature_and_max_output_tokens_are_sent(app) -> None:
    at = start()
    choose(at, "Temperature", 0.2)
    choose(at, "Max output tokens", 100)
    send(at, "hello")
    body = chat_requests(app)[-1]
    assert body["temperature"] == pytest.approx(0.2)
    assert body["max_completion_tokens"] == 100


def test_temperature_is_disabled_for_anthropic_and_not_sent(app) -> None:
    at = start()
    choose(at, "Provider", "Anthropic")
    assert find(at, "slider", "Temperature", sidebar=True).disabled
    assert any("no sampling parameters" in c for c in captions(at, sidebar=True))
    choose(at, "Max output tokens", 200)
    send(at, "hello")
    body = chat_requests(app)[-1]
    assert "temperature" not in body
    assert body["max_tokens"] == 200


# -- switching mid-conversation ----------------------------------------------------------------


def test_switching_to_responses_starts_a_chain_from_the_full_history(app) -> None:
    at = start()
    send(at, "My name is Alice.")
    send(at, "My favorite color is blue.")
    choose(at, "API mode", "Responses")
    send(at, "What is my name?")
    assert replies(at)[-1] == "Your name is Alice."
    first, *_ = app.requests_to("/responses")
    assert "previous_response_id" not in first.body
    assert [item["role"] for item in first.body["input"]] == ["user", "assistant"] * 2 + ["user"]
    assert first.body["instructions"] == "You are a helpful assistant."
    assert "Responses" in captions(at)[-1]

    send(at, "What's my favorite color?")
    assert replies(at)[-1] == "Your favorite color is blue."
    second = app.requests_to("/responses")[-1]
    assert second.body["previous_response_id"]  # chained: only the new message is sent
    assert [item["content"] for item in second.body["input"]] == ["What's my favorite color?"]

    choose(at, "API mode", "Chat Completions")  # and back: the full history again
    send(at, "What is my name?")
    assert replies(at)[-1] == "Your name is Alice."
    assert len(chat_requests(app)[-1]["messages"]) == 1 + 9


def test_switching_provider_keeps_the_history(app) -> None:
    at = start()
    send(at, "My name is Alice.")
    choose(at, "Provider", "Anthropic")
    send(at, "What is my name?")
    assert replies(at)[-1] == "Your name is Alice."
    body = app.last_request("/messages").body
    assert body["model"] == ANTHROPIC_MODEL
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    choose(at, "Provider", "OpenAI")
    choose(at, "API mode", "Responses")
    send(at, "My favorite color is blue.")
    send(at, "What is my name?")
    assert replies(at)[-1] == "Your name is Alice."


def test_anthropic_in_responses_mode_chains_through_the_local_store(app) -> None:
    at = start()
    choose(at, "Provider", "Anthropic")
    # Anthropic's modes go by its own names: Messages, and Messages with local chaining.
    assert find(at, "radio", "API mode", sidebar=True).options == [
        "Messages",
        "Messages + local chaining",
    ]
    choose(at, "API mode", "Messages + local chaining")
    send(at, "My name is Alice.")
    send(at, "What is my name?")
    assert replies(at)[-1] == "Your name is Alice."
    # Anthropic keeps nothing: the local store rebuilt the full history for the API.
    assert len(app.last_request("/messages").body["messages"]) == 3
