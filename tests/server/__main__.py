"""Run the protocol server standalone: ``python -m tests.server --port 8765``.

Prints the base URL on the first line of stdout, then serves until killed (SIGINT or
SIGTERM). Drive it from another process with the ``/__control__/*`` endpoints.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from tests.server import ProtocolServer


def main(argv: list[str] | None = None) -> int:
    """Start the server, print its URL, block until a signal arrives."""
    parser = argparse.ArgumentParser(prog="python -m tests.server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with ProtocolServer(args.host, args.port) as server:
        print(server.base_url, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
