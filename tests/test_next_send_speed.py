"""The next send at every keystroke: remembered counts and lines give the same answers as
counting afresh, a changed message is counted again, and the faster summarize loop decides
exactly as the one it replaced."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatkit.conversation import Conversation, split_turns
from chatkit.messages import Message
from chatkit.next_send import PlanSummarizer, plan_next_send
from chatkit.providers import ProviderSpec, make_provider
from chatkit.providers.openai_chat import OpenAIChat
from chatkit.summary import GrowingLines, message_lines
from chatkit.teaching.context_view import PreviewSummarizer
from chatkit.tokens import (
    TOKENS_PER_MESSAGE,
    forget_counts,
    get_encoding,
    tokenizer_for_model,
)
from chatkit.trimming import (
    SUMMARY_PREFIX,
    SummarizeOlder,
    TokenBudget,
    TrimResult,
    _result,
    _shorten_to_fit,
    honours_left_out,
)
from chatkit.turn import TrimmingSettings

LLAMA_COUNT = "/chat/completions/input_tokens"
_examples = settings(max_examples=150, deadline=None)


# -- the summarize loop as it was, kept here to compare against ------------------------------


class _OldSummarizeOlder(SummarizeOlder):
    """``SummarizeOlder.apply`` before the next-send work: the whole budget applied, then
    planned again, and every dropped list rebuilt from scratch."""

    @honours_left_out
    def apply(self, messages):  # type: ignore[override]
        converted = list(messages)
        budget = TokenBudget(self.max_tokens, self.model, self.tokenizer)
        first = budget.apply(converted)
        if not first.dropped:
            return first
        tokenizer = budget._tokenizer()
        layout = split_turns(converted)
        keep, per, used = budget.plan(converted)
        kept_turns = [t for t in layout.turns if set(t) <= keep]
        reason = "summarized: older than what fits the budget"
        while True:
            dropped = [converted[i] for i in range(len(converted)) if i not in keep]
            text = self.summarizer(dropped)
            summary = Message("system", SUMMARY_PREFIX + text)
            cost = tokenizer.count_message(summary)
            if used + cost <= self.max_tokens:
                return _result(converted, keep, reason, summary, len(layout.head))
            if not kept_turns:
                break
            oldest = [i for i in kept_turns.pop(0) if not converted[i].pinned]
            keep.difference_update(oldest)
            used -= sum(per[i] for i in oldest)
        shortened = _shorten_to_fit(text, self.max_tokens - used, tokenizer)
        if shortened is None:
            unsummarized = f"did not fit the budget of {self.max_tokens} tokens (no summary fits)"
            return _result(converted, keep, unsummarized)
        result = _result(converted, keep, reason, shortened, len(layout.head))
        return replace(result, summary_shortened=True)


class _Recording:
    """A summarizer that keeps what it was asked (the loop's calls are part of its result)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls: list[list[Message]] = []

    def __call__(self, messages: Sequence[Message]) -> str:
        self.calls.append(list(messages))
        return self.inner(messages)


_words = st.lists(
    st.sampled_from(["the", "answer", "token", "budget", "你好", "👍🏽", "Alice", "42", "ok."]),
    max_size=25,
).map(" ".join)
_choice = st.sampled_from(["auto", "auto", "auto", "pinned", "left_out"])


@st.composite
def _conversations(draw: st.DrawFn) -> list[Message]:
    messages = [Message("system", draw(_words))] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 9))):
        messages.append(Message("user", draw(_words), in_context=draw(_choice)))
        messages.append(Message("assistant", draw(_words), in_context=draw(_choice)))
    messages.append(Message("user", draw(_words)))
    return messages


def _same(new: TrimResult, old: TrimResult) -> None:
    assert new.messages == old.messages
    assert new.dropped == old.dropped
    assert new.summary == old.summary
    assert new.summary_shortened == old.summary_shortened


