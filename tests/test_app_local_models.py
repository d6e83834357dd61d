"""The sidebar's local model picker under AppTest: a better model in one click, offline-safe.

A catalogue entry served by ``tests.hub`` (the Hub's download protocol on 127.0.0.1) stands
in for the real ones; the file it serves is the bundled GGUF, so the downloaded model chats.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import chatkit.providers.local.defaults as local_defaults
from chatkit.providers.local.catalogue import CATALOGUE, CATALOGUE_BY_KEY, CatalogueModel
from chatkit.providers.local.downloads import download_job
from chatkit.providers.local.model import default_model_path
from tests.apptest_helpers import configure_env, start
from tests.hub import HubServer

REPO = "chatkit-tests/SmolLM2-GGUF"
NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
KEY = "smollm2-135m-test"


@pytest.fixture(scope="module")
def hub() -> Iterator[tuple[HubServer, CatalogueModel]]:
    data = default_model_path().read_bytes()
    server = HubServer().start()
    server.add(REPO, NAME, data)
    model = CatalogueModel(
        key=KEY,
        label="SmolLM2 135M (test copy)",
        repo_id=REPO,
        filename=NAME,
        revision="main",
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        licence="Apache-2.0",
        licence_url="https://example.invalid/licence",
        memory_gb=0.3,
        parameters="135M",
    )
    yield server, model
    server.stop()


@pytest.fixture
def app(monkeypatch, server, tmp_path, hub) -> tuple[HubServer, CatalogueModel]:
    """A keyless app (Local is the provider), the test model in the catalogue, an empty cache."""
    hub_server, model = hub
    hub_server.reset()
    configure_env(
        monkeypatch,
        server,
        tmp_path,
        keyless=True,
        HF_ENDPOINT=hub_server.url,
        CHATKIT_MODELS_DIR=str(tmp_path / "models"),
        HF_HUB_OFFLINE=None,
    )
    monkeypatch.setitem(CATALOGUE_BY_KEY, KEY, model)
    return hub_server, model


def model_choice(at) -> str:
    return at.find("selectbox", "Model", sidebar=True).value


def chosen_model(at) -> str:
    return at.session_state["settings"].spec.model


def test_the_picker_lists_the_bundled_model_and_the_catalogue(app) -> None:
    at = start()
    options = at.find("selectbox", "Model", sidebar=True).options
    assert options[0].startswith("Bundled SmolLM2-135M")
    for model in CATALOGUE:
        assert any(o.startswith(model.label) and model.size_label in o for o in options)
    assert options[-1] == "A GGUF file on this machine…"
    assert model_choice(at) == "" and chosen_model(at) == ""


def test_choosing_a_model_downloads_it_with_progress_and_uses_it(app) -> None:
    _, model = app
    at = start()
    at.choose("Model", KEY)
    sidebar_text = " ".join(at.captions(sidebar=True))
    assert model.licence in sidebar_text and "GB of memory" in sidebar_text
    assert "bundled model answers" in sidebar_text and "Not downloaded yet" in sidebar_text
    assert chosen_model(at) == ""  # not downloaded yet: the bundled model answers
    job = download_job(model)  # choosing it started the download
    assert job is not None
    job.wait(120)
    assert job.error is None
    at.rerun()
    assert chosen_model(at) == KEY  # from now on, the downloaded model
    assert any(c.startswith("Downloaded") for c in at.captions(sidebar=True))
    at.choose("Max output tokens", 8)  # a short reply: the machine may be busy
    at.send("My name is Alice.")
    assert len(at.replies()) == 1
    assert any("SmolLM2-135M-Instruct.Q4_1" in c and "Local" in c for c in at.captions())


def test_offline_says_so_in_one_sentence_and_keeps_the_bundled_model(app, monkeypatch) -> None:
    with socket.socket() as probe:  # nobody listens there: no internet
        probe.bind(("127.0.0.1", 0))
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{probe.getsockname()[1]}")
    hub_server, model = app
    at = start()
    at.choose("Model", KEY)
    job = download_job(model)
    assert job is not None
    job.wait(60)
    at.rerun()
    (warning,) = [a for a in at.alerts() if "cannot be reached" in a]
    assert "bundled model stays in use" in warning and "\n" not in warning
    assert chosen_model(at) == ""
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)  # the connection is back
    at.click("Try again", sidebar=True)
    job = download_job(model)
    assert job is not None
    job.wait(120)
    at.rerun()
    assert chosen_model(at) == KEY


def test_a_hosted_demo_shows_the_hosts_model_and_starts_no_download(app, monkeypatch) -> None:
    monkeypatch.setenv("CHATKIT_HOSTED", "true")
    _, model = app
    at = start()
    assert not at.has("selectbox", "Model", sidebar=True)  # visitors use the host's model
    assert any(c.startswith("Model: bundled SmolLM2") for c in at.captions(sidebar=True))
    assert download_job(model) is None and chosen_model(at) == ""


def test_a_file_on_this_machine(app, tmp_path: Path) -> None:
    at = start()
    at.choose("Model", "file")
    at.choose("GGUF file", str(default_model_path()))
    assert chosen_model(at) == str(default_model_path())


def test_opening_a_conversation_restores_its_local_model(app) -> None:
    at = start()
    at.choose("Model", "file")
    at.choose("GGUF file", str(default_model_path()))
    at.choose("Max output tokens", 8)  # a short reply: the machine may be busy
    at.send("My name is Alice.")
    at.click("New conversation", sidebar=True)
    at.choose("Model", "")
    at.choose("Temperature", 1.0)
    at.click("My name is Alice.", sidebar=True)
    assert model_choice(at) == "file" and chosen_model(at) == str(default_model_path())
    assert generation(at)[:2] == (pytest.approx(local_defaults.TEMPERATURE), 8)


def test_the_host_can_make_a_catalogue_model_the_default(app, monkeypatch) -> None:
    monkeypatch.setenv("CHATKIT_LOCAL_MODEL", KEY)
    at = start()
    assert model_choice(at) == KEY


# -- the local model's own defaults (chosen by bench/recall.py) -------------------------------


def generation(at) -> tuple[float, int, str]:
    return (
        at.find("slider", "Temperature", sidebar=True).value,
        at.find("number_input", "Max output tokens", sidebar=True).value,
        at.find("text_area", "System prompt", sidebar=True).value,
    )


def test_a_keyless_app_starts_from_the_local_models_defaults(app) -> None:
    at = start()
    assert generation(at) == (
        pytest.approx(local_defaults.TEMPERATURE),
        local_defaults.MAX_OUTPUT_TOKENS,
        local_defaults.SYSTEM_PROMPT,
    )


def test_switching_to_local_brings_its_defaults_but_keeps_what_was_changed(
    monkeypatch, server, tmp_path
) -> None:
    configure_env(monkeypatch, server, tmp_path)  # keys configured: OpenAI first
    at = start()
    assert generation(at)[:2] == (pytest.approx(0.7), 512)
    at.choose("Provider", "Local")
    assert generation(at)[:2] == (
        pytest.approx(local_defaults.TEMPERATURE),
        local_defaults.MAX_OUTPUT_TOKENS,
    )
    at.choose("Temperature", 1.3)
    at.choose("Provider", "OpenAI")
    assert generation(at)[0] == pytest.approx(1.3)  # the person's choice stays
