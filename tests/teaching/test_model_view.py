"""What the model sees: a prompt through the GGUF's own template, tiktoken pieces, a count."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from chatkit.conversation import Conversation, ReplyInfo
from chatkit.encodings import get_encoding
from chatkit.messages import Message
from chatkit.providers import ProviderSpec, make_provider
from chatkit.providers.base import GenerationOptions
from chatkit.providers.local import LocalModel, default_model_path
from chatkit.providers.local.files import BUNDLED_ALIAS, model_file_named
from chatkit.teaching.inspector import messages_for_turn
from chatkit.teaching.model_view import (
    SHOWN_TOKENS,
    TokenPiece,
    UnseenTokens,
    cap,
    group_pieces,
    size,
    what_the_model_sees,
)
from chatkit.teaching.token_chips import tokens_html
from chatkit.tokens import count_tokens, tokenizer_for_model
from chatkit.turn import send

SCRIPT = ("My name is Alice.", "What is my name?")
SHORT = GenerationOptions(max_output_tokens=8, temperature=0.0, seed=1)
SCRIPT_TAG = "Hi <script>alert('x')</script> & <b>bold</b>"


@pytest.fixture(scope="module")
def local() -> LocalModel:
    """The bundled SmolLM2 GGUF, loaded once for the file (shared with every other user)."""
    provider = LocalModel()
    provider.load()
    return provider


def recorded(provider: str, model: str, *texts: str, **reply: object) -> Conversation:
    """A conversation whose replies say which provider and model made them (no call made)."""
    conversation = Conversation(system_prompt="Be brief.")
    for text in texts:
        conversation.add_user(text)
        conversation.add_assistant("Noted.", ReplyInfo(provider=provider, model=model, **reply))
    return conversation


def pieces(view) -> list[TokenPiece]:
    return [p for p in view.parts if isinstance(p, TokenPiece)]


# -- a GGUF model: its own chat template --------------------------------------------------------


@pytest.mark.local_model
def test_a_local_turn_shows_the_prompt_its_chat_template_made(local: LocalModel) -> None:
    conversation = Conversation(system_prompt="Be brief.")
    for text in SCRIPT:
        conversation, _ = send(conversation, text, local, options=SHORT)
    view = what_the_model_sees(conversation, 3)
    assert view.how == "template" and "exactly as it was sent" in view.sentence
    assert view.text == conversation.replies[3].request_body["prompt"]
    # The template's special tokens, the messages in order, the generation prompt at the end.
    first_reply = conversation.messages[1].content
    assert view.text.startswith("<|im_start|>system\nBe brief.<|im_end|>\n")
    positions = [view.text.index(f"<|im_start|>user\n{SCRIPT[0]}<|im_end|>")]
    positions.append(view.text.index(f"<|im_start|>assistant\n{first_reply}<|im_end|>"))
    positions.append(view.text.index(f"<|im_start|>user\n{SCRIPT[1]}<|im_end|>"))
    assert positions == sorted(positions)
    assert view.text.endswith("<|im_start|>assistant\n")
    # The pieces join to the text, and the ids are the prompt's tokens, decoding back to it.
    shown = pieces(view)
    assert "".join(p.text for p in shown) == view.text
    ids = [i for p in shown for i in p.ids]
    messages = messages_for_turn(conversation, 3)
    assert len(ids) == view.tokens == local.tokenizer().count_prompt(messages)
    assert local.load().llama.detokenize(ids, special=True).decode() == view.text
    assert {p.text for p in shown if p.special} >= {"<|im_start|>", "<|im_end|>"}


@pytest.mark.local_model
@pytest.mark.parametrize("mode", ["chat", "responses", "messages"])
def test_in_every_api_mode_the_tokens_are_those_the_model_counted(local, mode: str) -> None:
    provider = make_provider(ProviderSpec("Local", mode))
    conversation = Conversation(system_prompt="Be brief.")
    for text in SCRIPT:
        conversation, _ = send(conversation, text, provider, options=SHORT)
    view = what_the_model_sees(conversation, 3)
    assert view.how == "template" and view.text.count("<|im_start|>user") == 2
    assert view.tokens == conversation.replies[3].input_tokens  # the model's own usage


@pytest.mark.local_model
def test_after_a_reload_the_prompt_is_rendered_again_the_same(local: LocalModel) -> None:
    conversation = Conversation(system_prompt="Be brief.")
    conversation, _ = send(conversation, SCRIPT[0], local, options=SHORT)
    sent = what_the_model_sees(conversation, 1)
    reloaded = what_the_model_sees(Conversation.from_dict(conversation.to_dict()), 1)
    assert "rendered from the messages" in reloaded.sentence
    assert reloaded.text == sent.text and pieces(reloaded) == pieces(sent)


@pytest.mark.local_model
def test_a_server_running_a_gguf_that_is_here_is_shown_through_its_template(local) -> None:
    conversation = recorded("OpenAI-compatible", BUNDLED_ALIAS, *SCRIPT, input_tokens=40)
    view = what_the_model_sees(conversation, 3)
    assert view.how == "template" and f"if it runs {default_model_path().name}" in view.sentence
    assert view.sentence.endswith("The server counted 40.")  # its count, beside ours
    messages = messages_for_turn(conversation, 3)
    assert view.text == local.tokenizer().render_prompt(messages)
    assert view.tokens == local.tokenizer().count_prompt(messages)


def test_a_server_whose_model_is_not_here_says_its_template_is_not_known() -> None:
    view = what_the_model_sees(recorded("OpenAI-compatible", "llama3.2", "Hi.", input_tokens=21), 1)
    assert view.how == "count" and not view.parts
    assert "chat template of the server's model llama3.2 is not known here" in view.sentence
    assert "counted 21 input tokens" in view.sentence


@pytest.mark.local_model
def test_the_view_is_cached_per_model_and_messages(local: LocalModel) -> None:
    conversation = recorded("Local", local.model, "Cache me.")
    assert what_the_model_sees(conversation, 1).parts is what_the_model_sees(conversation, 1).parts


@pytest.mark.local_model
def test_a_script_tag_is_shown_as_text_never_as_markup(local: LocalModel) -> None:
    for provider, model in (("Local", local.model), ("OpenAI", "gpt-4o")):
        view = what_the_model_sees(recorded(provider, model, SCRIPT_TAG), 1)
        html = tokens_html(view)
        assert "<script" not in html and "<b>" not in html
        assert "&lt;" in html and "script" in html and "&amp;" in html
        # Unescaped, the chips' text is exactly the pieces' text.
        assert SCRIPT_TAG in "".join(p.text for p in pieces(view))


# -- which file a model's name means ------------------------------------------------------------


def test_a_model_name_finds_its_gguf_file_here(tmp_path: Path) -> None:
    bundled = default_model_path()
    assert model_file_named(BUNDLED_ALIAS) == bundled
    assert model_file_named("SmolLM2-135M-Instruct.Q4_1") == bundled
    assert model_file_named("/models/smollm2-135m-instruct.q4_1.gguf") == bundled
    assert model_file_named("llama3.2") is None and model_file_named("") is None
    mine = tmp_path / "my-chat-model.gguf"
    try:
        os.link(bundled, mine)
    except OSError:
        shutil.copyfile(bundled, mine)
    assert model_file_named("my-chat-model", hint=str(mine)) == mine
    assert model_file_named("my-chat-model") is None


# -- OpenAI: tiktoken pieces, the role markers counted -----------------------------------------


@pytest.mark.parametrize(
    ("model", "encoding"), [("gpt-4o", "o200k_base"), ("gpt-4", "cl100k_base")]
)
def test_an_openai_turn_shows_each_messages_tiktoken_pieces(model: str, encoding: str) -> None:
    conversation = recorded("OpenAI", model, "My name is Alice.", "Ünïcödé 日本語 🎉 works?")
    view = what_the_model_sees(conversation, 3)
    assert view.how == "encoding" and encoding in view.sentence
    assert "does not publish as text the role and separator tokens" in view.sentence
    messages = messages_for_turn(conversation, 3)
    # Each message: its unpublished markers, then exactly its content's tokens.
    by_message: list[list[TokenPiece]] = []
    for part in view.parts:
        if isinstance(part, UnseenTokens):
            by_message.append([])
        else:
            by_message[-1].append(part)
    assert by_message.pop() == []  # the reply's priming comes last
    tokenizer = tokenizer_for_model(model)
    for message, shown in zip(messages, by_message, strict=True):
        ids = [i for p in shown for i in p.ids]
        assert ids == get_encoding(encoding).encode_ordinary(message.content)
        assert "".join(p.text for p in shown) == message.content
        if message.content.isascii():
            assert len(shown) == tokenizer.count_text(message.content)
    assert view.tokens == count_tokens(messages, model)
    assert [p.label for p in view.parts if isinstance(p, UnseenTokens)][-1] == "reply"


def test_a_long_conversation_shows_its_first_and_last_tokens() -> None:
    texts = [
        f"Message number {n}: the quick brown fox jumps over the lazy dog." for n in range(400)
    ]
    view = what_the_model_sees(recorded("OpenAI", "gpt-4o", *texts), 799)
    drawn = sum(size(p) for p in view.parts)
    assert view.hidden > 0 and drawn + view.hidden == view.tokens
    assert 2 * SHOWN_TOKENS <= drawn < 2 * SHOWN_TOKENS + 10
    assert f"{view.hidden:,} tokens hidden" in tokens_html(view)
    assert view.shown_text() == "" and view.hidden_line.startswith("…")  # tokens, no text
    # The table numbers tokens as the whole prompt does, across the gap.
    rows, before = view.rows(), view.parts[view.gap - 1]
    assert rows[0]["position"] == 0
    assert rows[view.gap]["position"] == rows[view.gap - 1]["position"] + size(before) + view.hidden
    assert rows[-1]["position"] + size(view.parts[-1]) == view.tokens


def test_cap_keeps_everything_when_it_is_short_and_group_pieces_joins_split_characters():
    short = [TokenPiece("a", (1,)), TokenPiece("b", (2,))]
    assert cap(short, keep=1) == (tuple(short), 0, 0)
    emoji = "🎉".encode()
    grouped = group_pieces([(7, emoji[:2], False), (8, emoji[2:] + b"!", False)])
    assert grouped == [TokenPiece("🎉!", (7, 8))]


# -- Anthropic: no public tokenizer --------------------------------------------------------------


def test_an_anthropic_turn_says_its_tokenizer_is_not_public() -> None:
    reported = what_the_model_sees(
        recorded("Anthropic", "claude-sonnet-4-6", "Hi.", input_tokens=17), 1
    )
    assert reported.how == "count" and not reported.parts
    assert "does not publish the tokenizer of claude-sonnet-4-6" in reported.sentence
    assert "Anthropic counted 17 input tokens" in reported.sentence
    conversation = recorded(
        "Anthropic", "claude-sonnet-4-6", "Hi.", input_tokens=9, tokens_estimated=True
    )
    estimated = what_the_model_sees(conversation, 1)
    assert "chatkit estimates about" in estimated.sentence and "o200k_base" in estimated.sentence
    assert estimated.tokens == count_tokens(
        [Message("system", "Be brief."), Message("user", "Hi.")]
    )
