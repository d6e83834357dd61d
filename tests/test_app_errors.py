"""Failures on the chat page: one plain sentence, never a traceback, and a way to go on.

The failures are real HTTP errors from the protocol test server, met by the real SDKs.
``run`` (tests/apptest_helpers.py) fails a test whenever a run raised, so each of these also
proves that no traceback reached the page.
"""

from __future__ import annotations

from tests.apptest_helpers import chat_requests, configure_env, start

FULL_REPLY = "You said: My name is Alice. (1 messages in context)"


def assert_failed_then_retry_works(at, server) -> None:
    assert at.replies() == []  # nothing was added to the conversation
    assert at.bubbles() == [("user", "My name is Alice.")]  # shown as not sent
    assert "not sent" in at.captions()
    at.click("Retry")
    assert at.alerts() == []
    assert at.bubbles() == [("user", "My name is Alice."), ("assistant", FULL_REPLY)]
    assert not at.has("button", "Retry")


def test_a_rejected_key_is_one_sentence_and_retry_works(app) -> None:
    at = start()
    app.fail_next("401")
    at.send("My name is Alice.")
    [error] = at.error
    assert error.value == (
        "OpenAI rejected the API key: check it, then paste it again or set OPENAI_API_KEY."
    )
    assert "sk-" not in error.value  # the server's message quotes part of the key: not shown
    assert_failed_then_retry_works(at, app)


def test_rate_limit_after_the_sdk_retries(app) -> None:
    at = start()
    app.fail_next("429", times=3)  # the SDK itself tries three times
    at.send("My name is Alice.")
    assert len(chat_requests(app)) == 3
    [error] = at.error
    assert error.value == "OpenAI is limiting how fast you can send: wait a moment, then retry."
    assert_failed_then_retry_works(at, app)


def test_a_server_error(app) -> None:
    at = start()
    app.fail_next("500")
    at.send("My name is Alice.")
    [error] = at.error
    assert error.value == "OpenAI had a problem on its side (HTTP 500): retry in a moment."
    assert_failed_then_retry_works(at, app)


def test_a_cut_stream_keeps_the_partial_text_and_retry_replaces_it(app) -> None:
    at = start()
    app.fail_next("cut_stream", after_chunks=3)
    at.send("My name is Alice.")
    [partial] = at.replies()
    assert partial and FULL_REPLY.startswith(partial) and partial != FULL_REPLY
    [error] = at.error
    assert "cut off" in error.value and "what arrived is kept" in error.value
    assert any(c.endswith("· stopped") for c in at.captions())
    at.click("Retry")
    assert at.alerts() == []
    assert at.bubbles() == [("user", "My name is Alice."), ("assistant", FULL_REPLY)]
    # Retry resent the same context: the cut reply was not part of it.
    assert chat_requests(app)[-1]["messages"] == chat_requests(app)[0]["messages"]


def test_a_cut_stream_in_responses_mode(app) -> None:
    at = start()
    at.choose("API mode", "Responses")
    app.fail_next("cut_stream", after_chunks=2)
    at.send("My name is Alice.")
    assert len(at.replies()) == 1 and "cut off" in at.error[0].value
    at.click("Retry")
    assert at.replies() == [FULL_REPLY]
    at.send("What is my name?")
    assert at.replies()[-1] == "Your name is Alice."


def test_no_openai_key_says_so(monkeypatch, server, tmp_path) -> None:
    configure_env(monkeypatch, server, tmp_path, OPENAI_API_KEY=None, OPENAI_BASE_URL=None)
    at = start()
    assert at.sidebar.selectbox[0].value == "Anthropic"  # the only provider with a key
    at.choose("Provider", "OpenAI")
    assert at.has("text_input", "API key", sidebar=True)
    at.send("My name is Alice.")
    [error] = at.error
    assert error.value.startswith("No OpenAI API key")
    assert "paste one in the sidebar" in error.value
    assert chat_requests(server) == []


def test_an_unknown_model(app) -> None:
    at = start()
    app.fail_next("404_model")
    at.send("My name is Alice.")
    [error] = at.error
    assert "does not know the model 'gpt-4.1-mini'" in error.value
    assert_failed_then_retry_works(at, app)


def test_anthropic_overloaded_mid_conversation(app) -> None:
    at = start()
    at.choose("Provider", "Anthropic")
    at.send("My name is Alice.")
    app.fail_next("529")  # x-should-retry: false, so the SDK does not retry
    at.send("What is my name?")
    assert at.error[0].value == "Anthropic is overloaded right now: retry in a moment."
    at.click("Retry")
    assert at.replies()[-1] == "Your name is Alice."
