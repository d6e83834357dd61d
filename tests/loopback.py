"""A stdlib HTTP server on 127.0.0.1, served from a daemon thread, and its request handler.

tests/server (the protocol double), tests/hub, tests/peers/recorder.py and the browser tests'
pixel server are built on these: one thread per connection, one request per connection
(``Connection: close``), nothing logged.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` on ``host:port`` (port 0: a free one); ``start`` serves it
    from a daemon thread, ``stop`` shuts it down and closes its socket."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        """``http://HOST:PORT``."""
        return f"http://{self.server_address[0]}:{self.port}"

    def start(self, name: str | None = None) -> LoopbackServer:
        self._thread = threading.Thread(target=self.serve_forever, name=name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 that closes each connection after one request and logs nothing; GET, POST and
    DELETE go to ``serve``."""

    protocol_version = "HTTP/1.1"

    def serve(self) -> None:
        raise NotImplementedError

    def _dispatch(self) -> None:
        self.close_connection = True
        self.serve()

    do_GET = do_POST = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def write_chunk(self, data: bytes) -> None:
        """One chunk of a ``Transfer-Encoding: chunked`` body, flushed at once."""
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def end_chunks(self) -> None:
        """The chunked body's last (empty) chunk."""
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
