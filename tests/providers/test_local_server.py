"""A class on one machine: llama.cpp's server with parallel slots behind the OpenAI-compatible
provider, started the way ``python -m chatkit.providers.local.server`` starts it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatkit.messages import Message
from chatkit.providers import ProviderSpec, make_provider
from chatkit.providers.base import GenerationOptions
from chatkit.providers.local.model import default_model_path
from chatkit.providers.local.server import main, running_server, server_command


def test_the_command_asks_for_parallel_slots_and_continuous_batching(tmp_path: Path):
    command = server_command(
        tmp_path / "m.gguf", port=9000, parallel=4, context_per_slot=1024, binary=Path("srv")
    )
    assert command[:3] == ["srv", "--model", str(tmp_path / "m.gguf")]
    joined = " ".join(command)
    assert "--parallel 4" in joined and "--cont-batching" in joined
    assert "--ctx-size 4096" in joined  # every slot gets its own window
    assert "-nr" in command and "--jinja" in command and "--port 9000" in joined
    with pytest.raises(ValueError):
        server_command(tmp_path / "m.gguf", parallel=0, binary=Path("srv"))


def test_a_missing_model_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["--model", str(tmp_path / "missing.gguf")]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.fixture(scope="module")
def class_server() -> Iterator[str]:
    """llama-server with 2 slots serving the bundled model; yields its OpenAI base URL."""
    with running_server(default_model_path(), parallel=2, context_per_slot=1024) as base_url:
        yield base_url


@pytest.mark.local_model
def test_two_students_stream_at_once_through_the_openai_compatible_provider(class_server: str):
    spec = ProviderSpec("OpenAI-compatible", "chat", "bundled", base_url=class_server)
    options = GenerationOptions(max_output_tokens=16, temperature=0.0, seed=1)
    results = {}

    def student(name: str) -> None:
        provider = make_provider(spec)  # each browser session builds its own
        messages = [Message("system", "You are a helpful assistant."), Message("user", name)]
        results[name] = provider.complete(messages, options)

    threads = [threading.Thread(target=student, args=(n,)) for n in ("Hi, I'm Ann.", "Hello!")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert set(results) == {"Hi, I'm Ann.", "Hello!"}
    for result in results.values():
        assert result.text and result.usage is not None and result.usage.output_tokens > 0
