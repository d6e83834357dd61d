"""Every provider x API mode, streamed and not, three turns against llama.cpp's llama-server.

What is asserted is protocol behaviour seen on the wire (through the recorder) and in the
server's own figures: the request chatkit reports is the one that went; every turn's request
carries the whole conversation (the server counts exactly that many tokens); Responses input
items are typed; ids and usage come back. Never the tiny model's words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chatkit.conversation import Conversation
from chatkit.providers import CallResult, LocallyChained, Provider, ProviderSpec, make_provider
from chatkit.providers.anthropic import Anthropic
from chatkit.providers.base import GenerationOptions
from chatkit.providers.openai_chat import OpenAIChat
from chatkit.providers.openai_responses import OpenAIResponses
from chatkit.teaching.model_view import what_the_model_sees
from chatkit.tokens import count_message_tokens
from chatkit.turn import finish_turn, prepare_turn
from tests.peers.conftest import API_KEY, MODEL, LlamaServer

SHORT = GenerationOptions(max_output_tokens=16)
TURNS = (
    "My name is Ada and my favourite colour is teal.",
    "I live in a lighthouse.",
    "What is my name?",
)
PATHS = {
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
    "anthropic": "/v1/messages",
    "anthropic-responses": "/v1/messages",
}


def make(kind: str, llama: LlamaServer, openai_client, anthropic_client) -> Provider:
    if kind == "chat":
        return OpenAIChat(model=MODEL, client=openai_client, base_url=llama.openai_base_url)
    if kind == "responses":
        return OpenAIResponses(model=MODEL, client=openai_client, base_url=llama.openai_base_url)
    if kind == "anthropic":
        return Anthropic(model=MODEL, client=anthropic_client)
    return LocallyChained(inner=Anthropic(model=MODEL, client=anthropic_client))


def take_turn(
    conversation: Conversation, text: str, provider: Provider, streamed: bool
) -> tuple[Conversation, CallResult, list[Any]]:
    """One turn as the app takes it (prepare, send, finish), streamed or in one response."""
    prepared = prepare_turn(conversation, text, provider, options=SHORT)
    if streamed:
        reply = provider.stream(prepared.messages, SHORT, prepared.previous_response_id)
        chunks = list(reply)
        result = reply.result
    else:
        result = provider.complete(
            prepared.messages, SHORT, prepared.previous_response_id, stream=False
        )
        chunks = []
    assert result is not None
    return finish_turn(prepared, result), result, chunks


def wire_texts(body: dict[str, Any]) -> list[str]:
    """Every text a request body carries, in order, whatever its API."""
    texts = [body["instructions"]] if isinstance(body.get("instructions"), str) else []
    if isinstance(body.get("system"), str):
        texts.append(body["system"])
    for item in body.get("messages") or body.get("input") or []:
        texts.append(item["content"])
    return texts


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "plain"])
@pytest.mark.parametrize("kind", list(PATHS))
def test_three_turns_send_the_whole_conversation_every_time(
    kind: str, streamed: bool, llama, llama_openai, llama_anthropic
) -> None:
    provider = make(kind, llama, llama_openai, llama_anthropic)
    conversation = Conversation(system_prompt="You are brief.")
    results: list[CallResult] = []
    for number, text in enumerate(TURNS, start=1):
        conversation, result, chunks = take_turn(conversation, text, provider, streamed)
        results.append(result)
        sent = llama.recorder.requests_to(PATHS[kind])[-1].body
        # what chatkit says it sent is what went over the wire, streamed as asked
        assert sent == result.request_body
        assert bool(sent.get("stream")) is streamed
        if streamed:
            assert "".join(chunks) == result.text
        # the whole conversation so far went, every turn: the system prompt, every earlier
        # user message and reply, and the new message
        history = conversation.to_messages()[:-1]
        assert wire_texts(sent) == [m.content for m in history]
        assert len(history) == 2 * number
        # the server read exactly that: its own count of the history is what it billed
        server_count = count_message_tokens(history, tokenizer=provider.tokenizer())
        assert result.usage is not None and result.usage.output_tokens > 0
        assert result.usage.input_tokens == server_count.total
        assert result.response_id
    # usage grows with the conversation; every reply has its own id
    assert results[0].usage.input_tokens < results[1].usage.input_tokens
    assert results[1].usage.input_tokens < results[2].usage.input_tokens
    assert len({r.response_id for r in results}) == 3
    assert TURNS[0] in wire_texts(llama.recorder.requests_to(PATHS[kind])[-1].body)


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "plain"])
def test_responses_items_are_typed_and_the_chain_falls_back_once(
    streamed: bool, llama, llama_openai
) -> None:
    provider = make("responses", llama, llama_openai, None)
    conversation = Conversation(system_prompt="You are brief.")
    notes = []
    for text in TURNS:
        conversation, result, _ = take_turn(conversation, text, provider, streamed)
        notes.append(result.note)
    bodies = [r.body for r in llama.recorder.requests_to("/v1/responses")]
    # turn 1; turn 2 tried the chain (llama.cpp refuses it) and resent the history; turn 3
    # went straight to the whole history: four requests, no doomed retry on turn 3
    assert [("previous_response_id" in b) for b in bodies] == [False, True, False, False]
    for body in bodies:
        assert body["instructions"] == "You are brief."
        assert all(item["type"] == "message" for item in body["input"])
    assert [item["role"] for item in bodies[-1]["input"]] == ["user", "assistant"] * 2 + ["user"]
    assert bodies[-1]["input"][0]["content"] == TURNS[0]
    assert notes[0] == ""
    assert "cannot chain" in notes[1] and "from now on" in notes[1]
    assert "cannot chain" in notes[2] and "full history (5 messages)" in notes[2]


def test_the_app_catalogue_builds_providers_that_work_on_llama_server(llama) -> None:
    """OpenAI-compatible, as the sidebar builds it from a base URL (no client passed in)."""
    for mode in ("chat", "responses"):
        spec = ProviderSpec("OpenAI-compatible", mode, MODEL, base_url=llama.openai_base_url)
        provider = make_provider(spec, api_key=API_KEY)
        conversation = Conversation()
        for text in TURNS:
            conversation, result, _ = take_turn(conversation, text, provider, streamed=True)
        assert result.usage.input_tokens == provider.tokenizer().exact_prompt_tokens(
            conversation.to_messages()[:-1]
        )
        assert "teal" in wire_texts(llama.recorder.requests[-1].body)[0]


@pytest.mark.parametrize(
    "factory",
    [
        lambda c, s: OpenAIChat(model=MODEL, client=c, base_url=s),
        lambda c, s: OpenAIResponses(model=MODEL, client=c, base_url=s),
    ],
    ids=["chat", "responses"],
)
def test_counts_on_llama_server_equal_what_it_bills_and_say_exact(
    factory: Callable[..., Provider], llama, llama_openai
) -> None:
    provider = factory(llama_openai, llama.openai_base_url)
    for system_prompt in ("You are brief.", ""):  # the template adds its own when none is set
        conversation = Conversation(system_prompt=system_prompt)
        for text in TURNS:
            prepared = prepare_turn(conversation, text, provider, options=SHORT)
            counted = count_message_tokens(prepared.messages, tokenizer=provider.tokenizer())
            result = provider.complete(prepared.messages, SHORT, prepared.previous_response_id)
            conversation = finish_turn(prepared, result)
            assert counted.exact and "Exact" in counted.note and "input_tokens" in counted.note
            assert prepared.prompt_tokens == counted.total == result.usage.input_tokens


def test_counts_are_asked_once_per_distinct_prompt(llama, llama_openai) -> None:
    provider = OpenAIChat(model=MODEL, client=llama_openai, base_url=llama.openai_base_url)
    conversation = Conversation(system_prompt="You are brief.")
    conversation.add_user(TURNS[0])
    messages = conversation.to_messages()

    def count_requests() -> int:
        return len(llama.recorder.requests_to("/v1/chat/completions/input_tokens"))

    first = count_message_tokens(messages, tokenizer=provider.tokenizer())
    asked = count_requests()
    assert asked > 0
    for _ in range(5):  # an app rerun recounts the same conversation: no new requests
        again = count_message_tokens(messages, tokenizer=provider.tokenizer())
        assert again == first
    assert count_requests() == asked
    conversation.add_assistant("Hello Ada.")
    conversation.add_user(TURNS[1])
    count_message_tokens(conversation.to_messages(), tokenizer=provider.tokenizer())
    # the new prompt's total, one count for each new message, and (once) the probe turn
    # that replies are measured against
    assert count_requests() == asked + 4
    count_message_tokens(conversation.to_messages(), tokenizer=provider.tokenizer())
    assert count_requests() == asked + 4


def test_what_the_model_sees_is_the_prompt_the_server_counted(llama, llama_openai) -> None:
    """The server names its GGUF file in its replies; rendered here with that file's chat
    template, the prompt has exactly as many tokens as the server counted."""
    provider = OpenAIChat(model=MODEL, client=llama_openai, base_url=llama.openai_base_url)
    conversation = Conversation(system_prompt="Be brief.")
    for text in TURNS[:2]:
        prepared = prepare_turn(conversation, text, provider, options=SHORT)
        conversation = finish_turn(prepared, provider.complete(prepared.messages, SHORT))
    view = what_the_model_sees(conversation, 3)
    assert view.how == "template" and "<|im_start|>assistant" in view.text
    assert view.tokens == conversation.replies[3].input_tokens
