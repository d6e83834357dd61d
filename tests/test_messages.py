"""Message and normalize_messages: one frozen message type, and merging that never mutates."""

from __future__ import annotations

import copy
import dataclasses
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatkit.errors import ChatkitError, InvalidDocument
from chatkit.messages import ROLES, Message, as_messages, normalize_messages

# -- Message ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["system", "developer", "user", "assistant"])
def test_each_role_chatkit_knows_makes_a_message(role: str) -> None:
    message = Message(role, "hello")  # type: ignore[arg-type]
    assert (message.role, message.content, message.name) == (role, "hello", None)
    assert message.is_instruction == (role in ("system", "developer"))


def test_roles_are_exactly_the_four_the_apis_share() -> None:
    assert set(ROLES) == {"system", "developer", "user", "assistant"}


def test_a_message_cannot_be_changed_after_it_is_made() -> None:
    message = Message("user", "My name is Alice")
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.content = "My name is Bob"  # type: ignore[misc]
    assert message.content == "My name is Alice"


@pytest.mark.parametrize("role", ["tool", "bot", "User", "", None])
def test_an_unknown_role_is_refused_with_a_sentence_naming_it(role: object) -> None:
    with pytest.raises(InvalidDocument) as caught:
        Message(role, "hi")  # type: ignore[arg-type]
    assert repr(role) in str(caught.value)
    assert "user" in str(caught.value)  # it says which roles exist
    assert isinstance(caught.value, ChatkitError)


def test_content_must_be_text() -> None:
    with pytest.raises(InvalidDocument, match="must be text"):
        Message("user", 42)  # type: ignore[arg-type]


def test_to_dict_is_the_plain_api_shape() -> None:
    assert Message("user", "hi").to_dict() == {"role": "user", "content": "hi"}
    assert Message("system", "x", name="example_user").to_dict() == {
        "role": "system",
        "content": "x",
        "name": "example_user",
    }


def test_from_dict_reads_the_api_shape_back() -> None:
    data = {"role": "assistant", "content": "Nice to meet you, Alice!", "name": "bot"}
    assert Message.from_dict(data) == Message("assistant", "Nice to meet you, Alice!", "bot")
    assert Message.from_dict(Message("user", "hi").to_dict()) == Message("user", "hi")


def test_from_dict_flattens_text_parts_into_one_text() -> None:
    data = {"role": "user", "content": [{"type": "text", "text": "Hello, "}, {"text": "world"}]}
    assert Message.from_dict(data).content == "Hello, world"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ("user: hi", "must be an object"),
        (["user", "hi"], "must be an object"),
        ({"content": "hi"}, "missing its role"),
        ({"role": "user"}, "missing its role or its content"),
        ({"role": "user", "content": 7}, "content must be text"),
        ({"role": "user", "content": {"text": "hi"}}, "content must be text"),
        (
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
            "Only text message parts",
        ),
        ({"role": "user", "content": ["hi"]}, "Only text message parts"),
        ({"role": "user", "content": "hi", "name": 3}, "name must be text"),
        ({"role": "function", "content": "hi"}, "'function'"),
    ],
)
def test_from_dict_refuses_what_it_cannot_read_and_says_why(data: object, says: str) -> None:
    with pytest.raises(InvalidDocument, match=says):
        Message.from_dict(data)  # type: ignore[arg-type]


def test_as_messages_accepts_dicts_and_messages_alike() -> None:
    mixed = [{"role": "user", "content": "a"}, Message("assistant", "b")]
    assert as_messages(mixed) == [Message("user", "a"), Message("assistant", "b")]


# -- normalize_messages: examples ---------------------------------------------------------------


def test_consecutive_user_messages_are_merged_with_a_newline() -> None:
    messages = [
        {"role": "user", "content": "Hello"},
        {"role": "user", "content": "Are you there?"},
    ]
    assert normalize_messages(messages) == [{"role": "user", "content": "Hello\nAre you there?"}]


def test_consecutive_assistant_messages_are_merged_too() -> None:
    messages = [Message("user", "Hi"), Message("assistant", "Hello!"), Message("assistant", "Hi?")]
    assert normalize_messages(messages) == [
        Message("user", "Hi"),
        Message("assistant", "Hello!\nHi?"),
    ]


