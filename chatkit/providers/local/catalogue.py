"""Chat models the app offers to download: GGUF files known to work with llama.cpp.

Each entry pins a Hugging Face repository at a commit, so the file and its SHA-256 never
change under the app; the download is checked against that hash. Sizes are the files'; the
memory need is the file plus llama.cpp's key/value cache for the app's default context
(8,192 tokens) plus working buffers, rounded up.
"""

from __future__ import annotations

from dataclasses import dataclass


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

    def describe(self) -> str:
        """One line for a list: name, download size, memory, licence."""
        return (
            f"{self.label}: {self.size_label} download, needs about {self.memory_gb:g} GB of "
            f"memory, {self.licence}"
        )


CATALOGUE: tuple[CatalogueModel, ...] = (
    CatalogueModel(
        key="qwen2.5-0.5b-instruct",
        label="Qwen2.5 0.5B Instruct (Q4_K_M)",
        repo_id="bartowski/Qwen2.5-0.5B-Instruct-GGUF",
        filename="Qwen2.5-0.5B-Instruct-Q4_K_M.gguf",
        revision="41ba88dbac95fed2528c92514c131d73eb5a174b",
        size_bytes=397_808_192,
        sha256="6eb923e7d26e9cea28811e1a8e852009b21242fb157b26149d3b188f3a8c8653",
        licence="Apache-2.0",
        licence_url="https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct/blob/main/LICENSE",
        memory_gb=0.8,
        parameters="0.5B",
    ),
    CatalogueModel(
        key="llama-3.2-1b-instruct",
        label="Llama 3.2 1B Instruct (Q4_K_M)",
        repo_id="bartowski/Llama-3.2-1B-Instruct-GGUF",
        filename="Llama-3.2-1B-Instruct-Q4_K_M.gguf",
        revision="067b946cf014b7c697f3654f621d577a3e3afd1c",
        size_bytes=807_694_464,
        sha256="6f85a640a97cf2bf5b8e764087b1e83da0fdb51d7c9fab7d0fece9385611df83",
        licence="Llama 3.2 Community License",
        licence_url="https://huggingface.co/meta-llama/Llama-3.2-1B-Instruct/blob/main/LICENSE.txt",
        memory_gb=1.4,
        parameters="1.2B",
    ),
    CatalogueModel(
        key="qwen2.5-1.5b-instruct",
        label="Qwen2.5 1.5B Instruct (Q4_K_M)",
        repo_id="bartowski/Qwen2.5-1.5B-Instruct-GGUF",
        filename="Qwen2.5-1.5B-Instruct-Q4_K_M.gguf",
        revision="9eadc66189c7641e1ddd226b8267a9119b2ce2d4",
        size_bytes=986_048_768,
        sha256="1adf0b11065d8ad2e8123ea110d1ec956dab4ab038eab665614adba04b6c3370",
        licence="Apache-2.0",
        licence_url="https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct/blob/main/LICENSE",
        memory_gb=1.6,
        parameters="1.5B",
    ),
)
CATALOGUE_BY_KEY: dict[str, CatalogueModel] = {model.key: model for model in CATALOGUE}


def catalogue_model(key: str) -> CatalogueModel | None:
    """The entry called ``key`` (case ignored), or None."""
    return CATALOGUE_BY_KEY.get(key.strip().lower())
