"""The chat page under AppTest: sending, captions, regenerate/edit/clear, the window, overflow.

Every reply comes from the protocol test server through the real SDKs; the server's replies
depend on the context it really received, so "Your name is Alice." proves turn one was sent.
"""

from __future__ import annotations

import re

import pytest

from chatkit.conversation import Conversation
from tests.apptest_helpers import chat_requests, new_app, start

HELPFUL = "You are a helpful assistant."  # the default system prompt


def test_a_reply_recalls_the_earlier_turn(app) -> None:
    at = start()
    at.send("My name is Alice.")
    at.send("What is my name?")
    assert at.bubbles() == [
        ("user", "My name is Alice."),
        ("assistant", "You said: My name is Alice. (1 messages in context)"),
        ("user", "What is my name?"),
        ("assistant", "Your name is Alice."),
    ]
    second = chat_requests(app)[-1]
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]
    assert second["messages"][0]["content"] == HELPFUL


def test_each_reply_has_a_caption_with_tokens_bytes_and_the_running_total(app) -> None:
    at = start()
    at.send("My name is Alice.")
    at.send("What is my name?")
    # The server bills 3 + sum(4 + words) per turn in, one token per word out.
    first_in = 3 + (4 + 5) + (4 + 4)  # system prompt, "My name is Alice."
    second_in = first_in + (4 + 10) + (4 + 4)  # the first reply, "What is my name?"
    reply_captions = [c for c in at.captions() if "tokens in" in c and "replies" not in c]
    assert len(reply_captions) == 2
    sizes = []
    for caption, tokens_in, tokens_out in zip(
        reply_captions, (first_in, second_in), (10, 4), strict=True
    ):
        assert caption.startswith(f"{tokens_in} tokens in · {tokens_out} out · ")
        size = re.search(r"· (\d+) bytes sent", caption)
        assert size, caption
        sizes.append(int(size.group(1)))
    assert sizes[1] > sizes[0]  # Chat Completions resends the whole history
    total = next(c for c in at.captions() if "replies" in c)
    assert f"2 replies · {first_in + second_in} tokens in · 14 out · ≈$" in total
    assert total.endswith(f" · {sum(sizes)} bytes sent in all")


def test_empty_input_is_ignored(app) -> None:
    at = start()
    at.send("   ")
    at.send("")
    assert at.bubbles() == []
    assert at.alerts() == []
    assert chat_requests(app) == []


def test_regenerate_replaces_the_last_reply(app) -> None:
    at = start()
    at.send("My name is Alice.")
    at.send("What is my name?")
    before = chat_requests(app)[-1]["messages"]
    at.click("Regenerate")
    requests = chat_requests(app)
    assert len(requests) == 3
    assert requests[-1]["messages"] == before  # the same context, without the old reply
    assert at.replies() == [
        "You said: My name is Alice. (1 messages in context)",
        "Your name is Alice.",
    ]


def test_edit_the_last_message_and_resend(app) -> None:
    at = start()
    at.send("My name is Alice.")
    at.send("What is my favorite color?")
    assert at.replies()[-1] == "I don't know your favorite color."
    at.click_key("edit_2")
    box = at.find("text_area", "Edit your message")
    assert box.value == "What is my favorite color?"
    box.set_value("What is my name?")
    at.click("Resend")
    assert at.bubbles()[-2:] == [("user", "What is my name?"), ("assistant", "Your name is Alice.")]
    assert len(at.bubbles()) == 4
    assert "2 / 2" in at.captions()  # the first version is kept
    sent = chat_requests(app)[-1]["messages"]
    assert [m["content"] for m in sent[1:]] == [
        "My name is Alice.",
        "You said: My name is Alice. (1 messages in context)",
        "What is my name?",
    ]


def test_cancel_edit_changes_nothing(app) -> None:
    at = start()
    at.send("My name is Alice.")
    at.click_key("edit_0")
    at.find("text_area", "Edit your message").set_value("something else")
    at.click("Cancel")
    assert not at.has("text_area", "Edit your message")
    assert at.bubbles()[0] == ("user", "My name is Alice.")
    assert len(chat_requests(app)) == 1


def test_clear_forgets_the_turns_but_keeps_the_system_prompt(app) -> None:
    at = start()
    at.find("text_area", "System prompt", sidebar=True).set_value("You are a pirate.")
    at.rerun()
    at.send("My name is Alice.")
    at.click("Clear")
    assert at.bubbles() == []
    assert at.find("text_area", "System prompt", sidebar=True).value == "You are a pirate."
    at.send("What is my name?")
    assert at.replies() == ["I don't know your name."]
    sent = chat_requests(app)[-1]["messages"]
    assert sent == [
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": "What is my name?"},
    ]


