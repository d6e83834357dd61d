"""What the teacher's page makes of a roster: where the class is stuck, and the CSV export.

Pure functions over ``chatkit.store.RosterRow``: no database, no Streamlit.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence

from chatkit.store import LessonProgress, RosterRow

# A spreadsheet runs a cell that starts like a formula: a name such as "=HYPERLINK(...)" is
# written with a leading apostrophe so it stays text (OWASP's advice on CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def failing(progress: LessonProgress | None) -> bool:
    """True when a lesson's check has run and has not passed yet."""
    return progress is not None and progress.attempts > 0 and not progress.passed


def stuck(roster: Sequence[RosterRow]) -> tuple[int, int] | None:
    """The lesson whose check fails for the most students, with how many (the earlier
    lesson on a tie); None when no check is failing."""
    counts = Counter(
        lesson for row in roster for lesson, progress in row.progress.items() if failing(progress)
    )
    if not counts:
        return None
    lesson, count = min(counts.items(), key=lambda item: (-item[1], item[0]))
    return lesson, count


def counted(count: int, noun: str) -> str:
    """``count`` and ``noun``, the noun plural unless there is exactly one ("1 student",
    "0 students", "3 lesson checks")."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def roster_summary(roster: Sequence[RosterRow]) -> str:
    """The roster's head line: how many students, and how many lesson checks they passed."""
    passed = sum(1 for row in roster for progress in row.progress.values() if progress.passed)
    return f"{counted(len(roster), 'student')} · {counted(passed, 'lesson check')} passed"


def check_cell(progress: LessonProgress | None) -> str:
    """One lesson's cell of the roster: "passed", "failed: <sentence>" or blank."""
    if progress is None or progress.attempts == 0:
        return ""
    if progress.passed:
        return "passed"
    return f"failed: {progress.sentence}"


def roster_csv(roster: Sequence[RosterRow], lesson_count: int = 8) -> str:
    """The roster as CSV: one row per student (name, joined, current lesson, then each
    lesson's check), in the roster's order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    lessons = range(1, lesson_count + 1)
    writer.writerow(["name", "joined", "current lesson", *(f"lesson {n}" for n in lessons)])
    for row in roster:
        student = row.student
        cells = [check_cell(row.progress.get(n)) for n in lessons]
        writer.writerow([_as_text(student.display_name), student.joined_at, student.lesson, *cells])
    return out.getvalue()


def _as_text(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell
