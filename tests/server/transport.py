"""HTTP transport: reads requests, writes JSON replies and SSE streams, applies stream failures.

Every response closes its connection (``Connection: close``). SSE bodies use chunked
encoding, so a cut stream is an incomplete body that the client notices, exactly like a
dropped connection; ``graceful`` cuts end the body cleanly instead.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from tests.loopback import LoopbackServer, QuietHandler
from tests.server.base import Failure, JsonReply, StreamReply

if TYPE_CHECKING:
    from tests.server.core import ProtocolServer


class HTTPServer(LoopbackServer):
    """One thread per connection; ``protocol`` is the ProtocolServer that answers."""

    protocol: ProtocolServer


class Handler(QuietHandler):
    """Reads a request, asks the ProtocolServer for a reply, writes it to the socket."""

    server: HTTPServer

    def serve(self) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        raw_body = self.rfile.read(int(headers.get("content-length") or 0))
        reply, failure = self.server.protocol.handle(self.command, self.path, headers, raw_body)
        try:
            if isinstance(reply, JsonReply):
                self._send_json(reply)
            elif isinstance(reply, StreamReply):
                self._send_stream(reply, failure)
        except (BrokenPipeError, ConnectionResetError):
            if isinstance(reply, StreamReply) and reply.on_aborted:
                reply.on_aborted()

    def _send_json(self, reply: JsonReply) -> None:
        data = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_stream(self, reply: StreamReply, failure: Failure | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        outcome = self._write_events(reply, failure)
        graceful = failure is not None and str(failure.params.get("graceful", "")).lower() in (
            "1",
            "true",
        )
        if outcome != "cut" or graceful:
            self.end_chunks()
        self.wfile.flush()
        if outcome != "complete" and reply.on_aborted:
            reply.on_aborted()

    def _write_events(self, reply: StreamReply, failure: Failure | None) -> str:
        """Write the events, applying a streaming failure; returns complete/errored/cut."""
        kind = failure.kind if failure else None
        params = failure.params if failure else {}
        after_chunks = int(params.get("after_chunks", 0))
        text_indexes = [i for i, event in enumerate(reply.events) if event.text_chunk]
        last_text = text_indexes[-1] if text_indexes else -1
        sent = 0
        for index, event in enumerate(reply.events):
            if (
                kind == "cut_stream"
                and sent >= after_chunks
                and (event.text_chunk or index > last_text)
            ):
                return "cut"
            if event.text_chunk and sent and self.server.protocol.chunk_delay:
                time.sleep(self.server.protocol.chunk_delay)
            self.write_chunk(event.encode())
            if event.text_chunk:
                sent += 1
                if kind == "stream_error" and sent == 1:
                    for error_event in reply.error_events(params):
                        self.write_chunk(error_event.encode())
                    return "errored"
        return "complete"
