"""The local protocol server, driven through the real openai and anthropic SDKs."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from tests.conftest import NetworkBlockedError
from tests.server import ProtocolServer
from tests.server.model import Turn, count_input_tokens, known_facts, reply_for, word_chunks

GPT = "gpt-5.5"
CLAUDE = "claude-sonnet-5-5"
REPO = Path(__file__).resolve().parents[1]


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def raw_request(
    server: ProtocolServer,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One HTTP request without any SDK: (status, lower-cased headers, decoded JSON)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    data = None if body is None else json.dumps(body).encode()
    all_headers = {"content-type": "application/json", **(headers or {})}
    connection.request(method, path, body=data, headers=all_headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    response_headers = {name.lower(): value for name, value in response.getheaders()}
    return response.status, response_headers, json.loads(payload) if payload else None


# -- the deterministic model -----------------------------------------------------------------


def test_facts_are_collected_from_user_turns_and_later_ones_win() -> None:
    context = [
        Turn("user", "My name is Alice. My favorite color is blue!"),
        Turn("assistant", "My name is Claude."),
        Turn("user", "Actually my name is Bob"),
    ]
    assert known_facts(context) == {"name": "Bob", "favorite color": "blue"}


def test_reply_rules() -> None:
    history = [Turn("system", "Be brief."), Turn("user", "My favorite color is blue")]
    assert reply_for([*history, Turn("user", "What's my favorite color?")]) == (
        "Your favorite color is blue."
    )
    assert reply_for([*history, Turn("user", "what is my name")]) == "I don't know your name."
    assert reply_for([*history, Turn("user", "Summarize please")]) == (
        "Summary: My favorite color is blue"
    )
    assert reply_for([*history, Turn("assistant", "ok"), Turn("user", "hi")]) == (
        "You said: hi (3 messages in context)"
    )


def test_token_formula_and_word_chunks() -> None:
    assert count_input_tokens([Turn("system", "Be brief."), Turn("user", "hello")]) == 3 + 6 + 5
    assert word_chunks("You said: hi") == ["You ", "said: ", "hi"]


# -- Chat Completions ------------------------------------------------------------------------


def test_chat_reply_counts_messages_and_usage(openai_client: openai.OpenAI) -> None:
    completion = openai_client.chat.completions.create(
        model=GPT,
        messages=[{"role": "developer", "content": "Be brief."}, user("hello there")],
    )
    assert completion.choices[0].message.content == "You said: hello there (1 messages in context)"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == GPT
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == 3 + (4 + 2) + (4 + 2)
    assert usage.completion_tokens == 8
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 0


def test_chat_reply_depends_on_the_history_sent(openai_client: openai.OpenAI) -> None:
    question = user("What is my name?")
    with_history = [user("My name is Alice."), assistant("Nice to meet you."), question]
    answer = openai_client.chat.completions.create(model=GPT, messages=with_history)
    assert answer.choices[0].message.content == "Your name is Alice."
    forgetful = openai_client.chat.completions.create(model=GPT, messages=[question])
    assert forgetful.choices[0].message.content == "I don't know your name."


def test_chat_stream_arrives_word_by_word_then_usage(openai_client: openai.OpenAI) -> None:
    chunks = list(
        openai_client.chat.completions.create(
            model=GPT,
            messages=[user("hi")],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    words = [c.choices[0].delta.content for c in chunks[1:-2]]
    assert words == ["You ", "said: ", "hi ", "(1 ", "messages ", "in ", "context)"]
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 7
    assert len({c.id for c in chunks}) == 1


def test_chat_stream_without_include_usage_has_no_usage_chunk(
    openai_client: openai.OpenAI,
) -> None:
    chunks = list(
        openai_client.chat.completions.create(model=GPT, messages=[user("hi")], stream=True)
    )
    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)


def test_chat_stream_helper_assembles_the_completion(openai_client: openai.OpenAI) -> None:
    with openai_client.chat.completions.stream(
        model=GPT, messages=[user("hi")], stream_options={"include_usage": True}
    ) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == final.choices[0].message.content
    assert final.usage is not None and final.usage.prompt_tokens == 3 + 5


def test_chat_prompt_cache_key_reports_cached_tokens(openai_client: openai.OpenAI) -> None:
    completion = openai_client.chat.completions.create(
        model=GPT, messages=[user("one two three")], prompt_cache_key="conversation-1"
    )
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == usage.prompt_tokens // 2


def test_requests_are_recorded_with_lowercased_headers(
    server: ProtocolServer, openai_client: openai.OpenAI
) -> None:
    openai_client.chat.completions.create(
        model=GPT, messages=[user("hi")], max_completion_tokens=50
    )
    request = server.last_request("/chat/completions")
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body == {"model": GPT, "messages": [user("hi")], "max_completion_tokens": 50}
    assert server.requests == [request]


def test_openai_route_without_key_is_401(server: ProtocolServer) -> None:
    status, headers, body = raw_request(
        server, "POST", "/v1/chat/completions", {"model": GPT, "messages": [user("hi")]}
    )
    assert status == 401
    assert body["error"]["type"] == "invalid_request_error"
    assert "x-request-id" in headers


def test_models_list(openai_client: openai.OpenAI) -> None:
    ids = [model.id for model in openai_client.models.list()]
    assert {"gpt-4o", "gpt-4.1", "gpt-5.5"} <= set(ids)


def test_unknown_route_is_404(server: ProtocolServer) -> None:
    status, _, body = raw_request(server, "GET", "/v1/nothing", headers={"authorization": "x"})
    assert status == 404
    assert "Invalid URL" in body["error"]["message"]


# -- Responses -------------------------------------------------------------------------------


def test_responses_plain_reply_is_complete_and_stored(openai_client: openai.OpenAI) -> None:
    response = openai_client.responses.create(model=GPT, instructions="Be brief.", input="hello")
    assert response.output_text == "You said: hello (1 messages in context)"
    assert response.status == "completed"
    assert response.instructions == "Be brief."
    assert response.id.startswith("resp_")
    usage = response.usage
    assert usage is not None
    assert usage.input_tokens == 3 + (4 + 2) + (4 + 1)
    assert usage.output_tokens == 7
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.input_tokens_details.cache_write_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0
    assert openai_client.responses.retrieve(response.id).output_text == response.output_text


def test_responses_chain_recalls_history_and_input_usage_grows(
    openai_client: openai.OpenAI,
) -> None:
    first = openai_client.responses.create(model=GPT, input="My favorite color is green.")
    second = openai_client.responses.create(
        model=GPT, previous_response_id=first.id, input=[user("Something else.")]
    )
    third = openai_client.responses.create(
        model=GPT, previous_response_id=second.id, input="What's my favorite color?"
    )
    assert second.output_text == "You said: Something else. (3 messages in context)"
    assert third.output_text == "Your favorite color is green."
    assert third.previous_response_id == second.id
    tokens = [r.usage.input_tokens for r in (first, second, third) if r.usage]
    assert tokens[0] < tokens[1] < tokens[2]


def test_responses_instructions_are_not_carried_over(openai_client: openai.OpenAI) -> None:
    first = openai_client.responses.create(
        model=GPT, instructions="Answer in exactly five words.", input="hello"
    )
    second = openai_client.responses.create(model=GPT, previous_response_id=first.id, input="hi")
    assert second.instructions is None
    history = [Turn("user", "hello"), Turn("assistant", first.output_text), Turn("user", "hi")]
    assert second.usage is not None
    assert second.usage.input_tokens == count_input_tokens(history)


def test_responses_store_false_cannot_be_chained_or_retrieved(
    openai_client: openai.OpenAI,
) -> None:
    unstored = openai_client.responses.create(model=GPT, input="hello", store=False)
    with pytest.raises(openai.BadRequestError) as raised:
        openai_client.responses.create(model=GPT, previous_response_id=unstored.id, input="again")
    assert raised.value.code == "previous_response_not_found"
    assert raised.value.param == "previous_response_id"
    assert raised.value.body == {
        "message": f"Previous response with id '{unstored.id}' not found.",
        "type": "invalid_request_error",
        "param": "previous_response_id",
        "code": "previous_response_not_found",
    }
    with pytest.raises(openai.NotFoundError):
        openai_client.responses.retrieve(unstored.id)


def test_responses_unknown_previous_id_is_400(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        openai_client.responses.create(model=GPT, previous_response_id="resp_nope", input="x")
    assert raised.value.body == {
        "message": "Previous response with id 'resp_nope' not found.",
        "type": "invalid_request_error",
        "param": "previous_response_id",
        "code": "previous_response_not_found",
    }


def test_responses_delete_then_chaining_fails(openai_client: openai.OpenAI) -> None:
    response = openai_client.responses.create(model=GPT, input="hello")
    assert openai_client.responses.delete(response.id) is None
    with pytest.raises(openai.NotFoundError):
        openai_client.responses.retrieve(response.id)
    with pytest.raises(openai.BadRequestError) as raised:
        openai_client.responses.create(model=GPT, previous_response_id=response.id, input="x")
    assert raised.value.code == "previous_response_not_found"


def test_responses_reject_previous_id_with_conversation(openai_client: openai.OpenAI) -> None:
    first = openai_client.responses.create(model=GPT, input="hello")
    with pytest.raises(openai.BadRequestError):
        openai_client.responses.create(
            model=GPT, previous_response_id=first.id, conversation="conv_1", input="x"
        )


def test_responses_like_llama_cpp_reject_previous_id(
    server: ProtocolServer, openai_client: openai.OpenAI
) -> None:
    first = openai_client.responses.create(model=GPT, input="hello")
    server.supports_previous_response_id = False
    with pytest.raises(openai.BadRequestError) as raised:
        openai_client.responses.create(model=GPT, previous_response_id=first.id, input="x")
    assert raised.value.body == {
        "message": "llama.cpp does not support 'previous_response_id'.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_responses_stateless_replay_of_output_items(openai_client: openai.OpenAI) -> None:
    first = openai_client.responses.create(model=GPT, input="My name is Ada", store=False)
    replay = [user("My name is Ada"), *[item.model_dump() for item in first.output]]
    second = openai_client.responses.create(
        model=GPT, input=[*replay, user("What is my name?")], store=False
    )
    assert second.output_text == "Your name is Ada."


def test_responses_summarize_sees_earlier_user_turns(openai_client: openai.OpenAI) -> None:
    first = openai_client.responses.create(model=GPT, input="We talked about tea")
    second = openai_client.responses.create(
        model=GPT, previous_response_id=first.id, input="Summarize the conversation"
    )
    assert second.output_text == "Summary: We talked about tea"


def test_responses_input_items_newest_first_by_default(openai_client: openai.OpenAI) -> None:
    first = openai_client.responses.create(model=GPT, input="one")
    second = openai_client.responses.create(model=GPT, previous_response_id=first.id, input="two")
    newest_first = openai_client.responses.input_items.list(second.id)
    texts = [item.content[0].text for item in newest_first.data]  # type: ignore[union-attr]
    assert texts == ["two", first.output_text, "one"]
    oldest_first = openai_client.responses.input_items.list(second.id, order="asc")
    assert [item.id for item in oldest_first.data] == [item.id for item in newest_first.data][::-1]


def test_responses_stream_event_sequence(openai_client: openai.OpenAI) -> None:
    events = list(openai_client.responses.create(model=GPT, input="hi", stream=True))
    types = [event.type for event in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[4:-4] == ["response.output_text.delta"] * 7
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    created, completed = events[0], events[-1]
    assert created.response.id == completed.response.id  # type: ignore[union-attr]
    assert completed.response.usage is not None  # type: ignore[union-attr]


def test_responses_stream_helper_and_chaining_on_a_streamed_response(
    openai_client: openai.OpenAI,
) -> None:
    with openai_client.responses.stream(model=GPT, input="My pet is a cat.") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text
    follow_up = openai_client.responses.create(
        model=GPT, previous_response_id=final.id, input="what is my pet?"
    )
    assert follow_up.output_text == "Your pet is a cat."


# -- Anthropic Messages ----------------------------------------------------------------------


def test_anthropic_reply_usage_and_request_shape(
    server: ProtocolServer, anthropic_client: anthropic.Anthropic
) -> None:
    message = anthropic_client.messages.create(
        model=CLAUDE, max_tokens=100, system="Be brief.", messages=[user("hello")]
    )
    assert message.content[0].text == "You said: hello (1 messages in context)"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 3 + (4 + 2) + (4 + 1)
    assert message.usage.output_tokens == 7
    assert message.usage.cache_read_input_tokens == 0
    assert message.usage.cache_creation_input_tokens == 0
    request = server.last_request("/v1/messages")
    assert request.headers["authorization"] == "Bearer sk-ant-test"
    assert request.headers["anthropic-version"] == "2026-10-21"
    assert request.body is not None and request.body["system"] == "Be brief."


def test_anthropic_system_blocks_and_merged_turns(anthropic_client: anthropic.Anthropic) -> None:
    message = anthropic_client.messages.create(
        model=CLAUDE,
        max_tokens=100,
        system=[{"type": "text", "text": "Be brief."}],
        messages=[user("My name is Bob."), user("Really."), assistant("ok"), user("hi")],
    )
    assert message.content[0].text == "You said: hi (3 messages in context)"  # type: ignore[union-attr]


def test_anthropic_stream_events_and_final_message(anthropic_client: anthropic.Anthropic) -> None:
    events = list(
        anthropic_client.messages.create(
            model=CLAUDE, max_tokens=100, messages=[user("hi")], stream=True
        )
    )
    types = [event.type for event in events]
    assert types == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 7,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    with anthropic_client.messages.stream(
        model=CLAUDE, max_tokens=100, messages=[user("hi")]
    ) as stream:
        words = list(stream.text_stream)
        final = stream.get_final_message()
    assert words[:2] == ["You ", "said: "]
    assert final.usage.output_tokens == len(words)
    count = anthropic_client.messages.count_tokens(model=CLAUDE, messages=[user("hi")])
    assert final.usage.input_tokens == count.input_tokens


def test_anthropic_recalls_history(anthropic_client: anthropic.Anthropic) -> None:
    message = anthropic_client.messages.create(
        model=CLAUDE,
        max_tokens=100,
        messages=[
            user("my favorite food is soup"),
            assistant("Nice."),
            user("What's my favorite food?"),
        ],
    )
    assert message.content[0].text == "Your favorite food is soup."  # type: ignore[union-attr]


def test_anthropic_accepts_x_api_key_and_validates(server: ProtocolServer) -> None:
    body = {"model": CLAUDE, "max_tokens": 10, "messages": [user("hi")]}
    key = {"x-api-key": "sk-ant-test"}
    old_version = {**key, "anthropic-version": "2023-06-01"}
    status, headers, reply = raw_request(server, "POST", "/v1/messages", body, old_version)
    assert status == 200 and reply["type"] == "message"
    assert headers["request-id"].startswith("req_")
    status, _, reply = raw_request(server, "POST", "/v1/messages", body, key)
    assert (status, reply["error"]["type"]) == (400, "invalid_request_error")
    status, _, reply = raw_request(
        server, "POST", "/v1/messages", body, {"anthropic-version": "2023-06-01"}
    )
    assert (status, reply["error"]["type"]) == (401, "authentication_error")
    no_max_tokens = {"model": CLAUDE, "messages": [user("hi")]}
    status, _, reply = raw_request(server, "POST", "/v1/messages", no_max_tokens, old_version)
    assert status == 400 and "max_tokens" in reply["error"]["message"]


def test_anthropic_sampling_params_depend_on_api_version(
    anthropic_client: anthropic.Anthropic,
) -> None:
    with pytest.raises(anthropic.BadRequestError):
        anthropic_client.messages.create(
            model=CLAUDE, max_tokens=10, messages=[user("hi")], extra_body={"temperature": 0.2}
        )
    message = anthropic_client.messages.create(
        model=CLAUDE,
        max_tokens=10,
        messages=[user("hi")],
        extra_body={"temperature": 0.2},
        extra_headers={"anthropic-version": "2023-06-01"},
    )
    assert message.stop_reason == "end_turn"


# -- injected failures -----------------------------------------------------------------------


def call_chat(client: openai.OpenAI, **kwargs: Any) -> Any:
    kwargs.setdefault("messages", [user("hi")])
    return client.chat.completions.create(model=GPT, **kwargs)


def call_responses(client: openai.OpenAI, **kwargs: Any) -> Any:
    return client.responses.create(model=GPT, input="hi", **kwargs)


def call_messages(client: anthropic.Anthropic, **kwargs: Any) -> Any:
    return client.messages.create(model=CLAUDE, max_tokens=50, messages=[user("hi")], **kwargs)


OPENAI_CALLS = [call_chat, call_responses]


@pytest.mark.parametrize("call", OPENAI_CALLS)
@pytest.mark.parametrize(
    ("kind", "error", "code"),
    [
        ("401", openai.AuthenticationError, "invalid_api_key"),
        ("404_model", openai.NotFoundError, "model_not_found"),
        ("429", openai.RateLimitError, "rate_limit_exceeded"),
        ("500", openai.InternalServerError, None),
        ("529", openai.InternalServerError, None),
        ("context_length", openai.BadRequestError, "context_length_exceeded"),
    ],
)
def test_openai_injected_errors(
    server: ProtocolServer,
    openai_client: openai.OpenAI,
    call: Any,
    kind: str,
    error: type[openai.APIStatusError],
    code: str | None,
) -> None:
    server.fail_next(kind)
    with pytest.raises(error) as raised:
        call(openai_client)
    assert raised.value.code == code
    assert raised.value.status_code == (int(kind[:3]) if kind[:3].isdigit() else 400)
    assert raised.value.request_id is not None
    expected_retry = None if kind == "429" else "false"
    assert raised.value.response.headers.get("x-should-retry") == expected_retry
    if kind == "404_model":
        assert f"`{GPT}`" in raised.value.message
    if kind == "context_length":
        assert raised.value.param == ("messages" if call is call_chat else "input")
    assert call(openai_client)  # the failure was used up


@pytest.mark.parametrize(
    ("kind", "error", "error_type"),
    [
        ("401", anthropic.AuthenticationError, "authentication_error"),
        ("404_model", anthropic.NotFoundError, "not_found_error"),
        ("429", anthropic.RateLimitError, "rate_limit_error"),
        ("500", anthropic.InternalServerError, "api_error"),
        ("529", anthropic.OverloadedError, "overloaded_error"),
        ("context_length", anthropic.BadRequestError, "invalid_request_error"),
    ],
)
def test_anthropic_injected_errors(
    server: ProtocolServer,
    anthropic_client: anthropic.Anthropic,
    kind: str,
    error: type[anthropic.APIStatusError],
    error_type: str,
) -> None:
    server.fail_next(kind)
    with pytest.raises(error) as raised:
        call_messages(anthropic_client)
    assert raised.value.type == error_type
    assert raised.value.request_id is not None and raised.value.request_id.startswith("req_")
    if kind == "404_model":
        assert raised.value.api_message == f"model: {CLAUDE}"
    if kind == "context_length":
        assert raised.value.api_message.startswith("prompt is too long: ")
    assert call_messages(anthropic_client)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_sdk_retry_recovers_from_429(server: ProtocolServer, provider: str) -> None:
    server.fail_next("429")
    started = time.monotonic()
    if provider == "openai":
        with openai.OpenAI(
            base_url=server.openai_base_url, api_key="sk-test", max_retries=1
        ) as client:
            assert call_chat(client).choices[0].message.content
    else:
        with anthropic.Anthropic(
            base_url=server.anthropic_base_url, api_key="sk-ant-test", max_retries=1
        ) as client:
            assert call_messages(client).content
    assert time.monotonic() - started < 2
    assert len(server.requests) == 2


def test_failures_apply_times_then_stop(
    server: ProtocolServer, openai_client: openai.OpenAI
) -> None:
    server.fail_next("500", times=2)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            call_chat(openai_client)
    assert call_chat(openai_client)


def test_failure_by_request_header(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.AuthenticationError):
        call_chat(openai_client, extra_headers={"x-test-fail": "401"})
    assert call_chat(openai_client)
    cut = {"x-test-fail": "cut_stream", "x-test-after-chunks": "1"}
    with pytest.raises(openai.APIConnectionError):
        list(call_chat(openai_client, stream=True, extra_headers=cut))
    with pytest.raises(openai.BadRequestError, match="unknown x-test-fail kind"):
        call_chat(openai_client, extra_headers={"x-test-fail": "4O1"})


def test_failures_skip_token_counting_unless_targeted(
    server: ProtocolServer, anthropic_client: anthropic.Anthropic
) -> None:
    server.fail_next("500")
    anthropic_client.messages.count_tokens(model=CLAUDE, messages=[user("hi")])
    with pytest.raises(anthropic.InternalServerError):
        call_messages(anthropic_client)
    server.fail_next("500", path="/count_tokens")
    with pytest.raises(anthropic.InternalServerError):
        anthropic_client.messages.count_tokens(model=CLAUDE, messages=[user("hi")])


def test_cut_stream_chat(server: ProtocolServer, openai_client: openai.OpenAI) -> None:
    server.fail_next("cut_stream", after_chunks=2)
    received: list[str | None] = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in call_chat(openai_client, stream=True):
            received.append(chunk.choices[0].delta.content)
    assert received == ["", "You ", "said: "]


def test_cut_stream_graceful_ends_without_done(
    server: ProtocolServer, openai_client: openai.OpenAI
) -> None:
    server.fail_next("cut_stream", after_chunks=1, graceful=True)
    chunks = list(call_chat(openai_client, stream=True))
    assert [c.choices[0].delta.content for c in chunks] == ["", "You "]
    assert chunks[-1].choices[0].finish_reason is None


def test_cut_stream_responses(server: ProtocolServer, openai_client: openai.OpenAI) -> None:
    server.fail_next("cut_stream", after_chunks=3)
    types: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        for event in call_responses(openai_client, stream=True):
            types.append(event.type)
            if event.type == "response.created":
                created_id = event.response.id
    assert types.count("response.output_text.delta") == 3
    assert "response.completed" not in types
    with pytest.raises(openai.NotFoundError):  # a cut response is not kept for chaining
        openai_client.responses.retrieve(created_id)


def test_cut_stream_anthropic_raises_raw_transport_error(
    server: ProtocolServer, anthropic_client: anthropic.Anthropic
) -> None:
    server.fail_next("cut_stream", after_chunks=2)
    texts: list[str] = []
    # anthropic 2.13 does not wrap errors raised while reading a stream.
    with pytest.raises(httpx2.RemoteProtocolError):
        for event in call_messages(anthropic_client, stream=True):
            if event.type == "content_block_delta":
                texts.append(event.delta.text)  # type: ignore[union-attr]
    assert texts == ["You ", "said: "]


def test_cut_non_streaming_drops_the_connection(
    server: ProtocolServer, openai_client: openai.OpenAI, anthropic_client: anthropic.Anthropic
) -> None:
    server.fail_next("cut_stream")
    with pytest.raises(openai.APIConnectionError):
        call_chat(openai_client)
    server.fail_next("cut_stream")
    with pytest.raises(anthropic.APIConnectionError):
        call_messages(anthropic_client)


def test_slow_reply_times_out(server: ProtocolServer, openai_client: openai.OpenAI) -> None:
    server.fail_next("slow", delay=0.5)
    with pytest.raises(openai.APITimeoutError):
        call_chat(openai_client, timeout=0.1)
    server.fail_next("slow", delay=0.1)
    assert call_chat(openai_client, timeout=5)


def test_stream_error_chat(server: ProtocolServer, openai_client: openai.OpenAI) -> None:
    server.fail_next("stream_error")
    with pytest.raises(openai.APIError) as raised:
        list(call_chat(openai_client, stream=True))
    assert not isinstance(raised.value, openai.APIStatusError)


@pytest.mark.parametrize("style", ["failed", "error", "nested"])
def test_stream_error_responses(
    server: ProtocolServer, openai_client: openai.OpenAI, style: str
) -> None:
    server.fail_next("stream_error", style=style)
    if style == "nested":
        with pytest.raises(openai.APIError):
            list(call_responses(openai_client, stream=True))
        return
    events = list(call_responses(openai_client, stream=True))
    assert events[-1].type == ("response.failed" if style == "failed" else "error")
    assert [e.type for e in events].count("response.output_text.delta") == 1


def test_stream_error_anthropic(
    server: ProtocolServer, anthropic_client: anthropic.Anthropic
) -> None:
    server.fail_next("stream_error")
    with pytest.raises(anthropic.APIStatusError) as raised:
        list(call_messages(anthropic_client, stream=True))
    assert raised.value.status_code == 200
    assert raised.value.type == "overloaded_error"


def test_chunk_delay_slows_the_stream(server: ProtocolServer, openai_client: openai.OpenAI) -> None:
    server.chunk_delay = 0.05
    started = time.monotonic()
    list(call_chat(openai_client, stream=True))
    assert time.monotonic() - started >= 0.05 * 6


def test_context_window_option(
    server: ProtocolServer, openai_client: openai.OpenAI, anthropic_client: anthropic.Anthropic
) -> None:
    server.context_window = 10
    with pytest.raises(openai.BadRequestError) as raised:
        call_chat(openai_client, messages=[user("one two three four five six")])
    assert raised.value.code == "context_length_exceeded"
    assert call_chat(openai_client)
    with pytest.raises(anthropic.BadRequestError):
        anthropic_client.messages.create(
            model=CLAUDE, max_tokens=5, messages=[user("one two three four five six")]
        )


# -- control endpoints, standalone mode, network guard ---------------------------------------


def test_control_endpoints(server: ProtocolServer, openai_client: openai.OpenAI) -> None:
    status, _, reply = raw_request(server, "POST", "/__control__/fail", {"kind": "500"})
    assert (status, reply["queued"]) == (200, 1)
    with pytest.raises(openai.InternalServerError):
        call_chat(openai_client)
    status, _, options = raw_request(
        server, "POST", "/__control__/options", {"supports_previous_response_id": False}
    )
    assert options["supports_previous_response_id"] is False
    assert server.supports_previous_response_id is False
    _, _, recorded = raw_request(server, "GET", "/__control__/requests")
    assert recorded[0]["path"] == "/v1/chat/completions"
    assert recorded[0]["headers"]["authorization"] == "[redacted]"
    status, _, _ = raw_request(server, "POST", "/__control__/fail", {"kind": "nonsense"})
    assert status == 400
    raw_request(server, "POST", "/__control__/reset")
    assert server.requests == []
    assert server.supports_previous_response_id is True


def test_standalone_server_prints_its_url() -> None:
    command = [sys.executable, "-m", "tests.server", "--port", "0"]
    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            base_url = process.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:")
            port = int(base_url.rsplit(":", 1)[1])
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/__control__/options")
            assert json.loads(connection.getresponse().read())["chunk_delay"] == 0.0
            connection.close()
        finally:
            process.terminate()
    assert process.returncode == 0  # SIGTERM stops it cleanly


def test_network_guard_blocks_non_loopback(network_guard: list[str]) -> None:
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(("192.0.2.1", 443), timeout=0.1)
    with socket.socket() as sock, pytest.raises(NetworkBlockedError):
        sock.connect(("8.8.8.8", 53))
    assert len(network_guard) == 2
    network_guard.clear()


def test_network_guard_allows_loopback(server: ProtocolServer) -> None:
    with socket.create_connection(("localhost", server.port), timeout=1):
        pass
    with socket.socket() as sock:
        sock.connect(("127.0.0.1", server.port))
