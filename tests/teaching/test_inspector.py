"""The request inspector: the exact body of a turn, a rebuilt one, and every API's shape."""

from __future__ import annotations

import pytest

from chatkit.conversation import Conversation
from chatkit.messages import Message
from chatkit.providers import ProviderSpec, make_provider
from chatkit.providers.anthropic import MESSAGES
from chatkit.providers.base import GenerationOptions
from chatkit.providers.calls import request_size
from chatkit.providers.openai_chat import CHAT_COMPLETIONS as CHAT
from chatkit.providers.openai_chat import OpenAIChat
from chatkit.providers.openai_responses import RESPONSES, OpenAIResponses
from chatkit.teaching.inspector import (
    PLACEHOLDER_RESPONSE_ID,
    in_context_marks,
    inspect_turn,
    messages_for_turn,
    options_of,
    same_turn_in_every_shape,
    shape_of,
    turn_choices,
)
from chatkit.trimming import LastNTurns
from chatkit.turn import send

OPTIONS = GenerationOptions(max_output_tokens=256)


def chat_about_alice(provider) -> Conversation:
    conversation = Conversation(system_prompt="Be brief.")
    for text in ("My name is Alice.", "My favorite color is blue.", "What is my name?"):
        conversation, _ = send(conversation, text, provider, options=OPTIONS)
    return conversation


@pytest.fixture
def chat_conversation(server, openai_client) -> Conversation:
    return chat_about_alice(OpenAIChat(model="gpt-4o", client=openai_client))


@pytest.fixture
def responses_conversation(server, openai_client) -> Conversation:
    return chat_about_alice(OpenAIResponses(model="gpt-4o", client=openai_client))


def test_every_answered_turn_can_be_chosen(chat_conversation) -> None:
    choices = turn_choices(chat_conversation)
    assert [c.assistant_index for c in choices] == [1, 3, 5]
    assert [c.label for c in choices] == [
        "Turn 1: My name is Alice.",
        "Turn 2: My favorite color is blue.",
        "Turn 3: What is my name?",
    ]
    assert turn_choices(Conversation()) == []


def test_the_last_turn_shows_the_exact_body_the_server_received(server, chat_conversation):
    inspection = inspect_turn(chat_conversation, 5)
    sent = server.last_request("/chat/completions").body
    assert inspection.request_body == sent
    assert not inspection.rebuilt and inspection.request_label == "exactly as sent"
    assert inspection.request_bytes == request_size(sent)
    assert len(sent["messages"]) == 6
    assert inspection.response_body["choices"][0]["message"]["content"] == "Your name is Alice."
    assert inspection.user_text == "What is my name?"
    assert inspection.reply_text == "Your name is Alice."
    assert inspection.number == 3
    usage = {row["figure"]: row["value"] for row in inspection.usage_rows()}
    assert usage["Input tokens"] == chat_conversation.replies[5].input_tokens > 0
    assert usage["Output tokens"] == 4


def test_an_earlier_turn_shows_its_own_body(server, chat_conversation) -> None:
    inspection = inspect_turn(chat_conversation, 1)
    assert inspection.request_body == server.requests_to("/chat/completions")[0].body
    assert len(inspection.request_body["messages"]) == 2


def test_after_a_reload_the_body_is_rebuilt_identically_and_labelled(server, chat_conversation):
    reloaded = Conversation.from_dict(chat_conversation.to_dict())  # bodies are not saved
    assert reloaded.replies[5].request_body is None
    inspection = inspect_turn(reloaded, 5, options=OPTIONS)
    assert inspection.rebuilt and inspection.request_label == "rebuilt"
    assert any("not kept" in note for note in inspection.notes)
    assert inspection.request_body == server.last_request("/chat/completions").body
    assert inspection.response_body is None
    assert inspection.usage_rows()  # usage is saved, so it survives the reload


def test_a_rebuilt_chained_turn_names_its_previous_response(server, responses_conversation):
    reloaded = Conversation.from_dict(responses_conversation.to_dict())
    inspection = inspect_turn(reloaded, 5, options=OPTIONS)
    assert inspection.shape == RESPONSES
    sent = server.last_request("/responses").body
    assert inspection.request_body == sent
    assert sent["previous_response_id"] == responses_conversation.replies[3].response_id


