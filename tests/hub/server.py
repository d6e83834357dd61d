"""The Hub's file download protocol on 127.0.0.1, as ``huggingface_hub`` speaks it.

Two stdlib HTTP servers: the "Hub" answers ``HEAD``/``GET /{repo_id}/resolve/{revision}/{file}``
like huggingface.co does for a Git LFS file (``302`` to a storage host, with ``X-Repo-Commit``,
``X-Linked-Etag`` = the file's SHA-256 and ``X-Linked-Size``), and the "CDN", on another port
(another origin, so ``huggingface_hub`` reads the metadata from the redirect and does not
follow it), serves the bytes with ``Range`` support (``206`` + ``Content-Range``).

Failures a download must survive or refuse can be injected: ``cut_after`` closes the next
download connections after some bytes (the body is short of its ``Content-Length``), ``down``
answers ``503`` to downloads, ``corrupt`` serves bytes that do not match the listed hash.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from urllib.parse import unquote

from tests.loopback import LoopbackServer, QuietHandler

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<file>.+)$")
_BLOB = re.compile(r"^/blobs/(?P<sha>[0-9a-f]{64})$")
_RANGE = re.compile(r"^bytes=(?P<start>\d+)-(?P<end>\d*)$")


@dataclass(frozen=True)
class HubFile:
    """One file in a repository: its bytes, and the commit it was uploaded in."""

    data: bytes
    commit: str = COMMIT

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class _State:
    files: dict[tuple[str, str], HubFile] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)
    down_after_cuts: bool = False
    down: bool = False
    corrupt: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Server(LoopbackServer):
    hub: HubServer


class _Handler(QuietHandler):
    server: _Server

    do_HEAD = QuietHandler.do_GET  # the same answer, without the body

    def serve(self) -> None:
        body = self.command != "HEAD"
        hub = self.server.hub
        path = unquote(self.path.split("?", 1)[0])
        with hub.state.lock:
            hub.state.requests.append((self.command, path, self.headers.get("Range")))
        if (match := _RESOLVE.match(path)) is not None:
            self._resolve(hub, match["repo"], match["revision"], match["file"])
        elif (match := _BLOB.match(path)) is not None and body:
            self._blob(hub, match["sha"])
        else:
            self._empty(404, {"X-Error-Code": "EntryNotFound"})

    def _resolve(self, hub: HubServer, repo: str, revision: str, name: str) -> None:
        file = hub.state.files.get((repo, name))
        if file is None:
            code = "EntryNotFound" if any(r == repo for r, _ in hub.state.files) else "RepoNotFound"
            self._empty(404, {"X-Error-Code": code})
            return
        if revision not in ("main", file.commit):
            self._empty(404, {"X-Error-Code": "RevisionNotFound"})
            return
        self._empty(
            302,
            {
                "Location": f"{hub.cdn_url}/blobs/{file.sha256}",
                "X-Repo-Commit": file.commit,
                "ETag": f'"{hashlib.sha1(file.data).hexdigest()}"',
                "X-Linked-Etag": f'"{file.sha256}"',
                "X-Linked-Size": str(len(file.data)),
            },
        )

    def _blob(self, hub: HubServer, sha: str) -> None:
        file = next((f for f in hub.state.files.values() if f.sha256 == sha), None)
        if file is None:
            self._empty(404, {})
            return
        with hub.state.lock:
            if hub.state.down:
                self._empty(503, {})
                return
            cut = hub.state.cuts.pop(0) if hub.state.cuts else None
            if cut is not None and not hub.state.cuts and hub.state.down_after_cuts:
                hub.state.down = True
            data = file.data
            if hub.state.corrupt:
                damaged = bytearray(data)
                damaged[100::4096] = bytes(b ^ 0xFF for b in damaged[100::4096])
                data = bytes(damaged)
        start, status, headers = 0, 200, {"Accept-Ranges": "bytes"}
        wanted = _RANGE.match(self.headers.get("Range") or "")
        if wanted is not None:
            start = int(wanted["start"])
            end = int(wanted["end"]) if wanted["end"] else len(data) - 1
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            data, status = data[start : end + 1], 206
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(data if cut is None else data[:cut])
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _empty(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()


class HubServer:
    """The Hub and its storage host on 127.0.0.1; ``url`` is what ``HF_ENDPOINT`` takes."""

    def __init__(self) -> None:
        self.state = _State()
        self._servers = [_Server(_Handler) for _ in range(2)]
        for server in self._servers:
            server.hub = self

    @property
    def url(self) -> str:
        return self._servers[0].url

    @property
    def cdn_url(self) -> str:
        return self._servers[1].url

    def start(self) -> HubServer:
        for server in self._servers:
            server.start()
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.stop()

    def add(self, repo_id: str, filename: str, data: bytes, commit: str = COMMIT) -> HubFile:
        """Publish ``data`` as ``filename`` in ``repo_id``."""
        file = HubFile(data, commit)
        self.state.files[(repo_id, filename)] = file
        return file

    def reset(self) -> None:
        """Forget requests and injected failures (the files stay)."""
        with self.state.lock:
            self.state.requests.clear()
            self.state.cuts.clear()
            self.state.down = self.state.corrupt = self.state.down_after_cuts = False

    def cut_after(self, *byte_counts: int, then_down: bool = False) -> None:
        """Cut the next downloads (one per count) after that many bytes of their body;
        ``then_down``: after the last cut, answer 503 (an outage while the client retries)."""
        with self.state.lock:
            self.state.cuts.extend(byte_counts)
            self.state.down_after_cuts = then_down

    def set_down(self, down: bool = True) -> None:
        """Answer 503 to downloads (the metadata still answers)."""
        with self.state.lock:
            self.state.down = down

    def set_corrupt(self, corrupt: bool = True) -> None:
        """Serve bytes that differ from the file the Hub lists (same length)."""
        with self.state.lock:
            self.state.corrupt = corrupt

    def downloads(self) -> list[str | None]:
        """The ``Range`` header of each byte download so far (None: from the start)."""
        with self.state.lock:
            return [rng for method, path, rng in self.state.requests if path.startswith("/blobs/")]
