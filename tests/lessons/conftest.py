"""One local model for every lesson test that runs the real thing (it is slow to load)."""

from __future__ import annotations

import pytest

from chatkit.providers.local import LocalModel


@pytest.fixture(scope="session")
def local_model() -> LocalModel:
    """The bundled SmolLM2-135M, loaded once (the runtime shares it across providers too)."""
    model = LocalModel()
    model.load()
    return model
