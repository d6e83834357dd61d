"""Settings, JSON/Markdown export and import, and the cost figures under each reply."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from chatkit.config import AppConfig, load_config
from chatkit.conversation import Conversation, ReplyInfo
from chatkit.costs import conversation_totals, format_bytes, reply_caption, totals_caption
from chatkit.errors import InvalidDocument
from chatkit.export import MAX_IMPORT_BYTES, from_json, to_json, to_markdown
from chatkit.providers import default_provider_kind, provider_variables


def _conversation() -> Conversation:
    conversation = Conversation(system_prompt="Be brief.")
    conversation.add_user("My name is Alice.")
    conversation.add_assistant(
        "Nice to meet you, Alice.",
        ReplyInfo(
            provider="OpenAI",
            model="gpt-4o",
            mode="chat",
            input_tokens=20,
            output_tokens=6,
            cached_input_tokens=0,
            request_bytes=180,
            request_body={"model": "gpt-4o", "messages": []},
        ),
    )
    conversation.add_user("What is my name?")
    conversation.add_assistant(
        "Alice.",
        ReplyInfo(
            provider="OpenAI",
            model="gpt-4o",
            mode="responses",
            input_tokens=40,
            output_tokens=2,
            cached_input_tokens=10,
            request_bytes=1200,
            tokens_estimated=True,
        ),
    )
    return conversation


def test_environment_wins_over_secrets():
    config = load_config(
        {"OPENAI_API_KEY": "sk-env", "CHATKIT_HOSTED": "true"},
        {
            "OPENAI_API_KEY": "sk-secret",
            "ANTHROPIC_API_KEY": "sk-ant",
            "CHATKIT_HOSTED_TURN_LIMIT": 3,
        },
        provider_variables=provider_variables(),
    )
    assert config.provider_setting("OPENAI_API_KEY") == "sk-env"
    assert config.provider_setting("ANTHROPIC_API_KEY") == "sk-ant"
    assert config.provider_setting("OPENAI_BASE_URL") is None
    assert config.hosted and config.limits.turn_limit == 3


def test_config_never_shows_keys_in_its_repr():
    config = AppConfig(
        provider_settings={"OPENAI_API_KEY": "sk-very-secret", "ANTHROPIC_API_KEY": "sk-ant-secret"}
    )
    assert "secret" not in repr(config) and "secret" not in str(config)


def test_default_provider_is_local_without_any_key():
    assert default_provider_kind({}, {}) == "Local"
    assert default_provider_kind({"OPENAI_API_KEY": "k"}, {}) == "OpenAI"
    assert default_provider_kind({}, {"ANTHROPIC_API_KEY": "k"}) == "Anthropic"


def test_json_export_round_trips_without_bodies_and_with_a_new_id():
    conversation = _conversation()
    text = to_json(conversation)
    assert "request_body" not in text
    imported = from_json(text.encode())
    assert imported.id != conversation.id
    assert imported.messages == conversation.messages
    assert imported.replies[1].input_tokens == 20
    assert imported.system_prompt == "Be brief."


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\xff\xfe not json", "not valid JSON"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not a chatkit conversation"),
        (json.dumps({"schema": "other"}).encode(), "not a chatkit conversation"),
        (
            json.dumps({"schema": "chatkit.conversation", "version": 99, "messages": []}).encode(),
            "newer chatkit",
        ),
        (
            json.dumps(
                {"schema": "chatkit.conversation", "version": 1, "messages": [{"role": "x"}]}
            ).encode(),
            "Message 1",
        ),
    ],
)
def test_malformed_imports_say_what_is_wrong(data, words):
    with pytest.raises(InvalidDocument, match=words):
        from_json(data)


def test_oversized_import_is_refused():
    with pytest.raises(InvalidDocument, match="larger than"):
        from_json(b" " * (MAX_IMPORT_BYTES + 1))


def test_markdown_export_reads_like_a_transcript():
    markdown = to_markdown(_conversation())
    assert markdown.startswith("# My name is Alice.")
    assert "> Be brief." in markdown
    assert "### User\n\nWhat is my name?" in markdown
    assert "20 tokens in, 6 out" in markdown


def test_reply_caption_and_totals():
    conversation = _conversation()
    first = reply_caption(conversation.replies[1])
    # gpt-4o: $2.50 in and $10.00 out per million tokens -> 20 * 2.5e-6 + 6 * 1e-5
    assert first == (
        "20 tokens in · 6 out · ≈$0.00011 · 180 bytes sent · OpenAI gpt-4o · Chat Completions"
    )
    second = reply_caption(conversation.replies[3])
    assert second.startswith("≈40 tokens in (10 cached) · 2 out")
    assert "1.2 KB sent" in second
    totals = conversation_totals(conversation)
    assert (totals.input_tokens, totals.output_tokens, totals.request_bytes) == (60, 8, 1380)
    assert totals_caption(totals).startswith("2 replies · ≈60 tokens in · 8 out · ≈$0.000")
    assert totals_caption(totals).endswith("1.4 KB sent in all")
    assert totals_caption(conversation_totals(Conversation())) == "No replies yet."
    single = Conversation()
    single.add_user("Hi")
    single.add_assistant(
        "Hel", ReplyInfo(provider="Local", mode="chat", request_bytes=90, stopped=True)
    )
    assert totals_caption(conversation_totals(single)) == (
        "1 reply · no usage reported · 90 bytes sent in all"
    )


def test_stopped_reply_without_usage():
    caption = reply_caption(ReplyInfo(provider="Local", model="m", mode="chat", stopped=True))
    assert caption.startswith("no usage reported") and caption.endswith("stopped")


def test_format_bytes():
    assert [format_bytes(n) for n in (999, 1000, 1_500_000)] == ["999 bytes", "1.0 KB", "1.5 MB"]


def test_every_attempt_counts_in_the_totals_and_summaries_too():
    conversation = Conversation()
    conversation.add_user("Hi")
    conversation.add_assistant("Hello", ReplyInfo(model="gpt-4o", input_tokens=10, output_tokens=5))
    retried = conversation.branched_at(1)  # Regenerate: the first reply is kept as a version
    retried.add_assistant(
        "Hi there",
        ReplyInfo(
            model="gpt-4o",
            input_tokens=10,
            output_tokens=7,
            summary_calls=1,
            summary_input_tokens=30,
            summary_output_tokens=4,
        ),
    )
    shown = conversation_totals(retried)
    every = conversation_totals(retried, every_version=True)
    assert (shown.replies, shown.input_tokens, shown.output_tokens) == (1, 40, 11)
    assert (every.replies, every.input_tokens, every.output_tokens) == (2, 50, 16)
    assert shown.summary_calls == 1
    assert "every version: 2 replies" in totals_caption(shown, every)
    assert "+ 1 summary call (34 tokens)" in reply_caption(retried.replies[1])


def test_the_bytes_of_a_replys_summary_calls_are_sent_in_all():
    conversation = _conversation()
    before = conversation_totals(conversation)
    conversation.replies[3] = replace(
        conversation.replies[3],
        summary_calls=2,
        summary_input_tokens=50,
        summary_output_tokens=10,
        summary_request_bytes=900,
    )
    assert conversation_totals(conversation).request_bytes == before.request_bytes + 900
    assert "+ 2 calls (60 tokens, 900 bytes sent)" in reply_caption(conversation.replies[3])
    saved = Conversation.from_dict(json.loads(to_json(conversation)))
    assert saved.replies[3].summary_request_bytes == 900


def test_a_call_made_beside_the_turns_counts_in_every_total():
    conversation = _conversation()
    before = conversation_totals(conversation)
    conversation.extra_calls.append(
        ReplyInfo(
            provider="OpenAI",
            model="gpt-4o",
            mode="chat",
            input_tokens=100,
            output_tokens=20,
            request_bytes=620,
            request_body={"model": "gpt-4o"},
        )
    )
    for every_version in (False, True):
        after = conversation_totals(conversation, every_version=every_version)
        assert after.replies == before.replies == 2
        assert after.calls == before.calls + 1 == 3
        assert after.input_tokens == before.input_tokens + 100
        assert after.output_tokens == before.output_tokens + 20
        assert after.request_bytes == before.request_bytes + 620
        assert after.cost > before.cost
    caption = totals_caption(conversation_totals(conversation))
    assert caption.startswith("2 replies · 3 calls · ≈160 tokens in · 28 out")
    assert caption.endswith("2.0 KB sent in all")
    assert "request_body" not in to_json(conversation)
    imported = from_json(to_json(conversation).encode())
    assert conversation_totals(imported) == conversation_totals(conversation)
    with_bodies = Conversation.from_dict(conversation.to_dict(include_bodies=True))
    assert (
        from_json(json.dumps(with_bodies.to_dict(include_bodies=True))).extra_calls[0].request_body
        is None
    )


def test_a_model_without_a_price_shows_tokens_only():
    caption = reply_caption(ReplyInfo(model="llama3.2", input_tokens=10, output_tokens=5))
    assert "$" not in caption and "10 tokens in" in caption
