"""The rules of joining a class: what a class code, a display name and a class's end are.

Pure functions, apart from drawing a random code: ``chatkit.store.classes`` applies them.
"""

from __future__ import annotations

import secrets
import unicodedata
from datetime import UTC, datetime

from chatkit.errors import ChatkitError
from chatkit.store.engine import utc_now

# No 0/O, 1/I/L: a code read off the board is typed right the first time.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6
MAX_NAME_CHARS = 40
# Characters that would let a name break a line or reorder the text around it on the roster.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


class ClassJoinError(ChatkitError):
    """A student could not join a class: the sentence says why and what to do."""


def class_code() -> str:
    """A new random class code: six characters that cannot be misread."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normal_code(text: str) -> str:
    """A code as typed ("abc 23k", "ABC-23K") as it is stored ("ABC23K")."""
    return "".join(ch for ch in text.upper() if not ch.isspace() and ch != "-")


def name_key(display_name: str) -> str:
    """What makes two display names the same name: case, width and spacing aside."""
    return " ".join(unicodedata.normalize("NFKC", display_name).casefold().split())


def valid_name(display_name: str) -> str:
    """The display name as kept (stripped), or ClassJoinError saying what is wrong with it."""
    name = unicodedata.normalize("NFC", display_name).strip()
    if not name:
        raise ClassJoinError("Type a display name to join the class.")
    if len(name) > MAX_NAME_CHARS:
        raise ClassJoinError(
            f"That display name is {len(name)} characters long; use at most {MAX_NAME_CHARS}."
        )
    if any(_is_control(ch) for ch in name):
        raise ClassJoinError(
            "A display name cannot hold line breaks or other control characters; type it again."
        )
    return name


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI_CONTROLS


def utc_time(value: str | datetime) -> str:
    """A time as the store writes it (``utc_now``'s form); a naive time is taken as UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ChatkitError(
                f"The class end {value!r} is not a date and time; "
                f"use a form like 2025-06-30T15:00:00+00:00."
            ) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def has_ended(ends_at: str | None, now: str | None = None) -> bool:
    """True once a class's end time (``None``: it never ends) has passed."""
    if ends_at is None:
        return False
    return utc_time(ends_at) <= (now or utc_now())
