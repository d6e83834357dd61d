"""The chat session's promises, without Streamlit: turns in order, a failure that pauses the
queue, two tabs on one saved conversation, the key policy and a hosted visitor's limits.

Every turn goes through the real OpenAI SDK to the protocol test server, whose replies depend
on the context it received ("Your name is Alice." proves the earlier turn was sent), and is
saved in a SQLite store. Tests wait on the queue itself, with timeouts, never on the clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from chatkit.config import AppConfig, HostedSettings
from chatkit.conversation import Conversation
from chatkit.costs import conversation_totals
from chatkit.errors import ChatkitError, QuotaExceeded
from chatkit.providers import ProviderSpec
from chatkit.providers.calls import request_size
from chatkit.session import NO_ALLOWANCE_CHECK, ChatSession, Settings
from chatkit.store import ConversationStore, QuotaStore
from chatkit.turn import TrimmingSettings
from chatkit.turn_queue import TurnQueue, TurnRequest
from tests.server import ProtocolServer

OWNER = "browser:test"
COMPATIBLE = "OpenAI-compatible"  # needs no key: the test server takes any
WAIT_SECONDS = 30.0


@pytest.fixture
def store(tmp_path) -> Iterator[ConversationStore]:
    with ConversationStore(f"sqlite:///{tmp_path / 'chatkit.db'}") as conversations:
        yield conversations


@pytest.fixture
def settings(server: ProtocolServer) -> Settings:
    """The sidebar on an OpenAI-compatible server: the protocol server, as gpt-4o."""
    spec = ProviderSpec(COMPATIBLE, "chat", "gpt-4o", base_url=server.openai_base_url)
    return Settings(spec=spec, system_prompt="You are a helpful assistant.")


def new_session(store: ConversationStore | None, **kwargs) -> ChatSession:
    return ChatSession(AppConfig(), owner=OWNER, conversations=store, **kwargs)


def wait_until(queue: TurnQueue, condition: Callable[[], bool], what: str) -> None:
    """Wait on the queue's changes until ``condition`` holds (fails after WAIT_SECONDS)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        version = queue.version  # read first: a change after it wakes the wait below
        if condition():
            return
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting until {what}"
        queue.wait(min(left, 1.0), since=version)


def wait_idle(queue: TurnQueue) -> None:
    assert queue.wait(WAIT_SECONDS), "the queue did not finish its turns"


def user_texts(conversation: Conversation) -> list[str]:
    return [m.content for m in conversation.messages if m.role == "user"]


def sent_texts(server: ProtocolServer) -> list[str]:
    """The last user message of every chat request the server received, in order."""
    return [r.body["messages"][-1]["content"] for r in server.requests_to("/chat/completions")]


# -- the queue's promises -------------------------------------------------------------------------


def test_turns_asked_while_a_reply_streams_are_taken_in_order(server, store, settings) -> None:
    server.chunk_delay = 0.2  # the first reply streams for a couple of seconds
    session = new_session(store)
    queue = session.queue
    session.ask(TurnRequest("My name is Alice."), settings)
    wait_until(queue, lambda: queue.live is not None and queue.live.has_text, "a reply streams")
    session.ask(TurnRequest("What is my name?"), settings)
    session.ask(TurnRequest("My favorite color is blue."), settings)
    assert queue.live is not None and queue.live.job.request.user_text == "My name is Alice."
    assert [job.request.user_text for job in queue.queued] == [
        "What is my name?",
        "My favorite color is blue.",
    ]
    server.chunk_delay = 0.0
    wait_idle(queue)
    asked = ["My name is Alice.", "What is my name?", "My favorite color is blue."]
    assert sent_texts(server) == asked
    shown = session.conversation
    assert [m.role for m in shown.messages] == ["user", "assistant"] * 3
    assert user_texts(shown) == asked
    assert shown.messages[3].content == "Your name is Alice."  # taken after the first reply
    saved = store.load(shown.id)
    assert saved is not None and saved.messages == shown.messages
    assert queue.failure is None and queue.notice is None


def test_a_failure_pauses_the_queue_and_a_retry_goes_first(server, store, settings) -> None:
    session = new_session(store)
    queue = session.queue
    session.ask(TurnRequest("My name is Alice."), settings)
    wait_idle(queue)
    server.fail_next("400", message="The server refused this one.")
    session.ask(TurnRequest("What is my name?"), settings)
    session.ask(TurnRequest("My favorite color is blue."), settings)
    session.ask(TurnRequest("What is my favorite color?"), settings)
    wait_until(queue, lambda: queue.failure is not None and queue.live is None, "a turn fails")
    assert queue.failure.request.user_text == "What is my name?"
    assert "refused this one" in queue.failure.message
    assert not queue.busy  # the turns behind the failure wait: none is sent
    assert [job.request.user_text for job in queue.queued] == [
        "My favorite color is blue.",
        "What is my favorite color?",
    ]
    assert len(server.requests_to("/chat/completions")) == 2
    assert user_texts(session.conversation) == ["My name is Alice."]

    session.retry(settings)
    wait_idle(queue)
    assert queue.failure is None and queue.queued == []
    asked = [
        "My name is Alice.",
        "What is my name?",
        "My favorite color is blue.",
        "What is my favorite color?",
    ]
    assert user_texts(session.conversation) == asked
    assert sent_texts(server) == [asked[0], asked[1], *asked[1:]]  # refused, then retried first
    replies = [m.content for m in session.conversation.messages if m.role == "assistant"]
    assert replies[1] == "Your name is Alice." and replies[3] == "Your favorite color is blue."
    assert user_texts(store.load(session.conversation.id)) == asked


