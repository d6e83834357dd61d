"""Each sidebar control under AppTest, judged by what the protocol server received.

Also: switching provider or API mode mid-conversation keeps the history and continues from it.
"""

from __future__ import annotations

import pytest

from chatkit.providers import provider_names
from tests.apptest_helpers import ANTHROPIC_MODEL, OPENAI_MODEL, chat_requests, configure_env, start

PROVIDERS = ["OpenAI", "Anthropic", "OpenAI-compatible", "Local"]
TUTOR = "You are a patient tutor. Explain step by step and check understanding with a question."


def local_store_caption(at) -> bool:
    return any("local response store" in c for c in at.captions(sidebar=True))


# -- Provider, API mode, Model ----------------------------------------------------------------


def test_provider_choices_and_openai_by_default_when_a_key_is_configured(app) -> None:
    at = start()
    provider = at.find("selectbox", "Provider", sidebar=True)
    assert provider.options == list(provider_names())  # every provider's record, in order
    assert [name for name in provider.options if name in PROVIDERS] == PROVIDERS
    assert provider.value == "OpenAI"
    assert at.find("radio", "API mode", sidebar=True).options == ["Chat Completions", "Responses"]
    assert at.find("selectbox", "Model", sidebar=True).value == OPENAI_MODEL
    assert "OpenAI · Chat Completions · gpt-4.1-mini" in at.captions()[0]


def test_local_is_the_default_when_no_key_is_configured(keyless_app) -> None:
    at = start()
    assert at.find("selectbox", "Provider", sidebar=True).value == "Local"
    assert at.find("selectbox", "Model", sidebar=True).value == ""  # the bundled model
    assert not at.has("text_input", "API key", sidebar=True)
    assert local_store_caption(at)


def test_openai_compatible_asks_for_a_base_url_and_uses_it(app) -> None:
    at = start()
    at.choose("Provider", "OpenAI-compatible")
    assert at.has("text_input", "Base URL", sidebar=True)
    assert not at.has("text_input", "API key", sidebar=True)
    at.choose("Base URL", app.openai_base_url)
    at.choose("Model", "llama3.2")
    at.send("My name is Alice.")
    assert at.replies() == ["You said: My name is Alice. (1 messages in context)"]
    assert chat_requests(app)[-1]["model"] == "llama3.2"


def test_model_choice_is_what_is_sent(app) -> None:
    at = start()
    at.choose("Model", "gpt-4o")
    at.send("hello")
    assert chat_requests(app)[-1]["model"] == "gpt-4o"


def test_responses_mode_caption_only_for_providers_without_a_response_store(app) -> None:
    at = start()
    assert not local_store_caption(at)  # OpenAI keeps responses itself
    at.choose("Provider", "Anthropic")
    assert local_store_caption(at)
    assert at.find("selectbox", "Model", sidebar=True).value == ANTHROPIC_MODEL


# -- System prompt and Preset -------------------------------------------------------------------


def test_preset_fills_the_system_prompt_which_is_sent(app) -> None:
    at = start()
    assert at.find("text_area", "System prompt", sidebar=True).value == (
        "You are a helpful assistant."
    )
    at.choose("Preset", "Tutor")
    assert at.find("text_area", "System prompt", sidebar=True).value == TUTOR
    at.send("hello")
    assert chat_requests(app)[-1]["messages"][0] == {"role": "system", "content": TUTOR}
    at.choose("System prompt", "You are terse.")
    at.send("hello again")
    assert chat_requests(app)[-1]["messages"][0] == {"role": "system", "content": "You are terse."}


# -- API key ------------------------------------------------------------------------------------


def test_api_key_field_only_when_no_key_is_configured(app, monkeypatch, tmp_path) -> None:
    at = start()
    assert not at.has("text_input", "API key", sidebar=True)
    assert "Using the OpenAI key from OPENAI_API_KEY." in at.captions(sidebar=True)

    configure_env(monkeypatch, app, tmp_path, OPENAI_API_KEY=None)
    at = start()
    at.choose("Provider", "OpenAI")  # without a key, OPENAI_BASE_URL starts on OpenAI-compatible
    field = at.find("text_input", "API key", sidebar=True)
    assert field.proto.type == field.proto.PASSWORD
    field.set_value("fake-key-typed-in-the-sidebar-1234")
    at.send("hello")
    assert app.last_request("/chat/completions").headers["authorization"] == (
        "Bearer fake-key-typed-in-the-sidebar-1234"
    )


def test_anthropic_key_field_and_its_key_is_used(monkeypatch, server, tmp_path) -> None:
    configure_env(monkeypatch, server, tmp_path, ANTHROPIC_API_KEY=None)
    at = start()
    at.choose("Provider", "Anthropic")
    at.find("text_input", "API key", sidebar=True).set_value("sk-ant-typed-5678")
    at.send("hello")
    headers = server.last_request("/messages").headers
    assert "sk-ant-typed-5678" in (headers.get("x-api-key", "") + headers.get("authorization", ""))