@_examples
@given(messages=_conversations(), budget=st.integers(20, 400), model_summary=st.booleans())
def test_the_summarize_loop_decides_and_asks_as_before(
    messages: list[Message], budget: int, model_summary: bool
) -> None:
    """Same kept messages, summary and reasons, and the summarizer asked the same lists."""
    older = [m for m in messages[:-1] if not m.is_instruction and not m.left_out]
    summaries = {tuple(older[:2]): "The user said hello."} if model_summary else {}
    old_summarizer = _Recording(PreviewSummarizer(summaries))
    new_summarizer = _Recording(PlanSummarizer(summaries))
    try:
        old = _OldSummarizeOlder(budget, old_summarizer).apply(messages)
    except Exception as error:  # the same sentence, or the same result
        with pytest.raises(type(error)):
            SummarizeOlder(budget, new_summarizer).apply(messages)
        return
    for _ in range(2):  # the second time from remembered lines and counts
        new_summarizer.calls.clear()
        _same(SummarizeOlder(budget, new_summarizer).apply(messages), old)
        assert new_summarizer.calls == old_summarizer.calls
        assert new_summarizer.inner.last_source == old_summarizer.inner.last_source


# -- remembered lines ------------------------------------------------------------------------


@_examples
@given(
    contents=st.lists(_words, max_size=12),
    cuts=st.lists(st.integers(0, 12), max_size=6),
)
def test_growing_lines_are_the_message_lines_of_every_list(
    contents: list[str], cuts: list[int]
) -> None:
    """Lists that grow, then one that does not extend the one before: always message_lines."""
    messages = [Message("user" if i % 2 else "assistant", c) for i, c in enumerate(contents)]
    for lines in (GrowingLines(), GrowingLines()):  # the second from what the first kept
        for cut in [*sorted(cuts), *cuts]:
            assert lines(messages[:cut]) == message_lines(messages[:cut])


def test_an_edited_message_gets_its_new_line() -> None:
    messages = [Message("user", "My name is Alice."), Message("assistant", "Hello Alice.")]
    assert GrowingLines()(messages) == "User: My name is Alice.\nAssistant: Hello Alice."
    edited = [Message("user", "My name is Bob."), messages[1]]
    assert GrowingLines()(edited) == "User: My name is Bob.\nAssistant: Hello Alice."


# -- remembered counts -----------------------------------------------------------------------


def _fresh(tag: str) -> list[Message]:
    run = uuid.uuid4().hex  # texts no other test has counted
    return [
        Message("system", f"Be brief ({tag} {run})."),
        Message("user", f"My name is Alice ({run})."),
        Message("assistant", f"Hello Alice ({run}).", name="helper"),
    ]


def test_tiktoken_counts_remembered_equal_counted_afresh() -> None:
    tokenizer = tokenizer_for_model("gpt-4o")
    encoding = get_encoding(tokenizer.encoding_name)
    messages = _fresh("tiktoken")
    first = [tokenizer.count_message(m) for m in messages]
    assert first == [tokenizer.count_message(m) for m in messages]  # remembered
    forget_counts()
    assert first == [tokenizer.count_message(m) for m in messages]  # afresh
    assert first[1] == TOKENS_PER_MESSAGE + 1 + len(encoding.encode_ordinary(messages[1].content))


def test_tiktoken_counts_a_changed_message_again() -> None:
    tokenizer = tokenizer_for_model("gpt-4o")
    message = _fresh("changed")[1]
    before = tokenizer.count_message(message)
    longer = replace(message, content=message.content + " And I live in Paris, France.")
    assert tokenizer.count_message(longer) > before
    assert tokenizer.count_message(replace(longer, name="alice")) > tokenizer.count_message(longer)