def test_a_retry_takes_the_settings_of_its_moment(server, store, settings) -> None:
    session = new_session(store)
    server.fail_next("400")
    session.ask(TurnRequest("My name is Alice."), settings)
    wait_until(session.queue, lambda: session.queue.failure is not None, "the turn fails")
    session.retry(replace(settings, spec=replace(settings.spec, model="gpt-4o-mini")))
    wait_idle(session.queue)
    assert server.last_request("/chat/completions").body["model"] == "gpt-4o-mini"
    assert session.conversation.settings["model"] == "gpt-4o-mini"  # saved with the turn


def test_two_tabs_on_one_saved_conversation_lose_nothing(server, store, settings) -> None:
    first = new_session(store)
    first.ask(TurnRequest("My name is Alice."), settings)
    wait_idle(first.queue)
    opened = store.load(first.conversation.id)
    second = new_session(store, conversation=opened)  # another tab opens it

    first.ask(TurnRequest("My favorite color is blue."), settings)
    wait_idle(first.queue)
    second.ask(TurnRequest("What is my name?"), settings)
    wait_idle(second.queue)

    original, copy = first.conversation, second.conversation
    assert first.queue.notice is None
    assert copy.id != original.id and copy.title == f"{original.title} (copy)"
    assert "copy" in (second.queue.notice or "") and copy.title in second.queue.notice
    kept_first, kept_second = store.load(original.id), store.load(copy.id)
    assert user_texts(kept_first) == ["My name is Alice.", "My favorite color is blue."]
    assert user_texts(kept_second) == ["My name is Alice.", "What is my name?"]
    assert kept_second.messages[-1].content == "Your name is Alice."
    listed = {item.id for item in store.list(OWNER)}
    assert listed == {original.id, copy.id}

    second.ask(TurnRequest("My favorite color is green."), settings)  # the copy goes on
    wait_idle(second.queue)
    assert second.conversation.id == copy.id
    assert len(store.load(copy.id).messages) == 6
    assert len(store.load(original.id).messages) == 4


# -- providers and keys ---------------------------------------------------------------------------


def test_the_host_key_goes_only_to_the_hosts_endpoint() -> None:
    host = AppConfig(
        provider_settings={"OPENAI_API_KEY": "sk-fake-host", "OPENAI_BASE_URL": "http://host/v1"}
    )
    session = ChatSession(host, owner=OWNER)
    own = ProviderSpec("OpenAI", base_url="http://host/v1/")
    chosen = ProviderSpec("OpenAI", base_url="http://visitors-choice/v1")
    assert session.api_key_for(own) == "sk-fake-host"
    assert session.api_key_for(chosen) is None
    assert session.api_key_for(chosen, "sk-fake-typed") == "sk-fake-typed"
    assert session.api_key_for(ProviderSpec("OpenAI")) == "sk-fake-host"


# -- a hosted demo -------------------------------------------------------------------------------


def hosted(server: ProtocolServer, **limits) -> AppConfig:
    return AppConfig(
        hosted=True,
        limits=HostedSettings(**limits),
        provider_settings={"OPENAI_BASE_URL": server.openai_base_url},
    )


def test_a_hosted_demo_without_its_database_spends_nothing_of_the_hosts(server, settings) -> None:
    session = ChatSession(hosted(server), owner=OWNER)
    with pytest.raises(ChatkitError, match="cannot be opened"):
        session.provider_for(settings.spec)
    session.ask(TurnRequest("My name is Alice."), settings)
    assert session.queue.failure is not None
    assert session.queue.failure.message == NO_ALLOWANCE_CHECK
    assert server.requests_to("/chat/completions") == []
    session.provider_for(settings.spec, "sk-fake-typed")  # the visitor's own key may be used


def test_a_hosted_visitor_is_held_to_the_turn_limit(server, store, settings) -> None:
    session = ChatSession(
        hosted(server, turn_limit=1),
        owner=OWNER,
        visitor="address:192.0.2.7",
        conversations=store,
        quotas=QuotaStore(store.database),
    )
    session.ask(TurnRequest("My name is Alice."), settings)
    session.ask(TurnRequest("What is my name?"), settings)
    wait_until(session.queue, lambda: session.queue.failure is not None, "the limit is reached")
    failure = session.queue.failure
    assert failure.severity == "warning" and "allows 1 turns per visitor" in failure.message
    assert len(server.requests_to("/chat/completions")) == 1
    assert session.meter().allowance().turns_left == 0