def test_a_long_history_shows_a_window_and_earlier_messages_on_request(app) -> None:
    conversation = Conversation(system_prompt=HELPFUL)
    for number in range(50):
        conversation.add_user(f"question {number}")
        conversation.add_assistant(f"answer {number}")
    at = new_app()
    at.session_state["conversation"] = conversation
    at.rerun()
    shown = at.bubbles()
    assert len(shown) == 40
    assert shown[-1] == ("assistant", "answer 49")
    at.click("Show earlier messages (60 hidden)")
    assert len(at.bubbles()) == 80
    at.click("Show all")
    assert len(at.bubbles()) == 100
    assert at.bubbles()[0] == ("user", "question 0")
    at.send("What is my name?")  # a turn still goes out with the whole history
    assert len(chat_requests(app)[-1]["messages"]) == 1 + 100 + 1


def small_window_model(server):
    """The app on gpt-4 (an 8,192-token window), named through the OpenAI-compatible choice.

    (AppTest cannot type a new option into a selectbox, so the OpenAI model list is no use.)
    """
    at = start()
    at.choose("Provider", "OpenAI-compatible")
    at.choose("Base URL", server.openai_base_url)
    at.choose("Model", "gpt-4")
    return at


def test_input_beyond_the_context_window_offers_to_trim_instead_of_an_api_error(app) -> None:
    at = small_window_model(app)
    long_text = "word " * 4000
    at.send("My name is Alice. " + long_text)
    at.send("My favorite color is blue. " + long_text)
    assert len(chat_requests(app)) == 1  # the second turn never reached the API
    [warning] = at.warning
    assert "context window of 8,192" in warning.value
    assert "Trimming" in warning.value
    assert len(at.bubbles()) == 3  # the turn that did not fit is shown as not sent
    assert at.bubbles()[-1][0] == "user"
    trim = next(b for b in at.main.button if b.label.startswith("Trim to"))
    trim.click()
    at.rerun()
    assert at.warning == []
    assert at.find("selectbox", "Trimming", sidebar=True).value == "Token budget"
    sent = chat_requests(app)[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user"]  # the older turn was trimmed
    assert sent[-1]["content"].startswith("My favorite color is blue.")
    assert len(at.bubbles()) == 4


def test_a_single_message_too_large_for_any_trimming_says_so(app) -> None:
    at = small_window_model(app)
    at.send("word " * 9000)
    [warning] = at.warning
    assert "context window" in warning.value
    assert not any(b.label.startswith("Trim to") for b in at.main.button)
    assert chat_requests(app) == []


@pytest.mark.parametrize("style", ["llama.cpp", "vllm", "ollama"])
def test_a_compatible_servers_too_long_in_its_own_words_offers_to_trim(app, style) -> None:
    at = small_window_model(app)
    at.send("My name is Alice.")
    app.fail_next("context_length", style=style, tokens=9000, limit=8192)
    at.send("My favorite color is blue.")
    [warning] = at.warning
    assert "too long for gpt-4's context window" in warning.value
    assert "OpenAI " not in warning.value  # the server is not OpenAI
    trim = next(b for b in at.main.button if b.label.startswith("Trim to"))
    trim.click()
    at.rerun()
    assert at.warning == []
    assert len(at.bubbles()) == 4
    assert chat_requests(app)[-1]["messages"][-1]["content"] == "My favorite color is blue."


def test_a_left_out_message_is_not_sent_and_a_pinned_one_says_so(app) -> None:
    at = start()
    at.send("My name is Alice.")
    at.send("I live in Paris.")
    at.click_key("leave_out_2")  # "I live in Paris."
    at.click_key("pin_0")
    captions = " ".join(c.value for c in at.caption)
    assert "Left out: never sent" in captions and "Kept in context" in captions
    at.send("Where do I live?")
    sent = [m["content"] for m in chat_requests(app)[-1]["messages"]]
    assert "I live in Paris." not in sent and "My name is Alice." in sent
    at.click_key("leave_out_2")  # sent again
    at.send("And now?")
    assert "I live in Paris." in [m["content"] for m in chat_requests(app)[-1]["messages"]]


def test_trimming_draws_the_not_sent_divider_and_left_out_messages_fade(app) -> None:
    at = start()
    for text in ("My name is Alice.", "I live in Paris.", "I keep bees."):
        at.send(text)
    assert not [c for c in at.caption if "Above this line" in c.value]
    at.choose("Trimming", "Last N turns")
    at.find("number_input", "Turns to keep", sidebar=True).set_value(1).run()
    divider = next(c for c in at.caption if c.value.startswith(":material/vertical_align_top:"))
    assert "Above this line: not sent (last turn)" in divider.value
    at.click_key("leave_out_4")
    assert any("Left out: never sent" in c.value for c in at.caption)
    assert any("st-key-left_out_message_" in h.proto.body for h in at.get("html"))
    line = next(c for c in at.caption if c.value.startswith("Next request"))
    assert "1 left out by you" in line.value


def test_where_a_summary_stands_in_the_divider_opens_it(app) -> None:
    at = start()
    for text in ("My name is Alice.", "I live in Paris.", "I keep bees."):
        at.send(text)
    at.choose("Trimming", "Summarize older turns")
    at.find("number_input", "Token budget", sidebar=True).set_value(60).run()
    [summary] = [e for e in at.expander if e.label.startswith("Above this line: a summary")]
    assert "token budget 60" in summary.label
    assert "User: I keep bees." in " ".join(m.value for m in summary.markdown)
