"""The offline local model (llama.cpp running the bundled GGUF), through the provider protocol.

No key, no network: the network guard in conftest.py fails any test that tries to connect.
"""

from __future__ import annotations

import pytest

from chatkit.classic import ConversationSession
from chatkit.conversation import Conversation
from chatkit.errors import ContextTooLong, ModelLoadError
from chatkit.messages import Message
from chatkit.providers import ProviderSpec, make_provider, provider_kind
from chatkit.providers.base import GenerationOptions
from chatkit.providers.chained import LocallyChained
from chatkit.providers.local import LocalModel, default_model_path
from chatkit.summary import summarize
from chatkit.tokens import count_message_tokens
from chatkit.turn import send
from tests.threads import at_once

pytestmark = [pytest.mark.local_model, pytest.mark.usefixtures("no_api_keys")]

SHORT = GenerationOptions(max_output_tokens=16, seed=7, temperature=0.0)


@pytest.fixture(scope="module", params=["default", "by-path"])
def model(request, gguf_copy) -> LocalModel:
    if request.param == "default":
        return LocalModel()
    return LocalModel(model_path=gguf_copy)


def test_the_default_is_the_local_provider_when_no_key_is_set():
    provider = make_provider(ProviderSpec(kind="Local", mode="chat"))
    assert isinstance(provider, LocalModel)
    assert not provider_kind(provider.name).capabilities.needs_api_key
    assert provider.model == "SmolLM2-135M-Instruct.Q4_1"


def test_three_turns_stream_and_the_third_prompt_holds_the_first_turn(model):
    conversation = Conversation(system_prompt="You are a helpful assistant.")
    results = []
    for text in ("My name is Alice.", "I live in Paris.", "What is my name?"):
        conversation.add_user(text)
        reply = model.stream(conversation.to_messages(), SHORT)
        chunks = list(reply)
        assert len(chunks) > 1, "the reply streams in several pieces"
        assert reply.result.text == "".join(chunks)
        conversation.add_assistant(reply.result.text)
        results.append(reply.result)
    third = results[2]
    assert "My name is Alice." in third.request_body["prompt"]
    assert [m["content"] for m in third.request_body["messages"]][1] == "My name is Alice."
    assert third.usage.input_tokens > results[0].usage.input_tokens
    assert third.usage.output_tokens <= 16 and not third.usage.estimated


def test_token_counts_use_the_models_own_tokenizer_exactly(model):
    conversation = Conversation(system_prompt="You are a helpful assistant.")
    conversation, _ = send(conversation, "My name is Alice. 日本語も少し。🙂", model, options=SHORT)
    conversation.add_user("What is my name?")
    messages = conversation.to_messages()
    counted = count_message_tokens(messages, model.model, tokenizer=model.tokenizer())
    assert counted.exact
    result = model.complete(messages, SHORT)
    assert counted.total == result.usage.input_tokens
    assert model.context_window() == 8192


def test_responses_mode_goes_through_the_local_response_store(model):
    chained = LocallyChained(model=model.model, inner=model)
    first = chained.complete(
        [Message("system", "Be brief."), Message("user", "My favorite color is blue.")], SHORT
    )
    assert first.response_id.startswith("resp_local_")
    second = chained.complete(
        [Message("user", "What's my favorite color?")],
        SHORT,
        previous_response_id=first.response_id,
    )
    assert "My favorite color is blue." in second.request_body["prompt"]
    assert second.previous_response_id == first.response_id


@pytest.mark.parametrize("mode", ["chat", "responses"])
def test_the_tutorial_session_runs_on_the_local_model(mode):
    session = ConversationSession(LocalModel(), mode=mode)
    session.send("My favorite color is blue")
    session.send("What's my favorite color?")
    assert session.summary().splitlines()[0] == "User: My favorite color is blue"
    assert len(session.messages) == 5
    if mode == "responses":
        assert session.last_response_id.startswith("resp_local_")


def test_summaries_work_on_the_local_model():
    conversation = Conversation()
    conversation.add_user("My name is Alice and I like tea.")
    conversation.add_assistant("Nice to meet you, Alice.")
    assert summarize(conversation, LocalModel()).strip()


def test_two_threads_chat_at_once_and_keep_separate_conversations():
    results: dict[str, Conversation] = {}

    def chat(name: str) -> None:
        conversation = Conversation(system_prompt="Be brief.")
        for text in (f"My name is {name}.", "What is my name?"):
            conversation, _ = send(conversation, text, LocalModel(), options=SHORT)
        results[name] = conversation

    assert at_once(chat, ("Alice", "Bob"), timeout=300) == []
    for name, other in (("Alice", "Bob"), ("Bob", "Alice")):
        prompt = results[name].replies[3].request_body["prompt"]
        assert f"My name is {name}." in prompt and f"My name is {other}." not in prompt
        assert len(results[name].messages) == 4


def test_a_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        LocalModel(model_path=tmp_path / "nothing.gguf").complete([], SHORT)


def test_a_file_that_is_not_gguf_is_a_clear_error(tmp_path):
    text_file = tmp_path / "notes.gguf"
    text_file.write_text("just some text, not a model")
    with pytest.raises(ModelLoadError, match="not a GGUF"):
        LocalModel(model_path=text_file).context_window()


def test_a_truncated_gguf_is_a_clear_error_and_the_process_goes_on(tmp_path):
    broken = tmp_path / "broken.gguf"
    with default_model_path().open("rb") as source:
        broken.write_bytes(source.read(1_000_000))
    with pytest.raises(ModelLoadError, match=r"damaged|incomplete|could not"):
        LocalModel(model_path=broken).context_window()
    # the process keeps running and the real model still answers
    assert (
        LocalModel().complete(Conversation(system_prompt="Hi").to_messages() or [], SHORT)
        is not None
    )


def test_a_prompt_larger_than_the_context_window_is_a_clear_error():
    small = LocalModel(n_ctx=128)
    conversation = Conversation()
    conversation.add_user("word " * 400)
    with pytest.raises(ContextTooLong):
        small.complete(conversation.to_messages(), SHORT)


def test_an_offline_hugging_face_download_fails_clearly():
    with pytest.raises(ModelLoadError, match=r"(?i)hugging ?face|huggingface_hub|internet"):
        LocalModel(hf_repo_id="Qwen/Qwen2.5-0.5B-Instruct-GGUF", hf_filename="q.gguf").load()


def test_locally_chained_takes_the_model_from_the_provider_it_wraps():
    chained = LocallyChained(inner=LocalModel())
    assert chained.model == "SmolLM2-135M-Instruct.Q4_1" and chained.mode == "responses"
