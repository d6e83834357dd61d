"""Downloading a GGUF file from the Hugging Face Hub: resumable, checked, cached.

``download_file`` asks the Hub (``huggingface_hub``: ``HF_ENDPOINT`` is read on every call)
for the file's size and hash, then streams it into ``<file>.part`` in the models folder
(``CHATKIT_MODELS_DIR``, default ``~/.cache/chatkit/models``). A connection that drops is
resumed by ``huggingface_hub`` with a ``Range`` request; a download that failed altogether
(or a process that stopped) resumes from the ``.part`` file next time. The finished file is
checked (size, SHA-256, GGUF magic) before it takes its final name, so a file in the folder
is always whole; a damaged one is deleted and refused. ``DownloadJob`` runs a download in a
background thread, once per file per process, for a page to follow.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from chatkit.errors import ChatkitError, ModelLoadError
from chatkit.providers.local.catalogue import CatalogueModel

GGUF_MAGIC = b"GGUF"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# What huggingface_hub raises when the Hub cannot be talked to: httpx2's transport and status
# errors (HfHubHTTPError is one), and OSError (offline mode, a size that does not add up).
_TRANSPORT_ERRORS = (httpx2.HTTPError, OSError)


class DownloadFailed(ModelLoadError):
    """A model file could not be downloaded; nothing half-done is used."""


class HubUnreachable(DownloadFailed):
    """Hugging Face cannot be reached (offline, or ``HF_HUB_OFFLINE`` is set)."""


class DownloadDamaged(DownloadFailed):
    """The downloaded bytes are not the file the Hub lists (size or SHA-256 differ)."""


@dataclass(frozen=True)
class DownloadProgress:
    """Bytes on disk so far, of ``total`` (None until the Hub said how many)."""

    done: int
    total: int | None

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    def sentence(self) -> str:
        if not self.total:
            return f"{self.done / 1e6:,.0f} MB downloaded"
        return f"{self.done / 1e6:,.0f} of {self.total / 1e6:,.0f} MB ({self.fraction:.0%})"


OnProgress = Callable[[DownloadProgress], None]


def models_dir() -> Path:
    """Where downloaded models are kept: ``CHATKIT_MODELS_DIR``, else the user's cache."""
    configured = os.environ.get("CHATKIT_MODELS_DIR")
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "chatkit" / "models"


def local_path(repo_id: str, filename: str, directory: Path | None = None) -> Path:
    """Where ``filename`` from ``repo_id`` is (or will be) kept."""
    return (directory or models_dir()) / repo_id.replace("/", "--") / Path(filename).name


def cached_file(model: CatalogueModel, directory: Path | None = None) -> Path | None:
    """The model's file if it was downloaded and checked already, else None."""
    path = local_path(model.repo_id, model.filename, directory)
    return path if path.is_file() else None


def download_model_file(
    model: CatalogueModel, *, directory: Path | None = None, on_progress: OnProgress | None = None
) -> Path:
    """A catalogue model's file: from the models folder, else downloaded and checked."""
    return download_file(
        model.repo_id,
        model.filename,
        revision=model.revision,
        sha256=model.sha256,
        directory=directory,
        on_progress=on_progress,
    )


def download_file(
    repo_id: str,
    filename: str,
    *,
    revision: str = "main",
    sha256: str | None = None,
    directory: Path | None = None,
    on_progress: OnProgress | None = None,
) -> Path:
    """``filename`` from the Hub repository ``repo_id``: kept once downloaded, checked first.

    ``sha256`` is the hash the file must have (default: the one the Hub lists for it). Raises
    ``HubUnreachable`` offline, ``DownloadDamaged`` for bytes that fail the check (they are
    deleted, so the next try starts afresh), ``DownloadFailed`` for anything else.
    """
    target = local_path(repo_id, filename, directory)
    if target.is_file():
        return target
    try:
        import huggingface_hub  # noqa: F401 - only to say plainly when it is missing
    except ImportError as exc:
        raise DownloadFailed(
            f"Downloading {filename} from {repo_id} needs the package huggingface_hub, which is "
            f"not installed: run pip install huggingface_hub, or give the path of a GGUF file."
        ) from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(target):
        if target.is_file():  # another process finished it meanwhile
            return target
        size, etag, location = _metadata(repo_id, filename, revision)
        expected = (sha256 or (etag if _SHA256.match(etag or "") else "") or "").lower()
        partial = _resume_point(target, etag, size)
        _fetch(location, partial, size, filename, on_progress)
        _check(partial, filename, size, expected)
        os.replace(partial, target)
        _sidecar(target).unlink(missing_ok=True)
    return target


