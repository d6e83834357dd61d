"""The llama.cpp runtime behind ``LocalModel``: one loaded model per file, shared and locked.

A GGUF file is checked (its magic bytes, whether it fits in memory) before llama.cpp sees it,
then loaded once per process and shared by every session. llama.cpp contexts are not
thread-safe, so each generation holds the model from the first token to the last, after
waiting for its go in the model's fair ``queue`` (``chatkit.providers.local.queue``): a second
session waits, and can see its place in line, instead of crashing the process.
Prompts are rendered with the GGUF's own chat template through the binding's
``Jinja2ChatFormatter``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
import llama_cpp
import llama_cpp.llama_cpp as llama_c
from llama_cpp._internals import LlamaModel
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from chatkit.errors import InvalidRequest, ModelLoadError
from chatkit.providers.local.queue import ModelQueue

GGUF_MAGIC = b"GGUF"
CONTEXT_CAP = 8192  # default n_ctx: the model's trained context, at most this many tokens
Progress = Callable[[str], None]


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """One llama.cpp model in memory, its chat template, and the queue every generation
    waits in (one reply at a time, first come, first served)."""

    path: Path
    llama: llama_cpp.Llama
    chat_template: str
    load_seconds: float
    queue: ModelQueue = field(default_factory=lambda: ModelQueue("the local model"))
    _pieces: dict[int, bytes] = field(default_factory=dict)

    @property
    def n_ctx(self) -> int:
        return self.llama.n_ctx()

    @cached_property
    def _formatters(self) -> dict[bool, Jinja2ChatFormatter]:
        """The binding's formatter for the GGUF's template, with and without the reply prompt."""
        vocab = self.llama._model
        return {
            flag: Jinja2ChatFormatter(
                template=self.chat_template,
                eos_token=vocab.token_get_text(self.llama.token_eos()),
                bos_token=vocab.token_get_text(self.llama.token_bos()),
                add_generation_prompt=flag,
            )
            for flag in (True, False)
        }

    def render(
        self, messages: Sequence[Mapping[str, str]], *, generation_prompt: bool = True
    ) -> str:
        """The prompt text the chat template makes of ``messages``."""
        try:
            return self._formatters[generation_prompt](messages=list(messages)).prompt
        except (ValueError, jinja2.TemplateError) as exc:
            raise InvalidRequest(
                f"The chat template of {self.path.name} refused this conversation: {exc}"
            ) from exc

    @cached_property
    def stop(self) -> tuple[str, ...]:
        """Stop strings, as the binding's formatter gives them (the end-of-sequence text)."""
        eos_text = self._formatters[True].eos_token
        return (eos_text,) if eos_text else ()

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        """Token ids of ``text``; ``special`` parses control tokens such as ``<|im_start|>``."""
        return self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=special)

    def piece(self, token: int) -> bytes:
        """The bytes one token stands for (control tokens give none), cached per token."""
        cached = self._pieces.get(token)
        if cached is None:
            cached = _token_piece(self.llama._model.vocab, token)
            self._pieces[token] = cached
        return cached

    def shown_piece(self, token: int) -> bytes:
        """The bytes one token stands for, a control token as its text (``<|im_start|>``)."""
        piece = self.piece(token)
        if piece or not self.is_control(token):
            return piece
        return _token_piece(self.llama._model.vocab, token, special=True)

    def is_control(self, token: int) -> bool:
        """True for control tokens: the template's markers, end of sequence and the like."""
        return bool(llama_c.llama_vocab_is_control(self.llama._model.vocab, token))

    def ends_generation(self, token: int) -> bool:
        """True for end-of-generation tokens (end of sequence, end of turn, ...)."""
        return bool(llama_c.llama_vocab_is_eog(self.llama._model.vocab, token))


def _token_piece(vocab: Any, token: int, *, special: bool = False) -> bytes:
    size = 64
    buffer = ctypes.create_string_buffer(size)
    length = llama_c.llama_token_to_piece(vocab, token, buffer, size, 0, special)
    if length < 0:  # the piece is longer than the buffer: llama.cpp says how long
        size = -length
        buffer = ctypes.create_string_buffer(size)
        length = llama_c.llama_token_to_piece(vocab, token, buffer, size, 0, special)
    return buffer.raw[:length]


_loaded: dict[tuple[str, int | None, int | None], LoadedModel] = {}
_load_lock = threading.Lock()


def shared_model(
    path: Path,
    *,
    n_ctx: int | None = None,
    n_threads: int | None = None,
    on_progress: Progress | None = None,
) -> LoadedModel:
    """The process-wide instance of the model at ``path``, loaded on first use.

    Sessions asking while another loads it wait for that load instead of starting their own.
    A failed load is not remembered: the next call tries again.
    """
    key = (str(path.resolve()), n_ctx, n_threads)
    model = _loaded.get(key)
    if model is not None:
        return model
    with _load_lock:
        model = _loaded.get(key)
        if model is None:
            model = load_model(path, n_ctx=n_ctx, n_threads=n_threads, on_progress=on_progress)
            _loaded[key] = model
    return model


