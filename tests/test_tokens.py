"""Token counts: exact, offline, checked against independent references, and cached.

References that do not come from chatkit's own code:
- the OpenAI cookbook "How_to_count_tokens_with_tiktoken" example (124 / 129 tokens);
- tiktoken's own ``tiktoken.get_encoding`` once chatkit has placed the files;
- the Rust tokenizer of the ``bpe-openai`` package (a separate BPE implementation).
"""

from __future__ import annotations

import hashlib
import socket
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import tiktoken
import tiktoken.registry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chatkit.encodings
import chatkit.tokens
from chatkit.context_windows import context_window_for
from chatkit.encodings import install_offline_encoding
from chatkit.errors import UnknownContextWindow
from chatkit.messages import Message
from chatkit.tokens import (
    count_message_tokens,
    count_tokens,
    fits_context,
    tokenizer_for_model,
)
from chatkit.window_fill import WindowFill

if TYPE_CHECKING:
    import bpe_openai

ENCODINGS = ("o200k_base", "cl100k_base")
# Published by OpenAI (tiktoken_ext/openai_public.py), written out here on purpose.
OFFICIAL_SHA256 = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}
OFFICIAL_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"

# The cookbook's example: a system prompt, few-shot examples as named system messages, a user.
COOKBOOK_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on opportunities "
        "for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]

VARIED_TEXTS = [
    "",
    "Hello, world!",
    "My name is Alice. What is my name?",
    "你好，世界！我们今天去哪里吃饭？",
    "日本語のテキスト、カタカナとひらがな。東京タワー",
    "مرحبا بالعالم، كيف حالك اليوم؟",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "Привет, мир! Как дела? Ёлка",
    "안녕하세요 세계, 반갑습니다",
    "👍 👍🏽 ❤️ 👨‍👩‍👧‍👦 👩🏻‍💻 🏳️‍🌈 🇯🇵🇺🇸🇩🇪",
    "def add(a, b):\n    return a + b\n\n\nprint(add(1, 2))  # 3\n",
    "```python\nfor i in range(10):\n\tprint(f'{i:>4}')\n```",
    '{"role": "user", "content": "hi"}',
    "a    b\t\t\tc\n\n\n   \n  d   ",
    "   ",
    "\n\n\n\n",
    " \r\n\r\n ",
    "<|endoftext|>",
    "before <|endoftext|> after <|endofprompt|> <|fim_prefix|><|im_start|>",
    "can't won't I'm they'll we've you'd HE'S SHE'LL",
    "1234567890 3.14159 -1e-10 0x1F 1,000,000",
    "Straße café naïve façade Ångström",
    "e\u0301 a\u0308 combining marks",
    "non\u00a0breaking\u2003em space\u3000ideographic",
    "x" * 2000,
    "word " * 500,
]

MODELS_BY_ENCODING = {
    "o200k_base": [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4o-2024-08-06",
        "chatgpt-4o-latest",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4.1-nano",
        "gpt-5",
        "gpt-5-mini",
        "o1",
        "o3",
        "o3-mini",
        "o4-mini",
    ],
    "cl100k_base": ["gpt-4", "gpt-4-0613", "gpt-4-turbo", "gpt-3.5-turbo", "gpt-3.5-turbo-0125"],
}


@pytest.fixture(scope="module")
def rust_tokenizers() -> dict[str, bpe_openai.Encoding]:
    """bpe-openai's own tokenizers: an implementation independent of tiktoken."""
    with warnings.catch_warnings():
        # bpe-openai reads its data with importlib.resources.open_binary (deprecated).
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        return {name: bpe_openai.get_encoding(name) for name in ENCODINGS}


@pytest.fixture(scope="module")
def tiktoken_encodings() -> dict[str, tiktoken.Encoding]:
    """tiktoken's own encodings, loaded through tiktoken's API after chatkit placed the files."""
    for name in ENCODINGS:
        install_offline_encoding(name)
    return {name: tiktoken.get_encoding(name) for name in ENCODINGS}


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


# -- independent references ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [("gpt-4o", 124), ("gpt-4o-mini", 124), ("gpt-4", 129), ("gpt-3.5-turbo", 129)],
)
def test_the_cookbook_example_counts_as_openai_published(model: str, expected: int) -> None:
    assert count_tokens(COOKBOOK_MESSAGES, model) == expected
    as_messages = [Message(m["role"], m["content"], m.get("name")) for m in COOKBOOK_MESSAGES]
    assert count_tokens(as_messages, model) == expected


