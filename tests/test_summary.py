"""recent_summary and clip: the last turns as lines, cut only when they are too long."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chatkit.conversation import Conversation
from chatkit.messages import Message, clip
from chatkit.summary import recent_summary


def _chat(turns: int, system_prompt: str = "You are a friendly tutor.") -> Conversation:
    conversation = Conversation(system_prompt=system_prompt)
    for turn in range(1, turns + 1):
        conversation.add_user(f"Question {turn}")
        conversation.add_assistant(f"Answer {turn}")
    return conversation


def test_recent_summary_lists_the_last_three_turns_by_default() -> None:
    assert recent_summary(_chat(5)) == (
        "User: Question 3\nAssistant: Answer 3\n"
        "User: Question 4\nAssistant: Answer 4\n"
        "User: Question 5\nAssistant: Answer 5"
    )


def test_short_messages_get_no_ellipsis() -> None:
    """The tutorial appended "..." to every line, even to "Hi"."""
    conversation = Conversation()
    conversation.add_user("Hi")
    conversation.add_assistant("Hello!")
    assert recent_summary(conversation) == "User: Hi\nAssistant: Hello!"
    assert "..." not in recent_summary(conversation)


def test_long_messages_are_cut_to_100_characters_with_an_ellipsis() -> None:
    conversation = Conversation()
    conversation.add_user("x" * 250)
    conversation.add_assistant("y" * 100)  # exactly 100: not cut
    user_line, assistant_line = recent_summary(conversation).split("\n")
    assert user_line == "User: " + "x" * 99 + "…"
    assert assistant_line == "Assistant: " + "y" * 100


def test_the_number_of_turns_can_be_chosen() -> None:
    assert recent_summary(_chat(5), turns=1) == "User: Question 5\nAssistant: Answer 5"
    assert recent_summary(_chat(2), turns=10).count("\n") == 3  # all of the two turns
    assert recent_summary(_chat(5), turns=0) == ""


def test_a_turn_still_waiting_for_its_reply_is_included() -> None:
    conversation = _chat(2)
    conversation.add_user("Still there?")
    assert recent_summary(conversation, turns=2) == (
        "User: Question 2\nAssistant: Answer 2\nUser: Still there?"
    )


def test_the_system_prompt_is_not_part_of_the_summary() -> None:
    conversation = _chat(1, system_prompt="SECRET INSTRUCTIONS")
    assert "SECRET" not in recent_summary(conversation)


def test_a_greeting_before_the_first_question_is_shown_as_the_assistant() -> None:
    conversation = Conversation(messages=[Message("assistant", "Hi! How can I help?")])
    conversation.add_user("Tell me a joke")
    assert recent_summary(conversation) == "Assistant: Hi! How can I help?\nUser: Tell me a joke"


def test_an_empty_conversation_has_an_empty_summary() -> None:
    assert recent_summary(Conversation()) == ""


def test_multi_line_messages_become_one_line_each() -> None:
    conversation = Conversation()
    conversation.add_user("first line\nsecond   line\n\n")
    assert recent_summary(conversation) == "User: first line second line"


def test_clip_examples() -> None:
    assert clip("short") == "short"
    assert clip("a" * 100) == "a" * 100
    assert clip("a" * 101) == "a" * 99 + "…"
    assert clip("word " * 30, limit=12) == "word word w…"
    assert clip("  spaced\tout\n") == "spaced out"


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)


@settings(max_examples=200, deadline=None)
@given(text=_text, limit=st.integers(1, 150))
def test_clip_cuts_only_what_is_too_long(text: str, limit: int) -> None:
    line = " ".join(text.split())
    clipped = clip(text, limit)
    assert len(clipped) <= limit
    assert "\n" not in clipped
    if len(line) <= limit:
        assert clipped == line
    else:
        assert clipped.endswith("…")
        assert line.startswith(clipped[:-1])


@settings(max_examples=100, deadline=None)
@given(
    texts=st.lists(st.text(min_size=1, max_size=200).filter(str.strip), max_size=12),
    turns=st.integers(0, 8),
)
def test_recent_summary_has_one_short_line_per_message_of_the_last_turns(
    texts: list[str], turns: int
) -> None:
    conversation = Conversation()
    for position, text in enumerate(texts):
        if position % 2 == 0:
            conversation.add_user(text)
        else:
            conversation.add_assistant(text)
    summary = recent_summary(conversation, turns=turns)
    lines = summary.split("\n") if summary else []
    last_turns = conversation.turns[-turns:] if turns else []
    expected = [m for t in last_turns for m in (t.user, t.assistant) if m is not None]
    assert len(lines) == len(expected)
    for line, message in zip(lines, expected, strict=True):
        prefix = "User: " if message.role == "user" else "Assistant: "
        assert line == prefix + clip(message.content)
        assert len(line) <= len(prefix) + 100
