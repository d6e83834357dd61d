"""Downloading a better local model: resumable, checked, cached, offline-safe.

``HF_ENDPOINT`` points the real ``huggingface_hub`` at ``tests.hub``, a local server that
speaks the Hub's download protocol; nothing reaches the internet.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatkit.providers.local import catalogue
from chatkit.providers.local.catalogue import CATALOGUE, CatalogueModel, catalogue_model
from chatkit.providers.local.downloads import (
    DownloadDamaged,
    DownloadFailed,
    DownloadProgress,
    HubUnreachable,
    cached_file,
    download_file,
    download_job,
    download_model_file,
    local_path,
    start_download,
)
from tests.hub import HubServer

REPO = "chatkit-tests/Tiny-GGUF"
NAME = "tiny.Q4_K_M.gguf"
# Not a working model, but a file that starts like one: downloads only look at the bytes.
TINY = b"GGUF" + bytes(range(256)) * 100_000  # about 26 MB
# huggingface_hub writes what arrives in pieces of this size, so a cut connection resumes from
# the last whole piece (a real model is hundreds of them).
PIECE = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def hub() -> Iterator[HubServer]:
    server = HubServer().start()
    server.add(REPO, NAME, TINY)
    yield server
    server.stop()


@pytest.fixture
def models(hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty models folder, and huggingface_hub pointed at the local Hub."""
    hub.reset()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("CHATKIT_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return tmp_path / "models"


def entry(sha256: str | None = None, repo: str = REPO, name: str = NAME) -> CatalogueModel:
    return CatalogueModel(
        key="tiny",
        label="Tiny",
        repo_id=repo,
        filename=name,
        revision="main",
        size_bytes=len(TINY),
        sha256=sha256,
        licence="Apache-2.0",
        licence_url="https://example.invalid/licence",
        memory_gb=0.1,
        parameters="0",
    )


def test_a_model_downloads_once_with_progress_and_is_kept(hub: HubServer, models: Path):
    seen: list[DownloadProgress] = []
    path = download_model_file(entry(hashlib.sha256(TINY).hexdigest()), on_progress=seen.append)
    assert path.read_bytes() == TINY and path.parent.parent == models
    assert seen[0].done == 0 and seen[-1] == DownloadProgress(len(TINY), len(TINY))
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert not list(path.parent.glob("*.part"))
    assert cached_file(entry()) == path
    hub.reset()
    assert download_model_file(entry()) == path
    assert hub.state.requests == []  # a kept file needs no network


def test_a_dropped_connection_resumes_where_it_stopped(hub: HubServer, models: Path):
    hub.cut_after(PIECE + 3_000_000)
    path = download_file(REPO, NAME)
    assert path.read_bytes() == TINY
    assert hub.downloads() == [None, f"bytes={PIECE}-"]


def test_a_download_that_failed_resumes_on_the_next_try(hub: HubServer, models: Path):
    hub.cut_after(2 * PIECE + 1_000, then_down=True)  # the connection drops; the retry fails
    with pytest.raises(HubUnreachable) as failed:
        download_file(REPO, NAME)
    assert "continues where this one stopped" in failed.value.message
    partial = local_path(REPO, NAME).with_name(NAME + ".part")
    assert partial.stat().st_size == 2 * PIECE
    assert cached_file(entry()) is None  # nothing half-done is offered as a model

    hub.set_down(False)
    path = download_file(REPO, NAME)
    assert path.read_bytes() == TINY and not partial.exists()
    assert hub.downloads()[-1] == f"bytes={2 * PIECE}-"


def test_a_corrupt_download_is_refused_and_deleted(hub: HubServer, models: Path):
    hub.set_corrupt()
    with pytest.raises(DownloadDamaged) as damaged:
        download_file(REPO, NAME)
    assert "SHA-256" in damaged.value.message and "bundled model stays" in damaged.value.message
    folder = local_path(REPO, NAME).parent
    assert not [p for p in folder.iterdir() if p.suffix in (".gguf", ".part")]
    hub.set_corrupt(False)
    assert download_file(REPO, NAME).read_bytes() == TINY  # the next try starts afresh


def test_a_file_that_does_not_match_the_catalogue_hash_is_refused(hub: HubServer, models: Path):
    with pytest.raises(DownloadDamaged):
        download_model_file(entry(sha256="0" * 64))
    assert cached_file(entry()) is None


def test_offline_says_so_in_one_sentence(models: Path, monkeypatch: pytest.MonkeyPatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("HF_ENDPOINT", closed)
    with pytest.raises(HubUnreachable) as offline:
        download_file(REPO, NAME)
    message = offline.value.message
    assert "cannot be reached" in message and "bundled model stays in use" in message
    assert message.count(". ") == 0 and "\n" not in message
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubUnreachable, match="Offline mode is on"):
        download_file(REPO, NAME)


def test_a_missing_file_is_named(hub: HubServer, models: Path):
    with pytest.raises(DownloadFailed, match=r"has no file other\.gguf"):
        download_file(REPO, "other.gguf")


def test_a_background_job_reports_progress_and_the_path(hub: HubServer, models: Path):
    model = entry(hashlib.sha256(TINY).hexdigest())
    job = start_download(model)
    assert start_download(model) is job or job.path is not None
    job.wait(60)
    assert job.error is None and job.path is not None and job.path.read_bytes() == TINY
    assert job.progress.done == len(TINY) and job.progress.fraction == 1.0
    assert download_job(model) is job


def test_a_failed_job_keeps_the_sentence_and_a_new_one_resumes(hub: HubServer, models: Path):
    hub.set_down()
    model = entry()
    job = start_download(model)
    job.wait(60)
    assert isinstance(job.error, HubUnreachable) and job.path is None
    hub.set_down(False)
    again = start_download(model)
    assert again is not job
    again.wait(60)
    assert again.path is not None


def test_huggingface_hubs_own_download_works_against_the_local_hub(hub: HubServer, models: Path):
    """The test server speaks the protocol huggingface_hub expects (HEAD metadata, redirect)."""
    from huggingface_hub import hf_hub_download

    path = hf_hub_download(
        REPO, NAME, endpoint=hub.url, cache_dir=models.parent / "hf-cache", token=False
    )
    assert Path(path).read_bytes() == TINY


def test_the_catalogue_lists_chat_models_with_size_licence_and_memory():
    keys = {model.key for model in CATALOGUE}
    assert {"qwen2.5-0.5b-instruct", "qwen2.5-1.5b-instruct", "llama-3.2-1b-instruct"} <= keys
    for model in CATALOGUE:
        assert model.filename.endswith(".gguf") and "Q4_K_M" in model.filename
        assert len(model.revision) == 40 and model.sha256 and len(model.sha256) == 64
        assert model.licence and model.licence_url and model.memory_gb > model.size_bytes / 1e9
        assert model.size_label.endswith(("MB", "GB"))
    assert (
        catalogue_model(" Qwen2.5-0.5B-Instruct ")
        is catalogue.CATALOGUE_BY_KEY["qwen2.5-0.5b-instruct"]
    )
    assert catalogue_model("nothing") is None
    assert os.sep not in "".join(m.key for m in CATALOGUE)