# -- Trimming, Temperature, Max output tokens --------------------------------------------------


def test_trimming_choices_and_their_parameter(app) -> None:
    at = start()
    trimming = at.find("selectbox", "Trimming", sidebar=True)
    assert trimming.options == ["None", "Last N turns", "Token budget", "Summarize older turns"]
    assert trimming.value == "None"
    at.choose("Trimming", "Token budget")
    assert at.find("number_input", "Token budget", sidebar=True).value == 4000
    at.choose("Trimming", "Summarize older turns")
    assert at.has("number_input", "Token budget", sidebar=True)
    at.choose("Trimming", "Last N turns")
    assert not at.has("number_input", "Token budget", sidebar=True)
    at.choose("Turns to keep", 1)
    at.send("My name is Alice.")
    at.send("My favorite color is blue.")
    at.send("What is my name?")
    assert at.replies()[-1] == "I don't know your name."  # turn one was trimmed away
    sent = chat_requests(app)[-1]["messages"]
    assert [m["content"] for m in sent[1:]] == [
        "My favorite color is blue.",
        "You said: My favorite color is blue. (3 messages in context)",
        "What is my name?",
    ]


def test_token_budget_trims_older_turns(app) -> None:
    at = start()
    at.send("My name is Alice. " + "filler " * 300)
    at.send("What is my name?")
    assert at.replies()[-1] == "Your name is Alice."
    at.choose("Trimming", "Token budget")
    at.choose("Token budget", 100)
    at.send("What is my name?")
    assert at.replies()[-1] == "I don't know your name."
    assert "filler" not in str(chat_requests(app)[-1]["messages"])


def test_temperature_and_max_output_tokens_are_sent(app) -> None:
    at = start()
    at.choose("Temperature", 0.2)
    at.choose("Max output tokens", 100)
    at.send("hello")
    body = chat_requests(app)[-1]
    assert body["temperature"] == pytest.approx(0.2)
    assert body["max_completion_tokens"] == 100


def test_temperature_is_disabled_for_anthropic_and_not_sent(app) -> None:
    at = start()
    at.choose("Provider", "Anthropic")
    assert at.find("slider", "Temperature", sidebar=True).disabled
    assert any("no sampling parameters" in c for c in at.captions(sidebar=True))
    at.choose("Max output tokens", 200)
    at.send("hello")
    body = chat_requests(app)[-1]
    assert "temperature" not in body
    assert body["max_tokens"] == 200


# -- switching mid-conversation ----------------------------------------------------------------


def test_switching_to_responses_starts_a_chain_from_the_full_history(app) -> None:
    at = start()
    at.send("My name is Alice.")
    at.send("My favorite color is blue.")
    at.choose("API mode", "Responses")
    at.send("What is my name?")
    assert at.replies()[-1] == "Your name is Alice."
    first, *_ = app.requests_to("/responses")
    assert "previous_response_id" not in first.body
    assert [item["role"] for item in first.body["input"]] == ["user", "assistant"] * 2 + ["user"]
    assert first.body["instructions"] == "You are a helpful assistant."
    assert "Responses" in at.captions()[-1]

    at.send("What's my favorite color?")
    assert at.replies()[-1] == "Your favorite color is blue."
    second = app.requests_to("/responses")[-1]
    assert second.body["previous_response_id"]  # chained: only the new message is sent
    assert [item["content"] for item in second.body["input"]] == ["What's my favorite color?"]

    at.choose("API mode", "Chat Completions")  # and back: the full history again
    at.send("What is my name?")
    assert at.replies()[-1] == "Your name is Alice."
    assert len(chat_requests(app)[-1]["messages"]) == 1 + 9


def test_switching_provider_keeps_the_history(app) -> None:
    at = start()
    at.send("My name is Alice.")
    at.choose("Provider", "Anthropic")
    at.send("What is my name?")
    assert at.replies()[-1] == "Your name is Alice."
    body = app.last_request("/messages").body
    assert body["model"] == ANTHROPIC_MODEL
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    at.choose("Provider", "OpenAI")
    at.choose("API mode", "Responses")
    at.send("My favorite color is blue.")
    at.send("What is my name?")
    assert at.replies()[-1] == "Your name is Alice."


def test_anthropic_in_responses_mode_chains_through_the_local_store(app) -> None:
    at = start()
    at.choose("Provider", "Anthropic")
    # Anthropic's modes go by its own names: Messages, and Messages with local chaining.
    assert at.find("radio", "API mode", sidebar=True).options == [
        "Messages",
        "Messages + local chaining",
    ]
    at.choose("API mode", "Messages + local chaining")
    at.send("My name is Alice.")
    at.send("What is my name?")
    assert at.replies()[-1] == "Your name is Alice."
    # Anthropic keeps nothing: the local store rebuilt the full history for the API.
    assert len(app.last_request("/messages").body["messages"]) == 3