def test_normalize_never_edits_the_callers_messages() -> None:
    """The tutorial's version appended to the caller's first dict in place."""
    first = {"role": "user", "content": "Hello"}
    messages = [first, {"role": "user", "content": "Are you there?"}]
    normalize_messages(messages)
    assert first == {"role": "user", "content": "Hello"}
    assert len(messages) == 2


def test_normalize_returns_new_dicts_not_the_callers_own() -> None:
    first = {"role": "user", "content": "Hello"}
    result = normalize_messages([first])
    result[0]["content"] = "changed"
    assert first["content"] == "Hello"


def test_system_messages_stay_where_they_are_and_are_not_merged() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hi"},
        {"role": "developer", "content": "Use tu, not vous."},
        {"role": "developer", "content": "No emoji."},
        {"role": "user", "content": "Ça va?"},
    ]
    assert normalize_messages(messages) == messages


def test_a_system_message_between_two_user_messages_keeps_them_apart() -> None:
    messages = [
        Message("user", "a"),
        Message("system", "note"),
        Message("user", "b"),
    ]
    assert normalize_messages(messages) == messages


def test_messages_from_differently_named_speakers_are_not_merged() -> None:
    messages = [Message("user", "I'm Alice", name="alice"), Message("user", "I'm Bob", name="bob")]
    assert normalize_messages(messages) == messages


def test_normalize_gives_back_the_kind_it_was_given() -> None:
    dicts = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    messages = as_messages(dicts)
    assert all(isinstance(m, dict) for m in normalize_messages(dicts))
    assert all(isinstance(m, Message) for m in normalize_messages(messages))


def test_normalize_of_nothing_is_nothing() -> None:
    assert normalize_messages([]) == []


# -- normalize_messages: properties ----------------------------------------------------------

_texts = st.text(max_size=30)
_names = st.sampled_from([None, "alice", "bob"])


@st.composite
def _message_like(draw: st.DrawFn) -> object:
    role = draw(st.sampled_from(ROLES))
    content = draw(_texts)
    name = draw(_names)
    kind = draw(st.sampled_from(["message", "dict", "parts"]))
    if kind == "message":
        return Message(role, content, name)
    data: dict[str, object] = {"role": role, "content": content}
    if kind == "parts":
        data["content"] = [{"type": "text", "text": content}]
    if name is not None:
        data["name"] = name
    return data


# Long runs of the same role, so that merging happens often.
_message_lists = st.lists(_message_like(), max_size=12)
_quick = settings(max_examples=150, deadline=None)


def _plain(messages: list) -> list[tuple[str, str, str | None]]:
    return [(m.role, m.content, m.name) for m in as_messages(messages)]


@_quick
@given(_message_lists)
def test_normalize_never_mutates_its_input(messages: list) -> None:
    before = copy.deepcopy(messages)
    normalize_messages(messages)
    assert messages == before


@_quick
@given(_message_lists)
def test_normalize_is_idempotent(messages: list) -> None:
    once = normalize_messages(messages)
    assert normalize_messages(once) == once


@_quick
@given(_message_lists)
def test_normalize_leaves_no_mergeable_neighbours(messages: list) -> None:
    result = as_messages(normalize_messages(messages))
    for previous, current in itertools.pairwise(result):
        assert not (
            previous.role == current.role
            and previous.role in ("user", "assistant")
            and previous.name == current.name
        )


@_quick
@given(_message_lists)
def test_normalize_loses_no_text_and_keeps_instructions_in_place(messages: list) -> None:
    before = _plain(messages)
    after = _plain(normalize_messages(messages))
    # Merging joins with a newline, so the whole text read in order is unchanged.
    assert "\n".join(c for _, c, _ in after) == "\n".join(c for _, c, _ in before)
    # System and developer messages are untouched, and in the same order.
    assert [m for m in after if m[0] in ("system", "developer")] == [
        m for m in before if m[0] in ("system", "developer")
    ]
    assert len(after) <= len(before)