@pytest.mark.parametrize("encoding_name", ENCODINGS)
@pytest.mark.parametrize("text", VARIED_TEXTS, ids=range(len(VARIED_TEXTS)))
def test_counts_equal_tiktoken_and_the_rust_tokenizer(
    encoding_name: str,
    text: str,
    tiktoken_encodings: dict[str, tiktoken.Encoding],
    rust_tokenizers: dict[str, bpe_openai.Encoding],
) -> None:
    model = MODELS_BY_ENCODING[encoding_name][0]
    reference = tiktoken_encodings[encoding_name]
    text_tokens = len(reference.encode_ordinary(text))
    assert text_tokens == len(rust_tokenizers[encoding_name].encode_ordinary(text))
    assert tokenizer_for_model(model).count_text(text) == text_tokens
    # The cookbook formula: 3 per message + role + content, then 3 to prime the reply.
    role_tokens = len(reference.encode_ordinary("user"))
    assert count_tokens(_user(text), model) == 3 + role_tokens + text_tokens + 3


@pytest.mark.parametrize("encoding_name", ENCODINGS)
def test_a_whole_varied_conversation_counts_like_the_formula(
    encoding_name: str, tiktoken_encodings: dict[str, tiktoken.Encoding]
) -> None:
    encoding = tiktoken_encodings[encoding_name]
    roles = ("system", "user", "assistant", "developer")
    messages = [
        Message(roles[i % 4], text, "alice" if i % 5 == 0 else None)  # type: ignore[arg-type]
        for i, text in enumerate(VARIED_TEXTS)
    ]
    expected = 3 + sum(
        3
        + len(encoding.encode_ordinary(m.role))
        + len(encoding.encode_ordinary(m.content))
        + (1 + len(encoding.encode_ordinary(m.name)) if m.name else 0)
        for m in messages
    )
    counted = count_message_tokens(messages, MODELS_BY_ENCODING[encoding_name][0])
    assert counted.total == expected
    assert counted.exact
    assert counted.tokenizer == encoding_name
    assert sum(counted.per_message) + 3 == counted.total


_any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)
_text_pieces = st.sampled_from(
    [" ", "  ", "\n", "\r\n", "\t", "'s", "'LL", "<|endoftext|>", "👨‍👩‍👧", "你好", "123456"]
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.lists(st.one_of(_any_text, _text_pieces), max_size=8).map("".join))
def test_any_text_counts_like_the_rust_tokenizer(
    text: str, rust_tokenizers: dict[str, bpe_openai.Encoding]
) -> None:
    for name in ENCODINGS:
        expected = len(rust_tokenizers[name].encode_ordinary(text))
        assert tokenizer_for_model(MODELS_BY_ENCODING[name][0]).count_text(text) == expected


def test_special_token_strings_are_counted_as_plain_text() -> None:
    # A user typing "<|endoftext|>" must neither crash the count nor become one special token.
    assert count_tokens(_user("<|endoftext|>")) > count_tokens(_user("x"))


# -- which tokenizer for which model --------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "encoding_name"),
    [(model, name) for name, models in MODELS_BY_ENCODING.items() for model in models],
)
def test_each_model_is_counted_with_the_encoding_it_really_uses(
    model: str, encoding_name: str
) -> None:
    tokenizer = tokenizer_for_model(model)
    assert tokenizer.name == encoding_name
    assert tokenizer.exact
    counted = count_message_tokens(_user("hello"), model)
    assert counted.exact and counted.note == ""


def test_the_two_encodings_give_different_numbers_for_chinese() -> None:
    text = _user("我们今天去哪里吃饭？明天下午三点在图书馆见面。")
    assert count_tokens(text, "gpt-4o") != count_tokens(text, "gpt-4")


@pytest.mark.parametrize("model", ["my-local-model", "llama-3-8b", "mistral-large", "gpt-99"])
def test_an_unknown_model_is_an_estimate_that_says_so(model: str) -> None:
    counted = count_message_tokens(COOKBOOK_MESSAGES, model)
    assert not counted.exact
    assert "Estimate" in counted.note and model in counted.note
    assert counted.tokenizer == "o200k_base"
    assert counted.total == 124  # the o200k_base number, but labelled as an estimate


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-3-5-haiku-latest"])
def test_anthropic_counts_are_estimates_that_say_so(model: str) -> None:
    counted = count_message_tokens(COOKBOOK_MESSAGES, model)
    assert not counted.exact
    assert "Estimate" in counted.note and model in counted.note


