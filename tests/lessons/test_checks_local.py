"""The checks on calls really made through ``chatkit.turn.send`` with the offline model: the
bodies look like what the checks read, in every API mode the lessons use."""

from __future__ import annotations

import pytest

from chatkit.conversation import Conversation
from chatkit.lessons import SNIPPETS, CapturedCall, check_lesson, run_snippet, sent_request
from chatkit.providers import ProviderSpec, ResponseStore, make_provider
from chatkit.providers.anthropic_messages import MessagesShaped
from chatkit.providers.base import GenerationOptions
from chatkit.providers.calls import request_size
from chatkit.providers.chained import LocallyChained
from chatkit.providers.registry import in_mode
from chatkit.turn import TrimmingSettings, make_strategy, send

pytestmark = pytest.mark.local_model

SYSTEM = "You are a helpful assistant with a good memory."
SHORT = GenerationOptions(max_output_tokens=8, temperature=0.0, seed=1)


class Chat:
    """A student's chat: conversations in one provider mode, every finished turn captured."""

    def __init__(self, provider, trimming: TrimmingSettings | None = None) -> None:
        self.provider = provider
        self.trimming = trimming or TrimmingSettings()
        self.calls: list[CapturedCall] = []
        self.conversation = Conversation(system_prompt=SYSTEM)

    def new(self) -> None:
        self.conversation = Conversation(system_prompt=SYSTEM)

    def say(self, *texts: str) -> None:
        for text in texts:
            strategy = make_strategy(self.trimming, self.provider, summarizer=_first_words)
            self.conversation, _ = send(self.conversation, text, self.provider, strategy, SHORT)
            info = self.conversation.replies[len(self.conversation.messages) - 1]
            self.calls.append(
                CapturedCall(
                    self.conversation.id,
                    info,
                    SYSTEM,
                    self.trimming,
                    self.provider.context_window(),
                )
            )


def _first_words(messages) -> str:
    return " / ".join(m.content.split(".")[0] for m in messages if m.role == "user")


@pytest.fixture
def in_chat(local_model):
    return Chat(local_model)


def test_lesson_1_a_new_chat_forgets(in_chat):
    in_chat.say("My name is Alice.")
    in_chat.new()
    in_chat.say("What is my name?")
    assert check_lesson(1, in_chat.calls).passed
    assert in_chat.calls[-1].reply.request_body["messages"][-1]["content"] == "What is my name?"


def test_lesson_2_right_and_wrong(in_chat):
    in_chat.say("My name is Alice.", "What is my name?")
    assert check_lesson(2, in_chat.calls).passed
    wrong = Chat(in_chat.provider)
    wrong.say("My name is Alice.")
    wrong.new()
    wrong.say("What is my name?")
    result = check_lesson(2, wrong.calls)
    assert not result.passed and "carried only the new message" in result.sentence


def test_lesson_3_the_local_responses_path_chains(local_model):
    chat = Chat(in_mode(local_model, "responses", ResponseStore()))
    chat.say("My favorite color is blue.", "What is my favorite color?")
    last = chat.calls[-1]
    assert last.reply.request_body["messages"][1]["content"] == "My favorite color is blue."
    sent = sent_request(last)  # what the client handed the local store
    assert sent["input"] == [
        {"type": "message", "role": "user", "content": "What is my favorite color?"}
    ]
    assert sent["previous_response_id"] == chat.calls[0].reply.response_id
    assert sent["instructions"] == SYSTEM and sent["store"] is True
    assert request_size(sent) == last.reply.request_bytes
    assert check_lesson(3, chat.calls).passed
    assert not check_lesson(2, chat.calls).passed


def test_lesson_3_through_make_provider():
    provider = make_provider(ProviderSpec(kind="Local", mode="responses"))
    assert isinstance(provider, LocallyChained)
    chat = Chat(provider)
    chat.say("My name is Alice.")
    chat.new()
    chat.say("What is my name?")
    assert not check_lesson(3, chat.calls).passed


def test_lesson_4_messages_mode_sends_the_anthropic_shape():
    provider = make_provider(ProviderSpec(kind="Local", mode="messages"))
    assert isinstance(provider, MessagesShaped) and provider.mode == "messages"
    chat = Chat(provider)
    chat.say("Hi, I am learning Python.", "What should I learn first?")
    body = chat.calls[-1].reply.request_body
    assert body["system"] == SYSTEM
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert check_lesson(4, chat.calls).passed


def test_lesson_5_the_window(in_chat):
    in_chat.say("Hi.")
    assert not check_lesson(5, in_chat.calls).passed
    in_chat.say("Please remember: my name is Alice, I live in Paris and I like tea. " * 4)
    result = check_lesson(5, in_chat.calls)
    assert result.passed and "exact" in result.sentence, result.sentence


@pytest.mark.parametrize(
    "trimming",
    [TrimmingSettings("last_n", last_n=1), TrimmingSettings("token_budget", max_tokens=70)],
)
def test_lesson_6_trimming(local_model, trimming):
    chat = Chat(local_model, trimming)
    chat.say("My name is Alice.", "I live in Paris.", "I like tea.", "What is my name?")
    assert chat.calls[-1].reply.kept_from is not None
    assert check_lesson(6, chat.calls).passed, check_lesson(6, chat.calls).sentence
    untrimmed = Chat(local_model)
    untrimmed.say("My name is Alice.")
    assert not check_lesson(6, untrimmed.calls).passed


def test_lesson_7_summaries(local_model):
    chat = Chat(local_model, TrimmingSettings("summarize", max_tokens=90))
    chat.say("My name is Alice.", "I live in Paris.", "I like tea.", "What is my name?")
    last = chat.calls[-1].reply
    assert last.summary and last.kept_from
    assert check_lesson(7, chat.calls).passed, check_lesson(7, chat.calls).sentence


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: s.name)
def test_lesson_8_each_snippet_passes_exactly_when_it_keeps_context(local_model, snippet):
    calls = run_snippet(snippet.name, local_model)
    assert len(calls) == 2
    assert {c.reply.mode for c in calls} == {snippet.mode}
    assert check_lesson(8, calls).passed is snippet.keeps_context, check_lesson(8, calls)
