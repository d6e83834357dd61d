"""Debian's nginx in front of app processes, configured by the README's own nginx block.

The block under "Several processes behind nginx" is read from README.md and started with only
its ports changed, so the documented configuration is the one the tests run. ``serving``
tells which app process a page behind it is on, from the connections nginx holds open.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.processes import RunningApp, free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]
NGINX = "/usr/sbin/nginx"
_BLOCK = re.compile(r"```nginx\n(.*?)```", re.DOTALL)
_UPSTREAM_SERVERS = re.compile(r"(?m)(?:^\s*server 127\.0\.0\.1:\d+;\n)+")


def readme_config() -> str:
    """The nginx block the README gives for several processes."""
    found = _BLOCK.search((ROOT / "README.md").read_text(encoding="utf-8"))
    if found is None:
        raise LookupError("README.md has no ```nginx block")
    return found.group(1)


class Nginx:
    """nginx on 127.0.0.1 proxying to ``backends`` (``host:port``) with the README's block."""

    def __init__(self, backends: list[str]) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="chatkit-nginx-"))
        block = readme_config()
        servers = "".join(f"    server {backend};\n" for backend in backends)
        block, replaced = _UPSTREAM_SERVERS.subn(servers, block)
        block, listened = re.subn(r"listen \d+;", f"listen 127.0.0.1:{self.port};", block)
        if replaced != 1 or listened != 1:
            raise LookupError("the README's nginx block has no upstream servers or listen port")
        folder = self.folder
        (folder / "nginx.conf").write_text(
            f"worker_processes 1;\n"
            f"pid {folder}/nginx.pid;\n"
            f"error_log {folder}/error.log;\n"
            f"events {{ worker_connections 1024; }}\n"
            f"http {{\n"
            f"    access_log {folder}/access.log;\n"
            f"    client_body_temp_path {folder}/body;\n"
            f"    proxy_temp_path {folder}/proxy;\n"
            f"{block}\n}}\n",
            encoding="utf-8",
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Nginx:
        command = [NGINX, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf")]
        check = subprocess.run([*command, "-t"], capture_output=True, text=True)
        if check.returncode:
            raise RuntimeError(f"nginx refused the README's configuration:\n{check.stderr}")
        self.process = subprocess.Popen(
            [*command, "-g", "daemon off; user root;" if os.geteuid() == 0 else "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"nginx exited: {self.process.stderr.read()}") from None
                time.sleep(0.1)
        raise RuntimeError("nginx did not start listening")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def established(port: int) -> int:
    """How many open TCP connections this machine has to ``port`` on 127.0.0.1 (behind nginx,
    only WebSockets stay open: nginx closes every other upstream request)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if int(local.split(":")[1], 16) == port and state == "01":
            count += 1
    return count


def serving(apps: list[RunningApp]) -> list[int]:
    """Which processes hold an open connection (the page's WebSocket) from nginx, once a
    closed page's connection has gone (when one page is open)."""
    for _ in range(50):
        ports = [int(app.url.rsplit(":")[-1]) for app in apps]
        found = [index for index, port in enumerate(ports) if established(port)]
        if len(found) == 1:
            break
        time.sleep(0.1)
    return found
