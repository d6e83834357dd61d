"""The offline local model: the bundled SmolLM2 GGUF run by llama.cpp, no key, no network.

One model instance per process serves every test (as it serves every browser session), so the
file runs in seconds; replies are kept to a few tokens.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatkit.errors import ContextTooLong, ModelLoadError
from chatkit.messages import Message
from chatkit.providers import provider_kind
from chatkit.providers.base import GenerationOptions
from chatkit.providers.calls import CallResult
from chatkit.providers.chained import LocallyChained
from chatkit.providers.local.model import (
    DEFAULT_MAX_OUTPUT_TOKENS,
    DEFAULT_TEMPERATURE,
    LocalModel,
    default_model_path,
)
from chatkit.providers.local.runtime import available_memory
from chatkit.providers.local.stream import IncrementalDetokenizer
from chatkit.summary import summarize_messages
from chatkit.tokens import count_message_tokens
from chatkit.window_fill import WindowFill
from tests.threads import at_once

pytestmark = [pytest.mark.local_model, pytest.mark.usefixtures("no_api_keys")]

SHORT = GenerationOptions(max_output_tokens=16, temperature=0.2, seed=7)
SYSTEM = Message("system", "You are a helpful assistant.")


@pytest.fixture(scope="module")
def local() -> LocalModel:
    """The default model, loaded once for the whole file."""
    provider = LocalModel()
    provider.load()
    return provider


@pytest.fixture(scope="module", params=["default", "by path"])
def any_model(request: pytest.FixtureRequest, local: LocalModel, gguf_copy: Path) -> LocalModel:
    return local if request.param == "default" else LocalModel(model_path=gguf_copy)


def chat(provider: LocalModel, messages: list[Message]) -> tuple[list[str], CallResult]:
    reply = provider.stream(messages, SHORT)
    chunks = list(reply)
    assert reply.result is not None
    return chunks, reply.result


# -- acceptance: a conversation, by default and by path ---------------------------------------


def test_a_three_turn_conversation_streams_and_resends_the_first_turn(any_model: LocalModel):
    messages = [SYSTEM]
    results = []
    for text in ("My name is Alice.", "I live in Paris.", "What is my name?"):
        messages.append(Message("user", text))
        chunks, result = chat(any_model, messages)
        assert len(chunks) > 1 and result.text == "".join(chunks)
        messages.append(Message("assistant", result.text))
        results.append(result)
    first_reply, third = results[0].text, results[2]
    body = third.request_body
    assert [m["content"] for m in body["messages"][1:3]] == ["My name is Alice.", first_reply]
    assert "<|im_start|>user\nMy name is Alice.<|im_end|>" in body["prompt"]
    assert f"<|im_start|>assistant\n{first_reply}<|im_end|>" in body["prompt"]
    assert body["prompt"].endswith("<|im_start|>assistant\n")
    assert body["max_tokens"] == 16 and body["seed"] == 7 and body["temperature"] == 0.2
    assert third.usage is not None and not third.usage.estimated
    assert third.usage.input_tokens == any_model.tokenizer().count_prompt(messages[:-1])
    assert 0 < third.usage.output_tokens <= 16


def test_the_model_name_comes_from_the_file(local: LocalModel, gguf_copy: Path):
    assert local.model == "SmolLM2-135M-Instruct.Q4_1"
    assert LocalModel(model_path=gguf_copy).model == "my-chat-model"
    assert local.name == "Local" and local.mode == "chat"
    caps = provider_kind(local.name).capabilities
    assert caps.streaming and caps.exact_token_counts and caps.sampling_parameters
    assert not caps.needs_api_key and not caps.server_side_chaining


def test_providers_for_the_same_file_share_one_instance(local: LocalModel):
    assert LocalModel().load() is local.load()
    assert LocalModel(model_path=default_model_path()).load() is local.load()


def test_the_reply_is_the_bindings_own_for_the_same_seed(local: LocalModel):
    """Incremental detokenization changes the cost, not the text."""
    messages = [SYSTEM, Message("user", "Name three colors and a fruit.")]
    options = GenerationOptions(max_output_tokens=40, temperature=0.2, seed=3)
    ours = local.complete(messages, options).text
    loaded = local.load()
    with loaded.queue.hold():
        loaded.llama.reset()
        raw = loaded.llama.create_chat_completion(
            [{"role": m.role, "content": m.content} for m in messages],
            max_tokens=40,
            temperature=0.2,
            seed=3,
            repeat_penalty=local.repeat_penalty,
        )
    assert ours == raw["choices"][0]["message"]["content"]


def test_the_same_seed_gives_the_same_reply(local: LocalModel):
    messages = [SYSTEM, Message("user", "Tell me a short joke.")]
    options = GenerationOptions(max_output_tokens=24, temperature=0.9, seed=11)
    assert local.complete(messages, options).text == local.complete(messages, options).text


def test_defaults_suit_a_tiny_model_and_developer_means_system(local: LocalModel):
    body = local.build_request([Message("developer", "Be brief."), Message("user", "Hi")])
    assert body["max_tokens"] == DEFAULT_MAX_OUTPUT_TOKENS
    assert body["temperature"] == DEFAULT_TEMPERATURE and DEFAULT_TEMPERATURE <= 0.3
    assert "seed" not in body
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["prompt"].startswith("<|im_start|>system\nBe brief.<|im_end|>")


def test_max_output_tokens_caps_the_reply(local: LocalModel):
    banned = LocalModel(logit_bias={0: -1e9, 2: -1e9, 4: -1e9})  # no end-of-sequence
    result = banned.complete(
        [SYSTEM, Message("user", "Count to one hundred.")],
        GenerationOptions(max_output_tokens=8, seed=1),
    )
    assert result.usage is not None and result.usage.output_tokens == 8
    assert result.finish_reason == "length"
    assert result.request_body["logit_bias"] == {"0": -1e9, "2": -1e9, "4": -1e9}


def test_stopping_a_stream_frees_the_model_for_the_next_session(local: LocalModel):
    reply = local.stream(
        [SYSTEM, Message("user", "Write a long poem.")], GenerationOptions(max_output_tokens=200)
    )
    stream = iter(reply)
    next(stream)
    reply.stop()
    with local.load().queue.hold(max_wait_seconds=10):
        pass
    assert local.complete([SYSTEM, Message("user", "Hi")], SHORT).text


# -- token counts and the context window ----------------------------------------------------


def test_token_counts_add_up_to_the_rendered_prompt(local: LocalModel):
    tokenizer = local.tokenizer()
    messages = [
        SYSTEM,
        Message("user", "Hello! Grüße, 日本語 🎉\nSecond line, <b>tags</b>."),
        Message("assistant", "Hi there.\n\n- a list\n- of items"),
        Message("user", "What did I say first?", name="alice"),
    ]
    counted = count_message_tokens(messages, local.model, tokenizer=tokenizer)
    assert counted.exact
    assert counted.total == tokenizer.count_prompt(messages)
    result = local.complete(messages, SHORT)
    assert result.usage is not None and counted.total == result.usage.input_tokens


def test_counts_say_what_they_leave_out_without_a_system_prompt(local: LocalModel):
    tokenizer = local.tokenizer()
    gaps = set()
    for conversation in (
        [Message("user", "Hi")],
        [Message("user", "Hi"), Message("assistant", "Hello!"), Message("user", "Bye")],
    ):
        counted = count_message_tokens(conversation, local.model, tokenizer=tokenizer)
        gaps.add(tokenizer.count_prompt(conversation) - counted.total)
    (gap,) = gaps  # always the template's own default system prompt, nothing else
    assert gap > 0 and f"({gap} tokens)" in tokenizer.note


def test_the_context_window_is_the_models_own(local: LocalModel):
    assert local.context_window() == 8192
    fill = WindowFill.of(
        [SYSTEM, Message("user", "Hi")],
        context_window=local.context_window(),
        reserved_for_reply=512,
        tokenizer=local.tokenizer(),
    )
    assert fill.exact and fill.used == local.tokenizer().count_prompt(
        [SYSTEM, Message("user", "Hi")]
    )


def test_loading_reports_progress():
    messages: list[str] = []
    provider = LocalModel(n_ctx=1024, on_progress=messages.append)
    assert provider.context_window() == 1024
    assert messages[0].startswith("Loading SmolLM2-135M-Instruct.Q4_1.gguf")
    assert messages[-1].startswith("Loaded SmolLM2-135M-Instruct.Q4_1.gguf")


# -- everywhere a provider works -------------------------------------------------------------


def test_responses_mode_through_the_local_response_store(local: LocalModel):
    chained = LocallyChained(model=local.model, inner=local)
    first = chained.complete([SYSTEM, Message("user", "My favorite color is blue.")], SHORT)
    assert first.response_id is not None
    second = chained.complete(
        [SYSTEM, Message("user", "What is my favorite color?")],
        SHORT,
        previous_response_id=first.response_id,
    )
    prompt = second.request_body["prompt"]
    assert "My favorite color is blue." in prompt and first.text in prompt
    assert second.mode == "responses" and second.previous_response_id == first.response_id


def test_a_summary_from_the_local_model(local: LocalModel):
    summary = summarize_messages(
        [Message("user", "My name is Alice and I like tea."), Message("assistant", "Hi Alice!")],
        local,
    )
    assert summary


def test_two_threads_chat_at_once_with_separate_conversations(local: LocalModel):
    results: dict[str, list[CallResult]] = {}

    def converse(name: str) -> None:
        provider = LocalModel()  # each session builds its own provider, as the app does
        messages = [SYSTEM]
        for text in (f"My name is {name}.", "What is my name?"):
            messages.append(Message("user", text))
            result = provider.complete(messages, SHORT)
            messages.append(Message("assistant", result.text))
            results.setdefault(name, []).append(result)

    assert at_once(converse, ("Alice", "Bob"), timeout=120) == []
    for name, other in (("Alice", "Bob"), ("Bob", "Alice")):
        second = results[name][1]
        assert f"My name is {name}." in second.request_body["prompt"]
        assert f"My name is {other}." not in second.request_body["prompt"]
        assert results[name][0].text in second.request_body["prompt"]


# -- clear errors, and the process goes on ---------------------------------------------------


@pytest.fixture
def still_works(local: LocalModel) -> Iterator[None]:
    """After the test's error, the shared model still answers."""
    yield
    assert local.complete([SYSTEM, Message("user", "Hi")], SHORT).usage is not None


