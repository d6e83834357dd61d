"""App settings from the environment and ``st.secrets`` (passed in as a plain mapping).

Every setting is documented in ``.streamlit/secrets.toml.example``. Environment variables win
over secrets, so a container can override a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in TRUE_WORDS


@dataclass(frozen=True)
class AppConfig:
    """How this app instance runs: local (default) or a hosted public demo."""

    hosted: bool = False
    database_url: str | None = None
    hosted_turn_limit: int = 20
    hosted_token_limit: int = 50_000
    # The providers' keys, endpoints and models as the host set them, by variable name.
    provider_settings: Mapping[str, str] = field(default_factory=dict, repr=False)

    def provider_setting(self, variable: str | None) -> str | None:
        """A provider's key, endpoint or model as the host configured it, by the name of its
        variable (``OPENAI_API_KEY``, ``ANTHROPIC_BASE_URL``, ...); None when unset."""
        return self.provider_settings.get(variable or "")

    def __repr__(self) -> str:  # keys never appear in logs or tracebacks
        return (
            f"AppConfig(hosted={self.hosted}, database_url={'set' if self.database_url else None})"
        )


def load_config(
    environ: Mapping[str, str] | None = None,
    secrets: Mapping[str, Any] | None = None,
    *,
    provider_variables: Iterable[str] = (),
) -> AppConfig:
    """Read the settings: ``CHATKIT_*`` and the ``provider_variables`` the providers name (their
    keys, endpoints and models), from the environment, then secrets."""
    environ = os.environ if environ is None else environ
    secrets = secrets or {}

    def get(name: str) -> Any:
        value = environ.get(name)
        return value if value not in (None, "") else secrets.get(name)

    def get_int(name: str, default: int) -> int:
        value = get(name)
        try:
            return int(value) if value is not None else default
        except (TypeError, ValueError):
            return default

    return AppConfig(
        hosted=_flag(get("CHATKIT_HOSTED") or False),
        database_url=get("CHATKIT_DATABASE_URL"),
        hosted_turn_limit=get_int("CHATKIT_HOSTED_TURN_LIMIT", 20),
        hosted_token_limit=get_int("CHATKIT_HOSTED_TOKEN_LIMIT", 50_000),
        provider_settings={
            name: str(value)
            for name in provider_variables
            if (value := get(name)) not in (None, "")
        },
    )


@dataclass
class HostedAllowance:
    """A visitor's use of the host's key in a hosted demo: turns and tokens so far."""

    turns: int = 0
    tokens: int = 0

    def refusal(self, config: AppConfig) -> str | None:
        """The sentence to show when the limit is reached, else None."""
        if self.turns >= config.hosted_turn_limit:
            return (
                f"This demo allows {config.hosted_turn_limit} turns per visitor on the host's key: "
                f"paste your own API key in the sidebar to go on."
            )
        if self.tokens >= config.hosted_token_limit:
            return (
                f"This demo allows {config.hosted_token_limit:,} tokens per visitor on the host's "
                f"key: paste your own API key in the sidebar to go on."
            )
        return None

    def record(self, tokens: int) -> None:
        self.turns += 1
        self.tokens += tokens
