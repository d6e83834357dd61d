"""Saved times as the list shows them, in the browser's time zone (UTC when it is unknown)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chatkit.dates import time_zone, when_saved

NOW = datetime(2026, 1, 15, 18, 0, tzinfo=UTC)


def test_paris_is_an_hour_ahead_in_winter_and_two_in_summer() -> None:
    assert when_saved("2026-01-15T13:05:00+00:00", "UTC", NOW) == "today 13:05"
    assert when_saved("2026-01-15T13:05:00+00:00", "Europe/Paris", NOW) == "today 14:05"
    summer = datetime(2026, 7, 15, 18, 0, tzinfo=UTC)
    assert when_saved("2026-07-15T13:05:00.123456+00:00", "Europe/Paris", summer) == "today 15:05"


def test_the_day_is_the_day_in_the_browsers_zone() -> None:
    late = "2026-01-14T23:30:00+00:00"  # already the 15th in Paris, still the 14th in New York
    assert when_saved(late, "UTC", NOW) == "yesterday"
    assert when_saved(late, "Europe/Paris", NOW) == "today 00:30"
    assert when_saved(late, "America/New_York", NOW) == "yesterday"
    assert when_saved("2026-01-03T12:00:00+00:00", "Asia/Tokyo", NOW) == "3 Jan"
    assert when_saved("2025-11-03T12:00:00+00:00", "Asia/Tokyo", NOW) == "3 Nov 2025"


@pytest.mark.parametrize("name", [None, "", "Mars/Olympus_Mons", "Europe", "../etc/passwd", "a\0b"])
def test_an_unknown_zone_falls_back_to_utc(name: str | None) -> None:
    assert time_zone(name) == UTC
    assert when_saved("2026-01-15T13:05:00+00:00", name, NOW) == "today 13:05"


def test_a_time_without_a_zone_is_read_as_utc_and_garbage_shows_nothing() -> None:
    assert when_saved("2026-01-15T13:05:00", "Europe/Paris", NOW) == "today 14:05"
    assert when_saved("not a time", "Europe/Paris", NOW) == ""
