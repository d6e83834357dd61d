"""The hosted demo: the host's key only for the host's endpoints, quotas in the database that
every call counts against, allow-lists and caps, secrets masked, no lost updates."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from chatkit.config import (
    AppConfig,
    HostedSettings,
    browser_token,
    client_address,
    exposure_warning,
    is_loopback,
)
from chatkit.conversation import Conversation
from chatkit.errors import ChatkitError, QuotaExceeded, StreamInterrupted, register_secret
from chatkit.hosted import HostedMeter
from chatkit.messages import Message
from chatkit.providers.base import GenerationOptions
from chatkit.providers.calls import Usage
from chatkit.providers.metered import Metered
from chatkit.providers.openai_chat import OpenAIChat
from chatkit.providers.time_limit import TimeLimited
from chatkit.store import ConversationStore, Limit, QuotaStore, Refusal, Reservation
from tests.apptest_helpers import chat_requests, configure_env, data_dir_files, start
from tests.server import ProtocolServer

HOST_KEY = "sk-test-not-a-real-key"


@pytest.fixture(params=["sqlite", "postgresql"])
def quotas(request: pytest.FixtureRequest, tmp_path: Path) -> QuotaStore:
    """Quota counters in a SQLite file, and in a real PostgreSQL server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'chatkit.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    return QuotaStore(ConversationStore(url).database)


@pytest.fixture
def capture() -> ProtocolServer:
    """A second server: the one a visitor would name to catch the host's key."""
    server = ProtocolServer(host="127.0.0.1", port=0).start()
    yield server
    server.stop()


def _saw_host_key(server: ProtocolServer) -> bool:
    return any(HOST_KEY in str(request.headers) for request in server.requests)


# -- the host's key goes only to the host's endpoints -------------------------------------------


def test_the_host_key_never_goes_to_a_base_url_the_visitor_typed(
    monkeypatch, server, capture, tmp_path
) -> None:
    configure_env(monkeypatch, server, tmp_path, OPENAI_API_KEY=HOST_KEY)
    at = start()
    at.choose("Provider", "OpenAI-compatible")
    at.choose("Base URL", capture.openai_base_url)
    at.send("Hello")
    assert len(at.replies()) == 1  # the visitor's own server answered
    assert capture.requests and not _saw_host_key(capture)
    assert capture.last_request("/chat/completions").headers["authorization"] == (
        "Bearer not-needed"
    )


def test_the_host_key_goes_to_the_host_endpoint(monkeypatch, server, tmp_path) -> None:
    configure_env(monkeypatch, server, tmp_path, OPENAI_API_KEY=HOST_KEY)
    at = start()
    at.choose("Provider", "OpenAI-compatible")  # its base URL defaults to the host's
    at.send("Hello")
    assert _saw_host_key(server)


def test_the_sdk_client_keeps_the_environment_key_for_its_own_endpoint(
    monkeypatch, server, capture
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", HOST_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
    OpenAIChat(model="gpt-4o", base_url=capture.openai_base_url).complete([Message("user", "hi")])
    OpenAIChat(model="gpt-4o").complete([Message("user", "hi")])
    assert not _saw_host_key(capture) and _saw_host_key(server)


def test_a_hosted_demo_offers_only_the_hosts_providers_endpoints_and_models(
    monkeypatch, server, tmp_path
) -> None:
    configure_env(monkeypatch, server, tmp_path, CHATKIT_HOSTED="true", ANTHROPIC_API_KEY=None)
    at = start()
    provider = at.find("selectbox", "Provider", sidebar=True)
    assert provider.options == ["OpenAI", "OpenAI-compatible", "Local"]  # no Anthropic key
    model = at.find("selectbox", "Model", sidebar=True)
    assert model.options[0] == "gpt-4.1-mini" and not model.proto.accept_new_options
    at.choose("Provider", "OpenAI-compatible")
    assert at.find("selectbox", "Base URL", sidebar=True).options == [server.openai_base_url]
    assert not at.has("text_input", "Base URL", sidebar=True)
    at.choose("Provider", "Local")
    assert not at.has("text_input", "Model", sidebar=True)  # no model files on the server
    assert at.find("number_input", "Max output tokens", sidebar=True).max == 1024


def test_the_host_lists_what_visitors_may_use(monkeypatch, server, tmp_path) -> None:
    configure_env(
        monkeypatch,
        server,
        tmp_path,
        CHATKIT_HOSTED="true",
        CHATKIT_HOSTED_PROVIDERS="OpenAI,Local",
        CHATKIT_HOSTED_MODELS="OpenAI:gpt-4o-mini, claude-haiku-4-5",
    )
    at = start()
    assert at.find("selectbox", "Provider", sidebar=True).options == ["OpenAI", "Local"]
    assert at.find("selectbox", "Model", sidebar=True).options == ["gpt-4o-mini"]


# -- quotas in the database ----------------------------------------------------------------------


def test_concurrent_reservations_never_overspend(quotas: QuotaStore) -> None:
    limits = [Limit("visitor:a", "day:x", calls=10, tokens=10_000)]
    booked: list[object] = []
    start_line = threading.Barrier(30)

    def one() -> None:
        start_line.wait()
        booked.append(quotas.reserve(limits, 100))

    threads = [threading.Thread(target=one) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reservations = [b for b in booked if isinstance(b, Reservation)]
    assert len(reservations) == 10
    assert all(
        isinstance(b, Refusal) and b.measure == "calls" for b in booked if b not in reservations
    )
    counter = quotas.counter("visitor:a", "day:x")
    assert (counter.calls, counter.reserved_tokens) == (10, 1000)
    for reservation in reservations:
        quotas.settle(reservation, 40)
    counter = quotas.counter("visitor:a", "day:x")
    assert (counter.tokens, counter.reserved_tokens) == (400, 0)


def test_a_reservation_holds_the_last_of_an_allowance(quotas: QuotaStore) -> None:
    limits = [Limit("visitor:a", "day:x", tokens=1000)]
    first = quotas.reserve(limits, 700)
    assert isinstance(first, Reservation)
    second = quotas.reserve(limits, 700)  # another tab of the same visitor, at the same time
    assert isinstance(second, Refusal) and second.measure == "tokens"
    quotas.settle(first, 200)
    assert isinstance(quotas.reserve(limits, 700), Reservation)


def _meter(quotas: QuotaStore, visitor: str = "address:10.0.0.7", **limits: int) -> HostedMeter:
    return HostedMeter(quotas, visitor, HostedSettings(**limits))


def test_sessions_of_one_visitor_share_one_allowance(quotas, openai_client) -> None:
    provider = OpenAIChat(model="gpt-4o", client=openai_client)
    tabs = [Metered(inner=provider, meter=_meter(quotas, turn_limit=2)) for _ in range(3)]
    tabs[0].complete([Message("user", "one")], GenerationOptions(max_output_tokens=50))
    tabs[1].complete([Message("user", "two")], GenerationOptions(max_output_tokens=50))
    with pytest.raises(QuotaExceeded, match="2 turns per visitor"):
        tabs[2].complete([Message("user", "three")], GenerationOptions(max_output_tokens=50))
    other = Metered(inner=provider, meter=_meter(quotas, "address:10.0.0.8", turn_limit=2))
    other.complete([Message("user", "mine")], GenerationOptions(max_output_tokens=50))


def test_a_stopped_reply_counts_its_prompt_and_what_arrived(quotas, server, openai_client):
    server.fail_next("slow", delay=0.05)
    meter = _meter(quotas)
    provider = Metered(inner=OpenAIChat(model="gpt-4o", client=openai_client), meter=meter)
    reply = provider.stream([Message("user", "Tell me a long story")], GenerationOptions(100))
    next(iter(reply))
    reply.stop()
    day = meter.limits()[0].period
    counter = quotas.counter("address:10.0.0.7", day)
    assert counter.reserved_tokens == 0 and counter.calls == 1
    assert counter.tokens > 0  # the prompt and the words that arrived, estimated


class Ledger:
    """A meter that books everything and writes down how each call was settled."""

    def __init__(self) -> None:
        self.settled: list[tuple[str, str, Usage]] = []

    def reserve(self, provider: str, model: str, input_tokens: int, output_tokens: int) -> str:
        return "booking"

    def settle(self, booking: str, provider: str, model: str, usage: Usage) -> None:
        self.settled.append((provider, model, usage))


def test_a_stopped_reply_is_settled_as_an_estimate_of_what_arrived(server, openai_client):
    server.fail_next("slow", delay=0.05)
    ledger = Ledger()
    provider = Metered(inner=OpenAIChat(model="gpt-4o", client=openai_client), meter=ledger)
    reply = provider.stream([Message("user", "Tell me a long story")], GenerationOptions(100))
    next(iter(reply))
    reply.stop()
    [(name, model, usage)] = ledger.settled
    assert (name, model) == ("OpenAI", "gpt-4o")
    assert usage.estimated and usage.cached_input_tokens == 0
    assert usage.input_tokens > 0 and usage.output_tokens > 0


def test_a_failed_call_is_refunded(quotas, server, openai_client) -> None:
    server.fail_next("500")
    meter = _meter(quotas)
    provider = Metered(inner=OpenAIChat(model="gpt-4o", client=openai_client), meter=meter)
    with pytest.raises(ChatkitError):
        provider.complete([Message("user", "hi")], GenerationOptions(100))
    counter = quotas.counter("address:10.0.0.7", meter.limits()[0].period)
    assert (counter.tokens, counter.reserved_tokens) == (0, 0)


def test_the_host_has_a_daily_spending_limit(quotas, openai_client) -> None:
    meter = HostedMeter(quotas, "address:a", HostedSettings(daily_spend_limit_usd=0.001))
    provider = Metered(inner=OpenAIChat(model="gpt-4.1", client=openai_client), meter=meter)
    with pytest.raises(QuotaExceeded, match="money its host allows"):
        provider.complete([Message("user", "hi")], GenerationOptions(max_output_tokens=1000))


def test_a_rate_limit_per_minute(quotas, openai_client) -> None:
    meter = _meter(quotas, messages_per_minute=2)
    provider = Metered(inner=OpenAIChat(model="gpt-4o", client=openai_client), meter=meter)
    for text in ("one", "two"):
        provider.complete([Message("user", text)], GenerationOptions(50))
    with pytest.raises(QuotaExceeded, match="2 messages a minute"):
        provider.complete([Message("user", "three")], GenerationOptions(50))


def test_a_comparison_stops_at_the_allowance(monkeypatch, server, tmp_path) -> None:
    configure_env(
        monkeypatch, server, tmp_path, CHATKIT_HOSTED="true", CHATKIT_HOSTED_TURN_LIMIT="4"
    )
    at = start()
    at.switch_page("app_pages/compare.py")
    at.run()
    at.text_area(key="compare_script").set_value("one\ntwo\nthree\nfour\nfive")
    at.run()
    [button] = [b for b in at.main.button if b.label == "Run the comparison"]
    button.click()
    at.run()
    assert len(chat_requests(server)) == 4  # not 15
    assert any("4 turns per visitor" in text for text in at.alerts())


def test_summaries_count_against_the_allowance(monkeypatch, server, tmp_path) -> None:
    configure_env(
        monkeypatch, server, tmp_path, CHATKIT_HOSTED="true", CHATKIT_HOSTED_TURN_LIMIT="2"
    )
    at = start()
    at.send("My name is Alice.")
    at.switch_page("app_pages/summary.py")
    at.run()
    [button] = [b for b in at.main.button if b.label == "Summarize the whole conversation"]
    button.click()
    at.run()
    assert len(chat_requests(server)) == 2
    db = sqlite3.connect(tmp_path / "chatkit.db")
    [(calls, tokens)] = db.execute(
        "SELECT calls, tokens FROM quota_counters WHERE subject = 'host'"
    ).fetchall()
    assert calls == 2 and tokens > 30  # the summary's tokens too, not 0


# -- caps -----------------------------------------------------------------------------------------


def test_a_visitor_keeps_a_limited_number_of_conversations(monkeypatch, server, tmp_path) -> None:
    configure_env(
        monkeypatch, server, tmp_path, CHATKIT_HOSTED="true", CHATKIT_HOSTED_MAX_CONVERSATIONS="1"
    )
    at = start()
    at.send("First conversation")
    at.click("New conversation", sidebar=True)
    at.send("Second conversation")
    assert any("at most 1 conversations per visitor" in text for text in at.alerts())
    assert at.bubbles()[0] == ("user", "Second conversation")  # still open, not lost
    saved = sqlite3.connect(tmp_path / "chatkit.db").execute("SELECT title FROM conversations")
    assert [row[0] for row in saved] == ["First conversation"]


def test_a_long_message_is_refused_in_a_hosted_demo(monkeypatch, server, tmp_path) -> None:
    configure_env(
        monkeypatch, server, tmp_path, CHATKIT_HOSTED="true", CHATKIT_HOSTED_MAX_MESSAGE_CHARS="50"
    )
    at = start()
    at.send("x" * 51)
    assert any("more than the 50 this app sends" in text for text in at.alerts())
    assert chat_requests(server) == []


# -- secrets never leak through error text -------------------------------------------------------


def test_a_server_error_quoting_the_key_is_masked_everywhere(monkeypatch, server, tmp_path):
    secret = "fake-key-TYPED-SECRET-0987654321zyxwvu"
    configure_env(monkeypatch, server, tmp_path, OPENAI_API_KEY=None)
    at = start()
    at.choose("Provider", "OpenAI")  # without a key, OPENAI_BASE_URL starts on OpenAI-compatible
    at.find("text_input", "API key", sidebar=True).set_value(secret)
    at.send("My name is Alice.")
    server.fail_next("400", message="Your request with key {key} was malformed.")
    at.send("What is my name?")
    shown = " ".join(at.alerts())
    assert "[hidden]" in shown and secret[8:20] not in shown and secret[-10:] not in shown
    for path in data_dir_files(tmp_path):
        assert secret[-10:].encode() not in path.read_bytes()


def test_a_cut_stream_keeps_no_key_in_its_note() -> None:
    register_secret("sk-test-fake-ABCDEFGH-not-real")
    error = StreamInterrupted("The server said: bad key sk-test-fake-ABCDEFGH-not-real (cut)")
    assert "ABCDEFGH" not in error.message and "[hidden]" in error.message


# -- no lost updates ----------------------------------------------------------------------------


def test_two_tabs_on_one_conversation_lose_nothing(app, tmp_path) -> None:
    first = start()
    first.send("My name is Alice.")
    second = start({"c": first.query_params["c"]})
    first.send("I like tea.")
    second.send("I like coffee.")  # written after the first tab's turn: kept as a copy
    assert any("changed in another tab" in text for text in second.alerts())
    assert second.query_params["c"] != first.query_params["c"]
    store = ConversationStore(f"sqlite:///{tmp_path / 'chatkit.db'}")
    original = store.load(first.query_params["c"])
    copy = store.load(second.query_params["c"])
    assert [m.content for m in original.messages if m.role == "user"] == [
        "My name is Alice.",
        "I like tea.",
    ]
    assert [m.content for m in copy.messages if m.role == "user"] == [
        "My name is Alice.",
        "I like coffee.",
    ]
    second.send("And my name?")  # the copy goes on
    assert len(second.replies()) == 3


def test_the_store_refuses_a_save_based_on_an_old_version(tmp_path: Path) -> None:
    store = ConversationStore(f"sqlite:///{tmp_path / 'chatkit.db'}")
    conversation = Conversation()
    conversation.add_user("hi")
    store.save(conversation)
    stale = store.load(conversation.id)
    fresh = store.load(conversation.id)
    fresh.add_assistant("hello")
    store.save(fresh)
    stale.add_assistant("hey")
    with pytest.raises(ChatkitError, match="another tab"):
        store.save(stale)
    assert store.load(conversation.id).messages[-1].content == "hello"


# -- served beyond this machine ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "warned"),
    [(None, True), ("0.0.0.0", True), ("192.168.1.20", True), ("127.0.0.1", False)],
)
def test_serving_beyond_loopback_without_the_hosted_setting_warns(address, warned) -> None:
    assert (exposure_warning(AppConfig(), address) is not None) == warned
    assert exposure_warning(AppConfig(hosted=True), address) is None
    assert is_loopback("::1") and is_loopback("localhost")


def test_the_sidebar_says_what_is_left(monkeypatch, server, tmp_path) -> None:
    configure_env(
        monkeypatch, server, tmp_path, CHATKIT_HOSTED="true", CHATKIT_HOSTED_TURN_LIMIT="5"
    )
    at = start()
    at.send("hello")
    at.rerun()
    assert any("4 of 5 turns" in c for c in at.captions(sidebar=True))
    line = next(c.value for c in at.caption if c.value.startswith("Next request"))
    assert "· 4 turns and " in line and line.endswith("tokens left today")  # what is left


def test_the_visitor_is_the_address_or_what_a_trusted_proxy_forwards() -> None:
    assert client_address(None, None) == "127.0.0.1"  # Streamlit's word for loopback
    assert client_address("10.0.0.5", "6.6.6.6") == "10.0.0.5"  # no proxy trusted: not believed
    proxy = ["127.0.0.1"]
    assert client_address(None, "6.6.6.6, 10.0.0.9", proxy) == "10.0.0.9"  # spoofed hop ignored
    assert client_address(object(), None) is None  # no connection: the session is the visitor


def test_a_reply_on_a_shared_model_stops_at_its_time_limit(server, openai_client) -> None:
    server.fail_next("slow", delay=0.05)
    provider = TimeLimited(inner=OpenAIChat(model="gpt-4o", client=openai_client), seconds=0.01)
    reply = provider.stream([Message("user", "Tell me a very long story please")])
    with pytest.raises(StreamInterrupted, match=r"stopped after 0\.01 seconds") as stopped:
        for _ in reply:
            pass
    assert stopped.value.partial_text and stopped.value.partial_text == reply.partial_text


def test_a_browser_is_named_by_its_xsrf_token_whatever_the_mask() -> None:
    token = bytes(range(16))
    masks = (b"\x01\x02\x03\x04", b"\xff\x00\xaa\x55")
    cookies = [
        f"2|{mask.hex()}|{bytes(b ^ mask[i % 4] for i, b in enumerate(token)).hex()}|1796173032"
        for mask in masks
    ]
    names = {browser_token(cookie) for cookie in [*cookies, token.hex()]}
    assert len(names) == 1 and None not in names
    assert browser_token(f"2|01020304|{bytes(16).hex()}|1") not in names  # another browser
    for unreadable in (None, "", "2|zz|aa|1", "2|01|00|1", "abc", "2|01020304|0011|1"):
        assert browser_token(unreadable) is None
