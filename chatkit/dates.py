"""Times as a person reads them: saved UTC timestamps shown in the browser's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def time_zone(name: str | None) -> tzinfo:
    """The zone called ``name`` (an IANA name such as "Europe/Paris"), or UTC when the name is
    missing or not one this machine knows (the browser may send anything)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


def when_saved(saved_at: str, zone_name: str | None = None, now: datetime | None = None) -> str:
    """A saved time as the list shows it, in the zone called ``zone_name`` (UTC when unknown):
    "today 14:05", "yesterday", "3 Nov", "3 Nov 2025"; "" for a time that cannot be read."""
    try:
        moment = datetime.fromisoformat(saved_at)
    except ValueError:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # chatkit saves its times in UTC
    zone = time_zone(zone_name)
    moment = moment.astimezone(zone)
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    days = (today - moment.date()).days
    if days <= 0:
        return f"today {moment:%H:%M}"
    if days == 1:
        return "yesterday"
    if moment.year == today.year:
        return f"{moment.day} {moment:%b}"
    return f"{moment.day} {moment:%b %Y}"