def test_a_hosted_visitor_past_the_storage_caps_keeps_the_conversation_unsaved(
    server, store, settings
) -> None:
    session = ChatSession(
        hosted(server, max_conversations=0),
        owner=OWNER,
        conversations=store,
        quotas=QuotaStore(store.database),
    )
    session.ask(TurnRequest("My name is Alice."), settings)
    wait_idle(session.queue)
    assert "at most 0 conversations" in (session.queue.notice or "")
    assert len(session.conversation.messages) == 2  # kept open
    assert store.load(session.conversation.id) is None  # but not saved


def test_a_summary_on_the_hosts_key_is_booked_like_a_turn(server, store, settings) -> None:
    session = ChatSession(
        hosted(server, turn_limit=2),
        owner=OWNER,
        conversations=store,
        quotas=QuotaStore(store.database),
    )
    session.ask(TurnRequest("My name is Alice."), settings)
    wait_idle(session.queue)
    provider = session.provider_for(settings.spec)
    session.summarize(provider)
    assert session.meter().allowance().turns_left == 0
    with pytest.raises(QuotaExceeded, match="summaries and comparisons too"):
        session.summarize(provider)
    assert len(server.requests_to("/chat/completions")) == 2
    assert len(session.conversation.extra_calls) == 1  # the refused one cost nothing


# -- summaries asked for outside a turn ----------------------------------------------------------


def test_a_summary_asked_for_counts_in_the_totals_and_is_saved(server, store, settings) -> None:
    session = new_session(store)
    session.ask(TurnRequest("My name is Alice."), settings)
    wait_idle(session.queue)
    before = conversation_totals(session.conversation)
    written = session.summarize(session.provider_for(settings.spec))
    assert written.startswith("Summary:")
    after = conversation_totals(session.conversation)
    request = server.requests_to("/chat/completions")[-1]
    assert after.calls == before.calls + 1 == 2
    assert after.input_tokens > before.input_tokens and after.output_tokens > before.output_tokens
    assert after.request_bytes - before.request_bytes == request_size(request.body)
    saved = store.load(session.conversation.id)
    assert saved is not None and conversation_totals(saved) == after
    assert saved.extra_calls[0].request_body is None  # saved without its body


def test_a_summary_asked_for_while_a_reply_streams_is_kept_with_the_turn(
    server, store, settings
) -> None:
    server.chunk_delay = 0.2
    session = new_session(store)
    queue = session.queue
    session.ask(TurnRequest("My name is Alice."), settings)
    session.ask(TurnRequest("What is my name?"), settings)
    wait_until(queue, lambda: queue.live is not None and queue.live.has_text, "a reply streams")
    session.summarize(session.provider_for(settings.spec))
    wait_idle(queue)
    assert user_texts(session.conversation) == ["My name is Alice.", "What is my name?"]
    assert len(session.conversation.extra_calls) == 1
    assert conversation_totals(session.conversation).calls == 3
    assert len(store.load(session.conversation.id).extra_calls) == 1


def test_sent_in_all_counts_every_request_the_summaries_too(server, store, settings) -> None:
    session = new_session(store)
    summarizing = replace(settings, trimming=TrimmingSettings("summarize", max_tokens=50))
    for text in ("My name is Alice.", "My favorite color is blue.", "What is my name?"):
        session.ask(TurnRequest(text), summarizing)
    wait_idle(session.queue)
    session.summarize(session.provider_for(settings.spec))
    requests = server.requests_to("/chat/completions")
    asked = [r.body["messages"][-1]["content"] for r in requests[:-1]]
    assert any(text.startswith("Summarize this conversation") for text in asked)
    totals = conversation_totals(session.conversation)
    assert totals.calls == len(requests) and totals.summary_calls >= 1
    assert totals.request_bytes == sum(request_size(r.body) for r in requests)


# -- what the lessons read -------------------------------------------------------------------------


def test_every_reply_kept_is_captured_with_the_request_it_sent(server, store, settings) -> None:
    session = new_session(store)
    session.ask(TurnRequest("My name is Alice."), settings)
    session.ask(TurnRequest("What is my name?"), settings)
    wait_idle(session.queue)
    assert session.calls_made == 2
    first, second = session.calls
    assert first.conversation_id == second.conversation_id == session.conversation.id
    sent = [m["content"] for m in second.reply.request_body["messages"]]
    assert sent == ["My name is Alice.", first_reply_text(session), "What is my name?"]
    assert second.trimming == settings.trimming


def test_a_fresh_turn_starts_a_new_conversation_that_stays_open(server, store, settings) -> None:
    session = new_session(store, conversation=Conversation(system_prompt="Be brief."))
    session.ask(TurnRequest("My name is Alice."), settings)
    session.ask(TurnRequest("What is my name?", fresh=True), settings)
    wait_idle(session.queue)
    first, second = session.calls
    assert first.conversation_id != second.conversation_id == session.conversation.id
    sent = [m["content"] for m in second.reply.request_body["messages"]]
    assert sent == ["Be brief.", "What is my name?"]
    assert session.conversation.system_prompt == second.system_prompt == "Be brief."
    assert store.load(first.conversation_id) is not None  # the first one was saved, not lost


def first_reply_text(session: ChatSession) -> str:
    return next(m.content for m in session.conversation.messages if m.role == "assistant")
