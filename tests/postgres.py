"""A real PostgreSQL server for the tests: Debian's binaries, a throwaway cluster on 127.0.0.1.

``scripts/test.sh`` installs Debian's ``postgresql`` package; this starts a private cluster in
a temporary folder on a free port (as the ``postgres`` user when the tests run as root, since
PostgreSQL refuses to run as root), and stops it at the end. Each test gets a fresh database.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from tests.processes import free_port

USER = "chatkit"


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise RuntimeError(
            f"PostgreSQL's {name} is missing: run bash scripts/test.sh, which installs Debian's "
            f"postgresql package."
        )
    return found


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


class PostgresServer:
    """One running cluster; ``new_database()`` returns the URL of a fresh, empty database."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="chatkit-pg-"))
        self.port = free_port()
        self.data = self.folder / "data"
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        subprocess.run(
            _as_server_user(
                [
                    _binary("initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    USER,
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            f"-c fsync=off -c max_connections=200"
        )
        subprocess.run(
            _as_server_user(
                [
                    _binary("pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    options,
                    "-l",
                    str(self.folder / "log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={USER} dbname=postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            _as_server_user([_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(self.folder, ignore_errors=True)
