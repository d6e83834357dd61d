"""``python -m chatkit.classroom``: start a class on this machine and print the link for the board.

llama-server (the bundled model, parallel slots, on 127.0.0.1 only) comes up first; then the
class is created and the app starts on every interface in class mode. Ctrl-C stops both.
``--check`` starts everything, waits until the address students open answers, and stops again
(exit 0): how the tests run it.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from types import FrameType

from chatkit.classroom import (
    APP_FILE,
    DEFAULT_ADDRESS,
    DEFAULT_PORT,
    DEFAULT_TITLE,
    Board,
    app_command,
    app_environment,
    board_address,
    board_text,
    bundled_model,
    create_class,
    model_alias,
    qr_code,
    stop_process,
    teacher_password,
)
from chatkit.errors import ChatkitError
from chatkit.providers.local.server import (
    DEFAULT_CONTEXT_PER_SLOT,
    DEFAULT_PARALLEL,
    free_port,
    resolve_model,
    server_command,
)
from chatkit.store import default_database_url

LLAMA_START_SECONDS = 120  # loading the weights, on a busy machine
APP_START_SECONDS = 90


class ClassStopped(Exception):
    """Ctrl-C, or the terminal or a supervisor asked the class to stop."""


def _stop_signal(signum: int, frame: FrameType | None) -> None:
    raise ClassStopped


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _wait_for(url: str, process: subprocess.Popen[bytes], seconds: float, what: str) -> None:
    """Wait until ``url`` answers 200; ``ChatkitError`` (one sentence) if ``process`` exits or
    the time runs out."""
    deadline = time.monotonic() + seconds
    while not _healthy(url):
        if process.poll() is not None:
            raise ChatkitError(f"{what} stopped while starting (exit code {process.returncode}).")
        if time.monotonic() > deadline:
            raise ChatkitError(f"{what} did not answer at {url} within {seconds:.0f} s.")
        time.sleep(0.25)


def _start(command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A child in its own session (Ctrl-C reaches this command, which stops it in order)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=APP_FILE.parent,
            start_new_session=True,
        )


def _tail(log: Path, characters: int = 2000) -> str:
    return log.read_text(errors="replace")[-characters:] if log.exists() else ""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m chatkit.classroom", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--address", default=DEFAULT_ADDRESS, help="where the app listens")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="the app's port")
    parser.add_argument("--model", help="a GGUF path or a catalogue key (default: bundled)")
    parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, help="server slots")
    parser.add_argument("--context-per-slot", type=int, default=DEFAULT_CONTEXT_PER_SLOT)
    parser.add_argument("--threads", type=int, default=None, help="llama-server's threads")
    parser.add_argument("--title", default=f"{DEFAULT_TITLE}, {date.today():%d %b %Y}")
    parser.add_argument(
        "--teacher-password",
        default=os.environ.get("CHATKIT_TEACHER_PASSWORD") or None,
        help="default: CHATKIT_TEACHER_PASSWORD, else a new random one, printed once",
    )
    parser.add_argument(
        "--check", action="store_true", help="start, check the app answers, stop (exit 0)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a class until Ctrl-C (or, with ``--check``, until it answers); the exit code."""
    args = parse_args(argv)
    # Ctrl-C (also where a shell started this in the background, which ignores it), the
    # terminal closing, or a supervisor: each stops the app and the server in order.
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _stop_signal)
    logs = Path(tempfile.mkdtemp(prefix="chatkit-class-"))
    llama: subprocess.Popen[bytes] | None = None
    app: subprocess.Popen[bytes] | None = None
    try:
        model = resolve_model(args.model) if args.model else bundled_model()
        alias = model_alias(args.model)
        llama_port = free_port()
        command = server_command(
            model,
            port=llama_port,
            parallel=args.parallel,
            context_per_slot=args.context_per_slot,
            threads=args.threads,
            alias=alias,
        )
        print(f"Starting llama-server ({alias}, {args.parallel} parallel slots)...", flush=True)
        llama = _start(command, logs / "llama-server.log")
        llama_url = f"http://127.0.0.1:{llama_port}"
        _wait_for(f"{llama_url}/health", llama, LLAMA_START_SECONDS, "llama-server")

        database_url = default_database_url()
        code = create_class(database_url, args.title)
        password = teacher_password(args.teacher_password)
        board = Board(board_address(args.address), args.port, code)
        env = app_environment(
            os.environ,
            llama_url=llama_url,
            model=alias,
            password=password,
            database_url=database_url,
            public_url=board.url,
        )
        print("Starting the app...", flush=True)
        app = _start(app_command(args.address, args.port), logs / "streamlit.log", env)
        _wait_for(f"{board.url}/_stcore/health", app, APP_START_SECONDS, "The app")
        qr = qr_code(board.join_link) if board.join_link else None
        shown_password = None if args.teacher_password else password
        print("\n" + board_text(board, password=shown_password, qr=qr) + "\n", flush=True)
        if args.check:
            print(f"Check passed: {board.url} answers. Stopping.", flush=True)
            return 0
        print(f"Logs: {logs}. Ctrl-C ends the class.", flush=True)
        while llama.poll() is None and app.poll() is None:
            time.sleep(0.5)
        stopped, log = (
            ("llama-server", "llama-server.log")
            if llama.poll() is not None
            else ("The app", "streamlit.log")
        )
        print(f"{stopped} stopped unexpectedly; its log ends:\n{_tail(logs / log)}")
        return 1
    except ClassStopped:
        print("\nThe class has ended: the app and llama-server are stopped.", flush=True)
        return 0
    except ChatkitError as error:
        for name in ("llama-server.log", "streamlit.log"):
            if tail := _tail(logs / name):
                print(f"--- {name} ends:\n{tail}", file=sys.stderr)
        print(error.message, file=sys.stderr)
        return 1
    finally:
        stop_process(app)
        stop_process(llama)


if __name__ == "__main__":
    raise SystemExit(main())