def load_model(
    path: Path,
    *,
    n_ctx: int | None = None,
    n_threads: int | None = None,
    on_progress: Progress | None = None,
) -> LoadedModel:
    """Check and load one GGUF file (not shared; ``shared_model`` is what providers use)."""
    report = on_progress or (lambda _message: None)
    check_gguf(path)
    report(f"Loading {path.name} ({path.stat().st_size / 1e6:,.0f} MB)…")
    started = time.perf_counter()
    metadata, n_ctx_train = read_metadata(path)
    n_ctx = n_ctx or min(n_ctx_train or CONTEXT_CAP, CONTEXT_CAP)
    check_memory(path, metadata, n_ctx)
    chat_template = metadata.get("tokenizer.chat_template")
    if not chat_template:
        raise ModelLoadError(
            f"{path.name} has no chat template, so it cannot chat: choose an instruction-tuned "
            f"(chat) GGUF model."
        )
    threads = n_threads or default_threads()
    try:
        with _plain_cpu_weights():
            llama = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
    except ValueError as exc:
        raise ModelLoadError(
            f"llama.cpp could not load {path.name} with a {n_ctx:,}-token context: the file may "
            f"be damaged, or the model may not fit in memory."
        ) from exc
    seconds = time.perf_counter() - started
    model = LoadedModel(path, llama, chat_template, seconds, queue=ModelQueue(path.name))
    report(f"Loaded {path.name} in {model.load_seconds:.1f} s ({model.n_ctx:,}-token context).")
    return model


def default_threads() -> int:
    """Every CPU this process may use (llama-cpp-python's default is half of them)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def check_gguf(path: Path) -> None:
    """Raise ``ModelLoadError`` unless ``path`` is a readable file starting with ``GGUF``."""
    try:
        with path.open("rb") as file:
            magic = file.read(len(GGUF_MAGIC))
    except FileNotFoundError as exc:
        raise ModelLoadError(f"The model file {path} does not exist.") from exc
    except IsADirectoryError as exc:
        raise ModelLoadError(f"{path} is a folder, not a GGUF model file.") from exc
    except OSError as exc:
        raise ModelLoadError(f"The model file {path} cannot be read ({exc.strerror}).") from exc
    if magic != GGUF_MAGIC:
        raise ModelLoadError(
            f"{path.name} is not a GGUF model file (GGUF files start with the bytes 'GGUF')."
        )


def read_metadata(path: Path) -> tuple[dict[str, str], int]:
    """The GGUF's metadata and trained context length, read by llama.cpp without the weights."""
    params = llama_c.llama_model_default_params()
    params.vocab_only = True
    try:
        probe = LlamaModel(path_model=str(path), params=params, verbose=False)
    except ValueError as exc:
        raise ModelLoadError(
            f"{path.name} is damaged or incomplete: llama.cpp could not read it."
        ) from exc
    try:
        return probe.metadata(), probe.n_ctx_train()
    finally:
        probe.close()


def check_memory(path: Path, metadata: Mapping[str, str], n_ctx: int) -> None:
    """Refuse a model whose weights and context cache need more memory than is free.

    Without this, llama.cpp may allocate the cache lazily and the system would kill the whole
    process later, mid-reply.
    """
    available = available_memory()
    if available is None:
        return
    needed = path.stat().st_size + kv_cache_bytes(metadata, n_ctx)
    if needed > available:
        raise ModelLoadError(
            f"{path.name} with a {n_ctx:,}-token context needs about {needed / 1e9:,.1f} GB of "
            f"memory but only {available / 1e9:,.1f} GB is free: choose a smaller model or a "
            f"smaller context window."
        )


def kv_cache_bytes(metadata: Mapping[str, str], n_ctx: int) -> int:
    """Bytes of llama.cpp's f16 key/value cache for ``n_ctx`` tokens (0 if unknown)."""

    def number(key: str, default: int = 0) -> int:
        try:
            return int(metadata.get(f"{metadata.get('general.architecture', '')}.{key}", default))
        except ValueError:  # per-layer arrays come back as text
            return default

    heads = number("attention.head_count")
    head_size = number("embedding_length") // heads if heads else 0
    key_size = number("attention.key_length", head_size)
    value_size = number("attention.value_length", key_size)
    kv_heads = number("attention.head_count_kv", heads)
    return n_ctx * number("block_count") * kv_heads * (key_size + value_size) * 2


def available_memory() -> int | None:
    """Bytes of memory this process can still use: free RAM, within a cgroup limit if any."""
    available: int | None = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    if available is None and hasattr(os, "sysconf"):
        with contextlib.suppress(ValueError, OSError):
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    with contextlib.suppress(OSError, ValueError):
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            room = int(limit) - used
            available = room if available is None else min(available, room)
    return available


@contextlib.contextmanager
def _plain_cpu_weights() -> Iterator[None]:
    """Load weights without llama.cpp's "extra" CPU buffer types (AMX, repacking).

    Some virtual machines advertise Intel AMX but fault on its first instruction, which kills
    the process (a general protection fault in ggml's AMX matmul). ``Llama`` exposes no
    parameter for ``use_extra_bufts``, so the defaults it reads are patched while this thread
    loads (under ``_load_lock``); other threads still get llama.cpp's own defaults.
    """
    original = llama_c.llama_model_default_params
    loader = threading.get_ident()

    def defaults() -> Any:
        params = original()
        if threading.get_ident() == loader:
            params.use_extra_bufts = False
        return params

    llama_c.llama_model_default_params = defaults
    try:
        yield
    finally:
        llama_c.llama_model_default_params = original
