"""A deterministic crash for tests: `MIGRAKIT_FAILPOINT=kill:K` or `disconnect:K`. [I/O]

A testing aid, read only by the executor (once per run, when it is created): after the K-th migration
statement of the run has completed on the server, `kill` SIGKILLs this process and `disconnect` ends this
session from a second connection (`pg_terminate_backend`, waiting until the backend is gone), so the run
fails with a lost connection (exit 6) at that exact boundary. Statements are counted across the whole run,
in the order they run, 1-based: each statement of a Mode 1 file counts once (also BEGIN/COMMIT a file holds
itself), a Mode 2 file counts as one. migrakit's own commands (BEGIN, timeouts, tracking rows, progress
rows) do not count. With pipelining the executor syncs at statement K, so "completed" holds there too.
Unset, it costs one check per statement. K beyond the run's last statement never fires.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from migrakit.errors import ConfigError

ENV = "MIGRAKIT_FAILPOINT"
ACTIONS = ("kill", "disconnect")
TERMINATE_WAIT_MS = 10_000  # how long `disconnect` waits for the terminated backend to exit


@dataclass
class Failpoint:
    action: str
    at: int  # the statement after which it fires (1-based)
    done: int = 0  # statements counted so far

    def step(self, n: int = 1) -> bool:
        """Count `n` more statements sent; True when statement `at` is among them: the caller then makes it
        complete on the server (a pipeline syncs) and calls `fire`."""
        before, self.done = self.done, self.done + n
        return before < self.at <= self.done

    def fire(self, conn: psycopg.Connection[Any]) -> None:
        if self.action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        _terminate(conn)


def from_env(environ: Mapping[str, str] = os.environ) -> Failpoint | None:
    """The failpoint `MIGRAKIT_FAILPOINT` asks for, or None when it is unset or empty."""
    raw = environ.get(ENV, "").strip()
    if not raw:
        return None
    action, _, at = raw.partition(":")
    if action not in ACTIONS or not at.isdigit() or int(at) < 1:
        raise ConfigError(
            f"{ENV}={raw!r} is not a failpoint",
            state="nothing was run",
            fix=f"use {ENV}=kill:K or {ENV}=disconnect:K with K >= 1 (a testing aid), or unset it",
        )
    return Failpoint(action, int(at))


def _terminate(conn: psycopg.Connection[Any]) -> None:
    """End `conn`'s backend from a second connection and wait until it has exited (its open transaction is
    rolled back), so what the next run finds does not depend on timing."""
    from migrakit.db.connect.server import (  # late: server imports nothing from db/, but keep this module light
        connect,
        conninfo,
    )

    info = conn.info
    with connect(conninfo(conn), autocommit=True, application_name="migrakit-failpoint") as other:
        if other.info.server_version >= 140000:
            other.execute("SELECT pg_terminate_backend(%s, %s)", (info.backend_pid, TERMINATE_WAIT_MS))
        else:
            other.execute("SELECT pg_terminate_backend(%s)", (info.backend_pid,))
            other.execute(
                "DO $$BEGIN FOR i IN 1..100 LOOP EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = "
                f"{int(info.backend_pid)}); PERFORM pg_sleep(0.1); END LOOP; END$$"
            )