@pytest.mark.usefixtures("still_works")
def test_a_missing_file(tmp_path: Path):
    provider = LocalModel(model_path=tmp_path / "absent.gguf")
    with pytest.raises(ModelLoadError, match="does not exist"):
        list(provider.stream([Message("user", "Hi")]))


@pytest.mark.parametrize("how", ["positional", "model", "model_path"])
def test_a_path_is_used_however_it_is_given(how: str, gguf_copy: Path, tmp_path: Path):
    """``LocalModel("my.gguf")`` runs that file (it once ran the bundled model silently)."""
    given = {"positional": lambda p: LocalModel(p), "model": lambda p: LocalModel(model=p)}.get(
        how, lambda p: LocalModel(model_path=p)
    )
    assert given(str(gguf_copy)).model_file() == gguf_copy
    assert given(str(gguf_copy)).model == "my-chat-model"
    with pytest.raises(ModelLoadError, match="does not exist"):
        given(str(tmp_path / "absent.gguf")).load()


def test_a_context_window_is_given_as_n_ctx():
    with pytest.raises(ValueError, match="n_ctx"):
        LocalModel(context_window_tokens=512)


@pytest.mark.usefixtures("still_works")
def test_a_folder_instead_of_a_file(tmp_path: Path):
    with pytest.raises(ModelLoadError, match="is a folder"):
        LocalModel(model_path=tmp_path).load()


