"""The lessons' catalogue and lesson 8's snippets, as the Lessons page reads them."""

from __future__ import annotations

import pytest

from chatkit.lessons import LESSONS, SNIPPETS, lesson, snippet

PICTURES = ("stateless", "history", "chain", "messages", "window", "trimming", "summary", "classes")


def test_eight_lessons_in_the_tutorials_order():
    assert [item.number for item in LESSONS] == list(range(1, 9))
    assert tuple(item.picture for item in LESSONS) == PICTURES
    assert lesson(3).show_me.mode == lesson(3).mode == "responses"
    assert lesson(4).mode == "messages" and lesson(1).show_me.new_conversation_each
    assert len({item.slug for item in LESSONS}) == 8
    for item in LESSONS:
        assert item.idea and item.task and item.hint and item.title


def test_no_lesson_zero():
    with pytest.raises(ValueError, match="no lesson 0"):
        lesson(0)


def test_the_snippets_show_their_own_code_and_some_make_the_mistake():
    assert {s.keeps_context for s in SNIPPETS} == {True, False}
    assert "ConversationManager(" in snippet("manager_per_turn").code
    assert not snippet("manager_kept").code.startswith("def ")
    with pytest.raises(ValueError, match="no snippet 'eval'"):
        snippet("eval")
