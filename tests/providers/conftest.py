"""Fixtures the local model's tests share."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from chatkit.providers.local import default_model_path


@pytest.fixture
def no_api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """No provider key or endpoint in the environment (as on a new user's machine)."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def gguf_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default GGUF under another name and folder (a hard link when possible, else a
    copy): a "different" model given by path."""
    target = tmp_path_factory.mktemp("models") / "my-chat-model.gguf"
    try:
        os.link(default_model_path(), target)
    except OSError:
        shutil.copyfile(default_model_path(), target)
    return target
