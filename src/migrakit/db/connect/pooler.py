"""Is a connection pooler between migrakit and PostgreSQL, and does it hand server connections out per
transaction? Reads only; sets nothing.

- Any pooler or proxy that multiplexes (PgBouncer, Supavisor, Neon's pooler) answers the startup with its own
  backend key, so the pid libpq was told (`conn.info.backend_pid`) differs from the server's `pg_backend_pid()`.
  Equal pids: a direct connection, and detection costs one query.
- Only then a second client connection tells the pooling mode: it opens a transaction (which pins a server
  connection in every mode) and reports its server pid, then the first connection asks again. A session pooler
  keeps each client on its own server connection (the second pid differs, the first stays the same); a
  transaction pooler hands the server connection the first client just released to the second, or moves the
  first client to another one.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from migrakit.core.connection import DIRECT as DIRECT
from migrakit.core.connection import Pooler as Pooler
from migrakit.db.connect import answer, server
from migrakit.errors import ConfigError

# PgBouncer's words when it refuses a transaction in pool_mode=statement (it has no SQLSTATE of its own: 08P01).
STATEMENT_POOLING = "statement pooling mode"


def statement_pooling(exc: BaseException | None) -> bool:
    """`exc` is a statement pooler refusing a transaction block (and closing the connection)."""
    return exc is not None and STATEMENT_POOLING in str(exc)


def statement_refused(url: str | None) -> ConfigError:
    """The error of a migrating or reading command behind a statement pooler (exit 2), before anything ran."""
    shown = server.redact_url(url) if url else "the database"
    return ConfigError(
        f"{shown} goes through a pooler in statement mode ({_name(url or '')}, pool_mode=statement): every "
        "transaction block is refused, and migrations, the migration lock and the tracking row need transactions",
        cause="transaction blocks not allowed in statement pooling mode",
        state="nothing was run",
        fix="point DATABASE_URL at a pool in transaction or session mode (PgBouncer: pool_mode=transaction or "
        "session for this database in [databases], or another port), or at the server directly",
    )


# Well-known transaction poolers, named from the URL alone.
SUPABASE_POOLER_PORT = "6543"


def _name(url: str) -> str:
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        return "PgBouncer?"
    host, port = str(params.get("host") or ""), str(params.get("port") or "")
    if "-pooler." in host or host.endswith("-pooler"):
        return "Neon's pooler (PgBouncer)"
    if port == SUPABASE_POOLER_PORT or "pooler.supabase" in host:
        return f"Supabase's pooler (Supavisor{', port 6543' if port == SUPABASE_POOLER_PORT else ''})"
    return "PgBouncer?"


def _server_pid(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    return int(row[0]) if row else 0


def detect(conn: psycopg.Connection[Any], url: str | None = None, *, server_pid: int | None = None) -> Pooler:
    """What is between `conn` (an autocommit connection, idle) and the server. One query on a direct
    connection, none when `server_pid` (pg_backend_pid() just read on `conn`, db/run/probe.py) is given; a second
    short connection only when a pooler is seen."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ValueError("pooler.detect needs an idle connection")
    first = server_pid if server_pid is not None else _server_pid(conn)
    if first == conn.info.backend_pid:
        return DIRECT
    name = _name(url or conn.info.dsn)
    try:
        with answer.open_watched(server.conninfo(conn), autocommit=True, connect_timeout=10, prepare_threshold=None,
                                 application_name="migrakit-pooler-probe") as other:  # fmt: skip
            with other.transaction():  # pins a server connection in every pooling mode
                pinned = _server_pid(other)
                again = _server_pid(conn)
    except answer.NoAnswer:
        raise
    except psycopg.Error as exc:  # cannot tell the mode: assume the stricter one
        if statement_pooling(exc):
            return Pooler(True, True, name, f"a transaction block was refused: {STATEMENT_POOLING}", statement=True)
        return Pooler(True, True, name, f"a pooler answers (pid {conn.info.backend_pid} is not the server's {first}); "
                      f"mode unknown ({type(exc).__name__}), assumed transaction pooling")  # fmt: skip
    if pinned == first or again != first:
        seen = (
            "another client got the same server connection"
            if pinned == first
            else "this client moved to another server connection"
        )
        return Pooler(True, True, name, f"{seen} (server pids {first}, {pinned}, {again})")
    return Pooler(True, False, name, f"server pid {first} stayed with this client")
