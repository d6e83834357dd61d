"""Lessons that teach the tutorial, graded on the request actually sent (Streamlit-free).

The door: the lessons in order (``catalogue``), the captured calls the checks read
(``calls``), one check per lesson (``checks``), and lesson 8's fixed snippets (``snippets``).
"""

from __future__ import annotations

from chatkit.lessons.calls import CapturedCall, request_messages, sent_request
from chatkit.lessons.catalogue import LESSONS, Lesson, ShowMe, lesson
from chatkit.lessons.checks import (
    CheckResult,
    check_lesson,
    passed_earlier,
    strict_alternation_error,
)
from chatkit.lessons.snippets import SNIPPETS, Snippet, run_snippet, snippet

__all__ = [
    "LESSONS",
    "SNIPPETS",
    "CapturedCall",
    "CheckResult",
    "Lesson",
    "ShowMe",
    "Snippet",
    "check_lesson",
    "lesson",
    "passed_earlier",
    "request_messages",
    "run_snippet",
    "sent_request",
    "snippet",
    "strict_alternation_error",
]
