"""Context windows: how many tokens each model the app offers can read at once.

The windows are data, ``chatkit/data/context_windows.toml``: one table per provider (the
``models_key`` of its endpoint), model name prefixes to tokens.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from chatkit.errors import UnknownContextWindow

WINDOWS_FILE = Path(__file__).with_name("data") / "context_windows.toml"


@cache
def _tables() -> dict[str, dict[str, int]]:
    data = tomllib.loads(WINDOWS_FILE.read_text(encoding="utf-8"))
    return {
        key: {prefix: int(window) for prefix, window in table.items()}
        for key, table in data.items()
    }


@cache
def known_context_window(model: str, models_key: str | None = None) -> int | None:
    """The context window of ``model`` in the table ``models_key`` (None: any table), or None."""
    tables = _tables()
    chosen = [tables.get(models_key, {})] if models_key else list(tables.values())
    matches = [
        (len(prefix), window)
        for table in chosen
        for prefix, window in table.items()
        if model.startswith(prefix)
    ]
    return max(matches)[1] if matches else None


def context_window_for(model: str, default: int | None = None) -> int:
    """The context window of ``model`` in tokens (in any provider's table), or ``default``;
    unknown with no default raises."""
    window = known_context_window(model)
    if window is not None:
        return window
    if default is not None:
        return default
    raise UnknownContextWindow(
        f"chatkit does not know the context window of {model!r}: enter it in tokens."
    )
