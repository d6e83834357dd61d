"""A recording pass-through in front of a real server: what went over the wire, nothing changed.

Every request is forwarded unchanged to the real server and its answer (JSON or an SSE stream)
is copied back as it arrives; the request is kept for assertions ("the third request carried
the first turn"). It works for the library and for the app in its own process alike, because
the SDKs only see a base URL. A client that stops reading (a stopped stream) closes the
upstream connection too, so the real server sees the disconnect.

One change on the way, like a gateway's output limit: ``reply_cap`` lowers a request's reply
limit (``max_tokens``, ``max_completion_tokens``, ``max_output_tokens``) to at most that many
tokens, because a tiny model asked for 1024 tokens (Anthropic's default, which the tutorial's
classes send) may ramble until its context is full. The record keeps the request as sent.
"""

from __future__ import annotations

import http.client
import json
import threading
from urllib.parse import urlsplit

from tests.loopback import LoopbackServer, QuietHandler
from tests.server import RecordedRequest

# Hop-by-hop headers are the transport's own; the rest travel unchanged.
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
UPSTREAM_TIMEOUT_SECONDS = 300
_REPLY_LIMITS = ("max_tokens", "max_completion_tokens", "max_output_tokens")


class _Server(LoopbackServer):
    recorder: Recorder


class _Handler(QuietHandler):
    server: _Server

    def serve(self) -> None:
        """Forward the request and copy the answer back as it arrives."""
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        raw = self.server.recorder.record(self.command, self.path, headers, raw)
        upstream = http.client.HTTPConnection(
            self.server.recorder.host, self.server.recorder.port, timeout=UPSTREAM_TIMEOUT_SECONDS
        )
        try:
            upstream.request(
                self.command,
                self.path,
                body=raw or None,
                headers={k: v for k, v in headers.items() if k not in _HOP_BY_HOP},
            )
            answer = upstream.getresponse()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            while chunk := answer.read1(65536):
                self.write_chunk(chunk)
            self.end_chunks()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (a stopped stream): closing upstream tells the server
        finally:
            upstream.close()


class Recorder:
    """A recording pass-through on 127.0.0.1 (ephemeral port) to ``target`` (``http://h:p``)."""

    def __init__(self, target: str, *, reply_cap: int | None = None) -> None:
        parts = urlsplit(target)
        self.reply_cap = reply_cap
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._httpd = _Server(_Handler)
        self._httpd.recorder = self

    def start(self) -> Recorder:
        self._httpd.start()
        return self

    def stop(self) -> None:
        self._httpd.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the pass-through (the Anthropic SDK's base URL)."""
        return self._httpd.url

    @property
    def openai_base_url(self) -> str:
        """The OpenAI SDK's base URL (with ``/v1``)."""
        return self.base_url + "/v1"

    def record(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> bytes:
        """Keep the request as sent; return the body to forward (reply limit capped)."""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self._requests.append(RecordedRequest(method, path, headers, body))
        if not isinstance(body, dict) or self.reply_cap is None:
            return raw
        capped = {
            key: min(value, self.reply_cap)
            if key in _REPLY_LIMITS and isinstance(value, int)
            else value
            for key, value in body.items()
        }
        return raw if capped == body else json.dumps(capped).encode()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The recorded requests to exactly ``path`` (``/v1/responses``), oldest first."""
        return [r for r in self.requests if r.path.split("?")[0] == path]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
