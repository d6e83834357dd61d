"""The teacher's view of a roster: where the class is stuck, and the CSV export."""

from __future__ import annotations

import csv
import io

from chatkit.lessons.roster import counted, roster_csv, roster_summary, stuck
from chatkit.store import LessonProgress, RosterRow, Student

JOINED = "2025-05-01T09:00:00.000000+00:00"


def _row(name: str, lesson: int = 1, **checks: tuple) -> RosterRow:
    """A student; each ``lN=(passed, sentence[, attempts])`` is their check on lesson N."""
    progress = {}
    for key, check in checks.items():
        number = int(key.removeprefix("l"))
        passed, sentence, *attempts = check
        progress[number] = LessonProgress(
            lesson=number,
            passed=passed,
            attempts=attempts[0] if attempts else 1,
            sentence=sentence,
            updated_at=JOINED,
        )
    student = Student(
        id=f"id-{name}",
        class_id="class",
        display_name=name,
        owner=f"browser:{name}",
        joined_at=JOINED,
        lesson=lesson,
    )
    return RosterRow(student=student, progress=progress, last_seen_at=JOINED)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_stuck_is_the_lesson_failing_for_the_most_students() -> None:
    roster = [
        _row("Ann", l1=(True, "Passed."), l2=(False, "It forgot.")),
        _row("Ben", l2=(False, "It forgot."), l3=(False, "No chain.")),
        _row("Cat", l2=(True, "Passed."), l3=(False, "No chain.")),
        _row("Dan", l3=(False, "No chain.")),
    ]
    assert stuck(roster) == (3, 3)


def test_stuck_counts_a_lesson_once_passed_as_not_failing() -> None:
    roster = [
        _row("Ann", l2=(True, "This time it forgot.", 3)),
        _row("Ben", l2=(False, "It forgot.")),
    ]
    assert stuck(roster) == (2, 1)


def test_a_tie_is_the_earlier_lesson() -> None:
    roster = [_row("Ann", l4=(False, "x")), _row("Ben", l2=(False, "y"))]
    assert stuck(roster) == (2, 1)


def test_nobody_failing_is_not_stuck() -> None:
    assert stuck([]) is None
    assert stuck([_row("Ann"), _row("Ben", l1=(True, "Passed."))]) is None
    assert stuck([_row("Cat", l1=(False, "never ran", 0))]) is None


def test_the_csv_has_one_row_per_student_and_one_column_per_lesson() -> None:
    roster = [
        _row("Ann", 3, l1=(True, "Passed."), l2=(False, "The second request held one message.")),
        _row("Ben, Jr.", 1),
    ]
    rows = _rows(roster_csv(roster))
    assert rows[0] == ["name", "joined", "current lesson", *(f"lesson {n}" for n in range(1, 9))]
    assert rows[1] == [
        "Ann",
        JOINED,
        "3",
        "passed",
        "failed: The second request held one message.",
        *[""] * 6,
    ]
    assert rows[2] == ["Ben, Jr.", JOINED, "1", *[""] * 8]
    assert len(rows) == 3


def test_the_csv_takes_the_number_of_lessons() -> None:
    rows = _rows(roster_csv([_row("Ann", l1=(True, "Passed."), l5=(False, "x"))], lesson_count=3))
    assert rows[0][3:] == ["lesson 1", "lesson 2", "lesson 3"]
    assert rows[1][3:] == ["passed", "", ""]
    assert _rows(roster_csv([], lesson_count=2)) == [
        ["name", "joined", "current lesson", "lesson 1", "lesson 2"]
    ]


def test_a_name_a_spreadsheet_would_run_stays_text() -> None:
    rows = _rows(roster_csv([_row('=HYPERLINK("http://x","y")'), _row("@SUM(A1)")]))
    assert [row[0] for row in rows[1:]] == ['\'=HYPERLINK("http://x","y")', "'@SUM(A1)"]


def test_the_roster_counts_read_as_english() -> None:
    assert [counted(n, "student") for n in (0, 1, 2)] == ["0 students", "1 student", "2 students"]
    assert roster_summary([]) == "0 students · 0 lesson checks passed"
    one = [_row("Ann", l1=(True, "Passed."), l2=(False, "It forgot."))]
    assert roster_summary(one) == "1 student · 1 lesson check passed"
    more = [*one, _row("Ben", l1=(True, "Passed."), l2=(True, "Passed."))]
    assert roster_summary(more) == "2 students · 3 lesson checks passed"
