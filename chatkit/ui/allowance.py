"""The hosted demo's allowance: how much a visitor may spend of the host's key."""

from __future__ import annotations

from chatkit.ui import state


def _spends_host_key() -> bool:
    return state.config().hosted and state.uses_host_key(state.settings().spec.kind)


def refusal() -> str | None:
    """In a hosted demo on the host's key: the sentence refusing more calls, if the limit is hit."""
    if _spends_host_key():
        return state.session().allowance.refusal(state.config())
    return None


def record_use(tokens: int) -> None:
    """Count a call against the hosted demo's allowance (only when it spends the host's key)."""
    if _spends_host_key():
        state.session().allowance.record(tokens)