def test_the_same_turn_in_every_shape_with_sizes(responses_conversation) -> None:
    shapes = {s.shape: s for s in inspect_turn(responses_conversation, 5).shapes}
    assert set(shapes) == {CHAT, RESPONSES, MESSAGES}
    assert shapes[RESPONSES].is_actual and not shapes[CHAT].is_actual
    # Chat Completions: the whole array, the system prompt first.
    assert [m["role"] for m in shapes[CHAT].body["messages"]] == ["system"] + [
        "user",
        "assistant",
    ] * 2 + ["user"]
    # Responses: only the new input, chained on the previous reply.
    assert shapes[RESPONSES].body["input"] == [
        {"type": "message", "role": "user", "content": "What is my name?"}
    ]
    assert shapes[RESPONSES].body["instructions"] == "Be brief."
    assert (
        shapes[RESPONSES].body["previous_response_id"]
        == responses_conversation.replies[3].response_id
    )
    # Anthropic: the system prompt at the top, not in the messages.
    assert shapes[MESSAGES].body["system"] == "Be brief."
    assert [m["role"] for m in shapes[MESSAGES].body["messages"]] == ["user", "assistant"] * 2 + [
        "user"
    ]
    for shaped in shapes.values():
        assert shaped.size == request_size(shaped.body)
    assert shapes[RESPONSES].size < shapes[MESSAGES].size < shapes[CHAT].size


def test_the_first_turn_has_nothing_to_chain_from(chat_conversation) -> None:
    shapes = {s.shape: s for s in same_turn_in_every_shape(chat_conversation, 1, "gpt-4o", OPTIONS)}
    assert "previous_response_id" not in shapes[RESPONSES].body
    assert "first turn" in shapes[RESPONSES].note


def test_a_chat_turn_compared_with_chaining_uses_a_placeholder_id(chat_conversation) -> None:
    shapes = {s.shape: s for s in same_turn_in_every_shape(chat_conversation, 5, "gpt-4o")}
    assert shapes[RESPONSES].body["previous_response_id"] == PLACEHOLDER_RESPONSE_ID
    assert "placeholder" in shapes[RESPONSES].note


def test_a_locally_chained_turn_says_the_model_got_the_whole_history(server, anthropic_client):
    provider = make_provider(
        ProviderSpec("Anthropic", "responses", "claude-sonnet-4-6"), client=anthropic_client
    )
    conversation = chat_about_alice(provider)
    inspection = inspect_turn(conversation, 5)
    assert inspection.shape == RESPONSES
    # "Bytes sent" is what the client sent: the Responses request handed to the local store.
    assert inspection.request_body["previous_response_id"].startswith("resp_local_")
    assert inspection.request_bytes == request_size(inspection.request_body)
    assert inspection.request_bytes == conversation.replies[5].request_bytes
    # What the model then received is shown too, labelled: the whole history.
    assert inspection.received_body == server.last_request("/messages").body
    assert inspection.received_bytes > inspection.request_bytes
    assert any("local response store" in note for note in inspection.notes)
    shapes = {s.shape: s for s in inspection.shapes}
    assert shapes[RESPONSES].body["previous_response_id"].startswith("resp_local_")
    assert shapes[RESPONSES].size == inspection.request_bytes  # one definition everywhere


def test_shape_of_reads_the_provider_and_mode() -> None:
    from chatkit.conversation import ReplyInfo

    assert shape_of(ReplyInfo(provider="OpenAI", mode="chat")) == CHAT
    assert shape_of(ReplyInfo(provider="Anthropic", mode="chat")) == MESSAGES
    assert shape_of(ReplyInfo(provider="Local", mode="responses")) == RESPONSES
    assert shape_of(None, "Anthropic", "chat") == MESSAGES


def test_messages_for_turn_is_what_the_reply_answered(chat_conversation) -> None:
    messages = messages_for_turn(chat_conversation, 3)
    assert messages[0] == Message("system", "Be brief.")
    assert messages[-1] == Message("user", "My favorite color is blue.")
    with pytest.raises(IndexError):
        messages_for_turn(chat_conversation, 99)