def _metadata(repo_id: str, filename: str, revision: str) -> tuple[int | None, str | None, str]:
    """Size, ETag and download address of the file, as the Hub lists them."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    _refuse_if_offline(filename)
    endpoint = os.environ.get("HF_ENDPOINT") or None
    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)
    try:
        metadata = get_hf_file_metadata(url, token=False, endpoint=endpoint)
    except (RepositoryNotFoundError, EntryNotFoundError) as exc:
        raise DownloadFailed(
            f"Hugging Face has no file {filename} in {repo_id} at {revision[:12]}: check the "
            f"repository, the file name and the revision."
        ) from exc
    except _TRANSPORT_ERRORS as exc:
        raise _unreachable(filename, exc) from exc
    return metadata.size, metadata.etag, metadata.location


def _fetch(
    location: str,
    partial: Path,
    size: int | None,
    filename: str,
    on_progress: OnProgress | None,
) -> None:
    """Stream the file into ``partial``, after the bytes already there."""
    from huggingface_hub.file_download import http_get

    resume = partial.stat().st_size if partial.exists() else 0
    if on_progress is not None:
        on_progress(DownloadProgress(resume, size))
    with partial.open("r+b" if resume else "wb") as file:
        file.seek(resume)
        try:
            http_get(
                location,
                file,
                resume_size=resume,
                expected_size=size,
                displayed_filename=filename,
                tqdm_class=_progress_bar(on_progress),  # type: ignore[arg-type]
            )
        except _TRANSPORT_ERRORS as exc:  # the .part file stays for the next try
            raise _unreachable(filename, exc) from exc


def _check(partial: Path, filename: str, size: int | None, sha256: str) -> None:
    """Refuse (and delete) a file whose size, hash or first bytes are not the expected ones."""
    problem = ""
    actual_size = partial.stat().st_size
    if size is not None and actual_size != size:
        problem = f"it has {actual_size:,} bytes instead of {size:,}"
    elif sha256 and _sha256_of(partial) != sha256:
        problem = "its SHA-256 checksum does not match"
    else:
        with partial.open("rb") as file:
            if file.read(len(GGUF_MAGIC)) != GGUF_MAGIC:
                problem = "it is not a GGUF model file"
    if problem:
        partial.unlink(missing_ok=True)
        _sidecar(partial.with_suffix("")).unlink(missing_ok=True)
        raise DownloadDamaged(
            f"The download of {filename} was damaged ({problem}), so it was deleted: try "
            f"again, and the bundled model stays in use meanwhile."
        )


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _sidecar(target: Path) -> Path:
    """Where the ETag of a partial download is kept, to resume only the same file."""
    return target.with_name(target.name + ".part.json")


def _resume_point(target: Path, etag: str | None, size: int | None) -> Path:
    """The ``.part`` file to continue: kept if it belongs to the same file, else emptied."""
    partial = target.with_name(target.name + ".part")
    sidecar = _sidecar(target)
    recorded: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        recorded = json.loads(sidecar.read_text())
    same = recorded.get("etag") == etag and recorded.get("size") == size
    if not same or (size is not None and partial.exists() and partial.stat().st_size > size):
        partial.unlink(missing_ok=True)
    sidecar.write_text(json.dumps({"etag": etag, "size": size}))
    return partial


@contextlib.contextmanager
def _file_lock(target: Path) -> Any:
    """One download of ``target`` at a time, across processes too."""
    from huggingface_hub.utils import WeakFileLock

    with WeakFileLock(target.with_name(target.name + ".lock")):
        yield


def _refuse_if_offline(filename: str) -> None:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise HubUnreachable(
            f"Offline mode is on (HF_HUB_OFFLINE), so {filename} cannot be downloaded: the "
            f"bundled model stays in use."
        )


def _unreachable(filename: str, exc: BaseException) -> DownloadFailed:
    """The sentence for a download that could not talk to the Hub."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status < 500:
            return DownloadFailed(
                f"Hugging Face refused the download of {filename} (HTTP {status}): the bundled "
                f"model stays in use."
            )
    if isinstance(exc, OfflineModeIsEnabled):
        exc_text = "offline mode is on"
    else:
        exc_text = "no internet connection, or Hugging Face is down"
    return HubUnreachable(
        f"Hugging Face cannot be reached ({exc_text}), so {filename} cannot be downloaded now: "
        f"the bundled model stays in use, and a later try continues where this one stopped."
    )


def _progress_bar(on_progress: OnProgress | None) -> type:
    """A tqdm class for ``huggingface_hub`` that reports to ``on_progress`` and prints nothing."""
    from tqdm import tqdm

    class Progress(tqdm):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self.n = kwargs.get("initial", 0)
            self.total = kwargs.get("total")

        def update(self, n: float | None = 1) -> bool | None:
            self.n += n or 0
            if on_progress is not None:
                on_progress(DownloadProgress(int(self.n), self.total))
            return None

    return Progress


class DownloadJob:
    """One download running in a background thread, for pages to follow (``progress``)."""

    def __init__(self, model: CatalogueModel, directory: Path | None = None) -> None:
        self.model = model
        self.progress = DownloadProgress(0, model.size_bytes)
        self.path: Path | None = None
        self.error: ChatkitError | None = None
        self.started = time.monotonic()
        self._thread = threading.Thread(
            target=self._run, args=(directory,), name=f"download {model.key}", daemon=True
        )
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _report(self, progress: DownloadProgress) -> None:
        self.progress = progress

    def _run(self, directory: Path | None) -> None:
        try:
            self.path = download_model_file(
                self.model, directory=directory, on_progress=self._report
            )
        except ChatkitError as error:
            self.error = error
        except Exception as exc:  # a thread must say why it stopped, or nobody hears it
            self.error = DownloadFailed(
                f"Downloading {self.model.filename} failed ({type(exc).__name__}): try again."
            )
            self.error.__cause__ = exc


_jobs: dict[tuple[str, Path], DownloadJob] = {}
_jobs_lock = threading.Lock()


def start_download(model: CatalogueModel, directory: Path | None = None) -> DownloadJob:
    """The download of ``model``: the one already running, else a new one (after a failure,
    a new one resumes where the last stopped)."""
    key = (model.key, directory or models_dir())
    with _jobs_lock:
        job = _jobs.get(key)
        finished = job is not None and job.path is not None and job.path.is_file()
        if job is None or (not job.running and not finished):
            job = _jobs[key] = DownloadJob(model, directory)
        return job


def download_job(model: CatalogueModel, directory: Path | None = None) -> DownloadJob | None:
    """The download of ``model`` started in this process, if any."""
    with _jobs_lock:
        return _jobs.get((model.key, directory or models_dir()))