@pytest.mark.usefixtures("still_works")
def test_a_file_that_is_not_gguf(tmp_path: Path):
    not_a_model = tmp_path / "model.gguf"
    not_a_model.write_bytes(b"PK\x03\x04 a zip file, say")
    with pytest.raises(ModelLoadError, match="not a GGUF model file"):
        LocalModel(model_path=not_a_model).tokenizer()


@pytest.mark.usefixtures("still_works")
def test_a_truncated_gguf(tmp_path: Path):
    truncated = tmp_path / "truncated.gguf"
    with default_model_path().open("rb") as source:
        truncated.write_bytes(source.read(1_000_000))
    with pytest.raises(ModelLoadError, match="damaged or incomplete") as caught:
        LocalModel(model_path=truncated).context_window()
    assert caught.value.__cause__ is not None


@pytest.mark.usefixtures("still_works")
@pytest.mark.skipif(available_memory() is None, reason="free memory is not known here")
def test_a_model_that_does_not_fit_in_memory():
    with pytest.raises(ModelLoadError, match="GB of memory"):
        LocalModel(n_ctx=2**27).load()  # a key/value cache of about 3 TB


@pytest.mark.usefixtures("still_works")
def test_a_prompt_larger_than_the_context_window():
    small = LocalModel(n_ctx=256)
    with pytest.raises(ContextTooLong, match="reads at most 256"):
        small.complete([SYSTEM, Message("user", "word " * 300)], SHORT)
    assert small.complete([SYSTEM, Message("user", "Hi")], SHORT).text


