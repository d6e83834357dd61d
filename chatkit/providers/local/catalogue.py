"""Chat models the app offers to download: GGUF files known to work with llama.cpp.

The list is data, ``chatkit/data/local_models.toml``: each entry pins a Hugging Face
repository at a commit, so the file and its SHA-256 never change under the app; the download
is checked against that hash.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CatalogueModel:
    """One downloadable chat model: where it lives, what it weighs, under which licence."""

    key: str  # what the app calls it (the sidebar's choice, ``CHATKIT_LOCAL_MODEL``)
    label: str
    repo_id: str
    filename: str
    revision: str  # a commit: the file at that commit is the one hashed below
    size_bytes: int
    sha256: str | None
    licence: str
    licence_url: str
    memory_gb: float
    parameters: str

    @property
    def size_label(self) -> str:
        """The download size in words (MB below a gigabyte)."""
        if self.size_bytes < 1e9:
            return f"{self.size_bytes / 1e6:,.0f} MB"
        return f"{self.size_bytes / 1e9:,.2f} GB"


CATALOGUE_FILE = Path(__file__).parents[2] / "data" / "local_models.toml"


def _catalogue() -> tuple[CatalogueModel, ...]:
    entries = tomllib.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
    return tuple(CatalogueModel(key=key, **entry) for key, entry in entries.items())


CATALOGUE: tuple[CatalogueModel, ...] = _catalogue()
CATALOGUE_BY_KEY: dict[str, CatalogueModel] = {model.key: model for model in CATALOGUE}


def catalogue_model(key: str) -> CatalogueModel | None:
    """The entry called ``key`` (case ignored), or None."""
    return CATALOGUE_BY_KEY.get(key.strip().lower())