def test_an_empty_prompt_costs_only_the_reply_priming() -> None:
    assert count_tokens([]) == 3


def test_fits_context_is_inclusive_at_the_limit() -> None:
    total = count_tokens(COOKBOOK_MESSAGES)
    assert fits_context(COOKBOOK_MESSAGES, max_tokens=total)
    assert not fits_context(COOKBOOK_MESSAGES, max_tokens=total - 1)
    assert fits_context(COOKBOOK_MESSAGES)  # 124 tokens within the default 8000
    assert not fits_context(_user("word " * 9000))


# -- how a prompt fills the window ----------------------------------------------------------


def test_the_window_fill_splits_the_prompt_into_its_parts() -> None:
    system = [Message("system", "You are a Python tutor.")]
    history = [
        Message("user", "What is a list?"),
        Message("assistant", "A list is a mutable sequence..."),
    ]
    current = [Message("user", "Show me an example")]
    fill = WindowFill.of(system + history + current, context_window=1000, reserved_for_reply=200)
    # Each part costs what it would cost alone (the reply priming counts with the current turn).
    assert fill.system_prompt == count_tokens(system) - 3
    assert fill.history == count_tokens(history) - 3
    assert fill.current_turn == count_tokens(current)
    assert fill.used == count_tokens(system + history + current)
    assert fill.free == 1000 - 200 - fill.used
    assert fill.fits and fill.exact
    assert [label for label, _ in fill.parts()] == [
        "System prompt",
        "History",
        "Current turn",
        "Reserved for reply",
        "Free",
    ]
    assert sum(tokens for _, tokens in fill.parts()) == 1000


def test_context_budget_says_when_the_prompt_does_not_fit() -> None:
    fill = WindowFill.of(COOKBOOK_MESSAGES, context_window=150, reserved_for_reply=100)
    assert not fill.fits
    assert fill.free == 150 - 100 - 124
    assert dict(fill.parts())["Free"] == 0


def test_context_budget_of_an_estimate_is_marked_as_one() -> None:
    fill = WindowFill.of(COOKBOOK_MESSAGES, context_window=1000, model="claude-sonnet-4-5")
    assert not fill.exact and "Estimate" in fill.note


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-4o", 128_000),
        ("gpt-4o-mini", 128_000),
        ("gpt-4.1", 1_047_576),
        ("gpt-5", 400_000),
        ("gpt-4", 8_192),
        ("gpt-4-0613", 8_192),
        ("gpt-4-32k", 32_768),  # not the 8k of gpt-4, whose name it starts with
        ("gpt-4-1106-preview", 128_000),
        ("gpt-4-turbo", 128_000),
        ("gpt-3.5-turbo", 16_385),
        ("gpt-3.5-turbo-instruct", 4_096),
        ("o1", 200_000),
        ("o1-mini", 128_000),
        ("o3", 200_000),
        ("o4-mini", 200_000),
        ("claude-sonnet-4-5", 200_000),
    ],
)
def test_context_windows_of_known_models(model: str, window: int) -> None:
    assert context_window_for(model) == window


def test_an_unknown_context_window_needs_a_value_from_the_caller() -> None:
    with pytest.raises(UnknownContextWindow, match="'my-local-model'"):
        context_window_for("my-local-model")
    assert context_window_for("my-local-model", default=4096) == 4096


# -- offline files -----------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach another host fails loudly."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def fresh_tiktoken_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """An empty TIKTOKEN_CACHE_DIR, with chatkit's and tiktoken's loaded encodings forgotten."""
    folder = tmp_path / "tiktoken-cache"
    loaded = dict(tiktoken.registry.ENCODINGS)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(folder))
    chatkit.encodings.get_encoding.cache_clear()
    tiktoken.registry.ENCODINGS.clear()
    try:
        yield folder
    finally:
        chatkit.encodings.get_encoding.cache_clear()
        tiktoken.registry.ENCODINGS.clear()
        tiktoken.registry.ENCODINGS.update(loaded)