@pytest.mark.usefixtures("still_works")
def test_an_offline_hugging_face_download(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("CHATKIT_MODELS_DIR", str(tmp_path / "models"))
    provider = LocalModel(
        hf_repo_id="HuggingFaceTB/SmolLM2-360M-Instruct-GGUF", hf_filename="m.gguf"
    )
    assert provider.model == "m"
    with pytest.raises(ModelLoadError, match=r"cannot be downloaded"):
        provider.load()


def test_a_hugging_face_model_without_huggingface_hub(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setenv("CHATKIT_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as if not installed
    provider = LocalModel(hf_repo_id="org/repo", hf_filename="model.gguf")
    with pytest.raises(ModelLoadError, match="needs the package huggingface_hub"):
        provider.load()


def test_contradictory_arguments_are_refused():
    with pytest.raises(ValueError, match="both"):
        LocalModel(hf_repo_id="org/repo")
    with pytest.raises(ValueError, match="not both"):
        LocalModel(model_path="a.gguf", hf_repo_id="org/repo", hf_filename="a.gguf")
    with pytest.raises(ValueError, match="n_ctx"):
        LocalModel(n_ctx=0)


# -- the incremental detokenizer -------------------------------------------------------------


def test_characters_split_across_tokens_come_out_whole(local: LocalModel):
    loaded = local.load()
    text = "Grüße, 日本語 🎉!"
    tokens = loaded.tokenize(text, special=False)
    assert any(len(loaded.piece(t)) == 1 and loaded.piece(t)[0] >= 0x80 for t in tokens)
    detokenizer = IncrementalDetokenizer(loaded.piece, loaded.stop)
    chunks = [detokenizer.push(t) for t in tokens] + [detokenizer.flush()]
    assert "".join(chunks) == text
    assert not any("\ufffd" in chunk for chunk in chunks)


def test_a_stop_string_is_cut_and_its_start_held_back():
    pieces = {1: b"Hello <|im", 2: b"_end|> never shown", 3: b"a <", 4: b"b"}
    stopper = IncrementalDetokenizer(pieces.__getitem__, ["<|im_end|>"])
    assert stopper.push(1) == "Hello "  # "<|im" might start the stop string
    assert stopper.push(2) == "" and stopper.stopped
    assert stopper.flush() == ""
    passer = IncrementalDetokenizer(pieces.__getitem__, ["<|im_end|>"])
    assert passer.push(3) == "a "
    assert passer.push(4) == "<b" and not passer.stopped