def test_the_server_is_asked_once_per_message_and_again_for_a_changed_one(server) -> None:
    server.count_endpoint = "llama.cpp"
    spec = ProviderSpec("OpenAI-compatible", "chat", "local", base_url=server.openai_base_url)
    tokenizer = make_provider(spec, api_key="sk-test").tokenizer()
    messages = _fresh("server")
    first = [tokenizer.count_message(m) for m in messages]
    asked = len(server.requests_to(LLAMA_COUNT))
    again = make_provider(spec, api_key="sk-test").tokenizer()  # a rerun's own provider
    assert [again.count_message(m) for m in messages] == first
    assert len(server.requests_to(LLAMA_COUNT)) == asked  # remembered: nothing asked

    from chatkit.providers.server_tokens import forget_server_counts

    forget_server_counts()
    assert [tokenizer.count_message(m) for m in messages] == first  # asked afresh
    asked = len(server.requests_to(LLAMA_COUNT))
    changed = replace(messages[1], content=messages[1].content + " I live in Paris.")
    assert tokenizer.count_message(changed) > first[1]
    assert len(server.requests_to(LLAMA_COUNT)) == asked + 1


def test_an_estimate_is_not_remembered_as_the_servers_count(server, monkeypatch) -> None:
    """While the server cannot answer, the estimate stands in; once it answers, its number
    is the one given (and remembered)."""
    from chatkit.providers import server_tokens

    server.count_endpoint = "llama.cpp"
    spec = ProviderSpec("OpenAI-compatible", "chat", "local", base_url=server.openai_base_url)
    tokenizer = make_provider(spec, api_key="sk-test").tokenizer()
    message = Message("user", f"Call me Ishmael ({uuid.uuid4().hex}), " + "whale " * 40)
    server.fail_next("500", path=LLAMA_COUNT)
    estimate = tokenizer.count_message(message)
    assert not tokenizer.exact
    monkeypatch.setattr(server_tokens, "RETRY_AFTER_SECONDS", 0.0)
    counted = tokenizer.count_message(message)
    assert tokenizer.exact
    asked = len(server.requests_to(LLAMA_COUNT))
    assert tokenizer.count_message(message) == counted
    assert len(server.requests_to(LLAMA_COUNT)) == asked
    server_tokens.forget_server_counts()
    assert tokenizer.count_message(message) == counted  # the server's number, asked afresh
    assert estimate == tokenizer_for_model("gpt-4o").count_message(message)


@pytest.mark.local_model
def test_local_counts_remembered_equal_counted_afresh() -> None:
    from chatkit.providers.local import LocalModel
    from chatkit.providers.local.tokens import LocalTokenizer

    loaded = LocalModel().load()
    remembered = LocalTokenizer(loaded)
    messages = _fresh("local")
    first = [remembered.count_message(m) for m in messages]
    assert first == [remembered.count_message(m) for m in messages]
    assert first == [LocalTokenizer(loaded).count_message(m) for m in messages]  # afresh
    changed = replace(messages[1], content=messages[1].content + " I live in Paris, France.")
    assert remembered.count_message(changed) > first[1]
    developer = replace(messages[0], role="developer")  # sent as a system message
    assert remembered.count_message(developer) == first[0]


# -- the plan, twice -------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["none", "last_n", "token_budget", "summarize"])
def test_a_plan_from_remembered_counts_equals_a_plan_from_scratch(strategy: str) -> None:
    conversation = Conversation(system_prompt="Be brief.")
    for number in range(60):
        conversation.add_user(f"question {number} about tokens {uuid.uuid4().hex}")
        conversation.add_assistant(f"answer {number} because of budgets and windows")
    provider = OpenAIChat(model="gpt-4o", api_key="sk-test")
    trimming = TrimmingSettings(strategy, last_n=3, max_tokens=300)
    first = plan_next_send(conversation, "What now?", provider, trimming)
    reloaded = Conversation.from_dict(conversation.to_dict())  # equal messages, new objects
    assert plan_next_send(reloaded, "What now?", provider, trimming) == first
    forget_counts()
    assert plan_next_send(conversation, "What now?", provider, trimming) == first