@pytest.mark.parametrize("encoding_name", ENCODINGS)
def test_encodings_load_offline_into_an_empty_cache(
    encoding_name: str,
    no_network: None,
    fresh_tiktoken_cache: Path,
    rust_tokenizers: dict[str, bpe_openai.Encoding],
) -> None:
    assert not fresh_tiktoken_cache.exists()
    encoding = chatkit.encodings.get_encoding(encoding_name)
    placed = (
        fresh_tiktoken_cache / hashlib.sha1(OFFICIAL_URL.format(encoding_name).encode()).hexdigest()
    )
    # The file tiktoken reads is the official one, under the name tiktoken gives it.
    assert hashlib.sha256(placed.read_bytes()).hexdigest() == OFFICIAL_SHA256[encoding_name]
    assert install_offline_encoding(encoding_name) == placed
    # tiktoken's own API finds it too, and both count like the independent Rust tokenizer.
    assert tiktoken.get_encoding(encoding_name) is encoding
    for text in VARIED_TEXTS:
        expected = len(rust_tokenizers[encoding_name].encode_ordinary(text))
        assert len(encoding.encode_ordinary(text)) == expected


def test_a_damaged_cached_file_is_replaced_by_the_official_one(
    no_network: None, fresh_tiktoken_cache: Path
) -> None:
    fresh_tiktoken_cache.mkdir()
    placed = (
        fresh_tiktoken_cache / hashlib.sha1(OFFICIAL_URL.format("cl100k_base").encode()).hexdigest()
    )
    placed.write_bytes(b"not a tokenizer")
    encoding = chatkit.encodings.get_encoding("cl100k_base")
    assert len(encoding.encode_ordinary("Hello, world!")) == 4
    assert hashlib.sha256(placed.read_bytes()).hexdigest() == OFFICIAL_SHA256["cl100k_base"]


# -- each distinct text is encoded once -----------------------------------------------------


class _CountingEncoding:
    """Wraps a real encoding and records every text it is asked to encode."""

    def __init__(self, encoding: tiktoken.Encoding) -> None:
        self._encoding = encoding
        self.encoded: list[str] = []

    def encode_ordinary(self, text: str) -> list[int]:
        self.encoded.append(text)
        return self._encoding.encode_ordinary(text)

    def encode_ordinary_batch(self, texts: list[str], **kwargs: object) -> list[list[int]]:
        self.encoded.extend(texts)
        return self._encoding.encode_ordinary_batch(texts, **kwargs)


@pytest.fixture
def counting_encoding(monkeypatch: pytest.MonkeyPatch) -> _CountingEncoding:
    spy = _CountingEncoding(chatkit.tokens.get_encoding("o200k_base"))
    monkeypatch.setattr(chatkit.tokens, "get_encoding", lambda name: spy)
    return spy


def _long_conversation(turns: int) -> list[Message]:
    run = uuid.uuid4().hex  # texts no earlier test has counted
    messages = [Message("system", f"You are helpful. ({run})")]
    for turn in range(turns):
        messages.append(Message("user", f"Question {turn} of run {run}: " + "why? " * (turn % 7)))
        messages.append(Message("assistant", f"Answer {turn} of run {run}: " + "because. " * 5))
    return messages


def test_a_recount_after_one_new_turn_encodes_only_the_new_messages(
    counting_encoding: _CountingEncoding,
) -> None:
    messages = _long_conversation(300)
    first = count_tokens(messages)
    assert {m.content for m in messages} <= set(counting_encoding.encoded)

    counting_encoding.encoded.clear()
    new_turn = [Message("user", "One more question?"), Message("assistant", "One more answer.")]
    second = count_tokens(messages + new_turn)
    assert sorted(counting_encoding.encoded) == sorted(m.content for m in new_turn)
    assert second == first + count_tokens(new_turn) - 3

    counting_encoding.encoded.clear()
    assert count_tokens(messages + new_turn) == second
    assert counting_encoding.encoded == []


def test_a_text_repeated_many_times_is_encoded_once(counting_encoding: _CountingEncoding) -> None:
    text = f"ok {uuid.uuid4().hex}"
    messages = [Message("user" if i % 2 == 0 else "assistant", text) for i in range(200)]
    count_tokens(messages)
    assert counting_encoding.encoded.count(text) == 1


def test_cached_counts_equal_fresh_counts(tiktoken_encodings: dict[str, tiktoken.Encoding]) -> None:
    messages = _long_conversation(20)
    assert count_tokens(messages) == count_tokens(messages)
    encoding = tiktoken_encodings["o200k_base"]
    assert count_tokens(messages) == 3 + sum(
        3 + len(encoding.encode_ordinary(m.role)) + len(encoding.encode_ordinary(m.content))
        for m in messages
    )
