"""App settings from the environment and ``st.secrets`` (passed in as a plain mapping).

Every setting is documented in ``.streamlit/secrets.toml.example``. Environment variables win
over secrets, so a container can override a file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
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
    openai_api_key: str | None = None
    anthropic_api_key: str | None = None
    openai_base_url: str | None = None
    anthropic_base_url: str | None = None
    local_model_path: str | None = None

    def provider_setting(self, variable: str | None) -> str | None:
        """A provider's key, endpoint or model as the host configured it, by the name of its
        variable (``OPENAI_API_KEY``, ``ANTHROPIC_BASE_URL``, ...); None when unset."""
        return {
            "OPENAI_API_KEY": self.openai_api_key,
            "ANTHROPIC_API_KEY": self.anthropic_api_key,
            "OPENAI_BASE_URL": self.openai_base_url,
            "ANTHROPIC_BASE_URL": self.anthropic_base_url,
            "CHATKIT_LOCAL_MODEL": self.local_model_path,
        }.get(variable or "")

    def __repr__(self) -> str:  # keys never appear in logs or tracebacks
        return (
            f"AppConfig(hosted={self.hosted}, database_url={'set' if self.database_url else None})"
        )


def load_config(
    environ: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None
) -> AppConfig:
    """Read the settings: ``CHATKIT_*`` and the SDKs' own variables, then secrets."""
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
        openai_api_key=get("OPENAI_API_KEY"),
        anthropic_api_key=get("ANTHROPIC_API_KEY"),
        openai_base_url=get("OPENAI_BASE_URL"),
        anthropic_base_url=get("ANTHROPIC_BASE_URL"),
        local_model_path=get("CHATKIT_LOCAL_MODEL"),
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
