"""Context windows: how many tokens each model the app offers can read at once."""

from __future__ import annotations

from chatkit.errors import UnknownContextWindow

# Context windows of the models the app offers. Prefixes, longest first; anything else needs
# a value from the caller. Sources: the providers' model pages.
CONTEXT_WINDOWS: tuple[tuple[str, int], ...] = (
    ("gpt-5", 400_000),
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("chatgpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-4.5", 128_000),
    ("gpt-4-32k", 32_768),
    ("gpt-4-1106", 128_000),
    ("gpt-4-0125", 128_000),
    ("gpt-4", 8_192),
    ("gpt-3.5-turbo-instruct", 4_096),
    ("gpt-3.5-turbo", 16_385),
    ("o1-mini", 128_000),
    ("o1-preview", 128_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4-mini", 200_000),
    ("claude-", 200_000),
)


def context_window_for(model: str, default: int | None = None) -> int:
    """The context window of ``model`` in tokens, or ``default``; unknown with no default raises."""
    for prefix, window in CONTEXT_WINDOWS:
        if model.startswith(prefix):
            return window
    if default is not None:
        return default
    raise UnknownContextWindow(
        f"chatkit does not know the context window of {model!r}: enter it in tokens."
    )


def known_context_window(model: str) -> int | None:
    """The context window of ``model`` if chatkit knows it, else None."""
    try:
        return context_window_for(model)
    except UnknownContextWindow:
        return None