def test_the_other_shapes_use_the_options_the_kept_request_carried(server, openai_client):
    provider = OpenAIChat(model="gpt-4o", client=openai_client)
    conversation, _ = send(
        Conversation(system_prompt="Be brief."),
        "My name is Alice.",
        provider,
        options=GenerationOptions(max_output_tokens=99, temperature=0.3),
    )
    inspection = inspect_turn(conversation, 1, options=GenerationOptions(max_output_tokens=5))
    shapes = {s.shape: s for s in inspection.shapes}
    # The Chat Completions shape of the turn is byte for byte what was sent.
    assert shapes[CHAT].body == inspection.request_body == server.last_request().body
    assert shapes[CHAT].size == inspection.request_bytes
    assert shapes[RESPONSES].body["max_output_tokens"] == 99
    assert shapes[MESSAGES].body["max_tokens"] == 99


def test_options_of_reads_every_apis_words() -> None:
    assert options_of({"max_completion_tokens": 7, "temperature": 0.5, "seed": 1}) == (
        GenerationOptions(max_output_tokens=7, temperature=0.5, seed=1)
    )
    assert options_of({"max_output_tokens": 8}).max_output_tokens == 8
    assert options_of({"max_tokens": 9}).max_output_tokens == 9
    assert options_of({}) == GenerationOptions()


def test_with_trimming_every_figure_counts_what_was_really_sent(server, openai_client) -> None:
    """The request size, the body and the bar of the API used agree, trimmed or not."""
    provider = OpenAIChat(model="gpt-4o", client=openai_client)
    conversation = Conversation(system_prompt="Be brief.")
    strategy = LastNTurns(1)
    for text in ("My name is Alice.", "My favorite color is blue.", "What is my name?"):
        conversation, _ = send(conversation, text, provider, strategy, OPTIONS)
    inspection = inspect_turn(conversation, 5)
    sent = server.last_request("/chat/completions").body
    assert inspection.request_body == sent
    assert inspection.request_bytes == request_size(sent)
    used = next(s for s in inspection.shapes if s.is_actual)
    assert used.size == inspection.request_bytes  # the chart marks the same bytes as sent
    assert "Trimming left out 2 earlier messages (turn 1)" in " ".join(inspection.notes)
    assert conversation.replies[5].kept_from == 2


# -- pins and leave-outs ----------------------------------------------------------------------


def test_the_turn_says_which_messages_were_pinned_and_which_left_out(server, openai_client):
    """Turn 1 pinned, turn 2's question left out, the last turn trimmed to one turn: the
    caption names them, from what was saved with the reply."""
    provider = OpenAIChat(model="gpt-4o", client=openai_client)
    conversation = Conversation(system_prompt="Be brief.")
    conversation, _ = send(conversation, "My name is Alice.", provider, options=OPTIONS)
    conversation, _ = send(conversation, "My favorite color is blue.", provider, options=OPTIONS)
    conversation = conversation.with_in_context(0, "pinned").with_in_context(2, "left_out")
    for text in ("Hello there.", "What is my name?"):
        conversation, _ = send(conversation, text, provider, LastNTurns(1), OPTIONS)
    sent = [m["content"] for m in server.last_request("/chat/completions").body["messages"]]
    assert "My name is Alice." in sent and "My favorite color is blue." not in sent
    marks = in_context_marks(conversation, 7)
    assert marks.pinned == (0,) and marks.left_out == (2,)
    assert marks.caption == (
        "Pinned: message 1 (“My name is Alice.”) · "
        "Left out: message 3 (“My favorite color is blue.”) (not in this request)"
    )
    inspection = inspect_turn(conversation, 7)
    assert inspection.in_context == marks
    assert [m.content for m in messages_for_turn(conversation, 7)] == sent
    # Turn 2 came before the choices: its request held both, and the caption says so.
    earlier = in_context_marks(conversation, 3)
    assert earlier.pinned == (0,) and earlier.left_out == () and earlier.left_out_since == (2,)
    assert "Left out since this turn: message 3" in earlier.caption
    assert "still in this request" in earlier.caption


def test_a_message_pinned_after_trimming_dropped_it_is_not_claimed_sent(server, openai_client):
    provider = OpenAIChat(model="gpt-4o", client=openai_client)
    conversation = Conversation()
    for text in ("My name is Alice.", "Hello.", "What is my name?"):
        conversation, _ = send(conversation, text, provider, LastNTurns(1), OPTIONS)
    conversation = conversation.with_in_context(0, "pinned")
    marks = in_context_marks(conversation, 5)
    assert marks.pinned == () and marks.pinned_since == (0,)
    assert marks.caption.startswith("Pinned since this turn: message 1")
    assert in_context_marks(chat_about_alice(provider), 5).caption == ""
