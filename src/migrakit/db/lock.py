"""The migration lock: one migrator at a time per tracking table, through any pooler.

The migration lock is a transaction-scoped advisory lock held by an open transaction on a connection of its
own: a transaction pins its server connection in every pooler mode (direct, session or transaction pooling),
so the lock holds behind PgBouncer, Supavisor or Neon's pooler, and it dies with the migrator (server and
pooler roll back the transaction of a client that went away). Nothing of it is session state: no session
lock to leave behind on a pooled connection, no setting that outlives the transaction.
Exactly-once does not rest on it alone: every migration transaction also takes a second transaction-scoped
lock (`apply_key`) and re-checks that its hash is not tracked yet (db/guards.py).
Settings a migration transaction makes are SET LOCAL; TCP keepalives are libpq client options
(server.connect), which leave no state on the server.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pgerrors

from ..core.events import EventSink, LockAcquired, LockWait, no_event
from ..errors import DatabaseUnavailable, LockTimeout
from . import server
from .writable import check_writable, read_only_error

KEEPALIVES_LOCAL = (
    "set_config('idle_in_transaction_session_timeout', '0', true), set_config('tcp_keepalives_idle', '30', true), "
    "set_config('tcp_keepalives_interval', '10', true), set_config('tcp_keepalives_count', '3', true)"
)
_HOLDER = (
    "SELECT a.pid, a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND ((l.classid::bigint << 32) | l.objid::bigint) = %s LIMIT 1"
)


def lock_key(schema: str, table: str) -> int:
    """A stable signed 64-bit advisory-lock key for this tracking table."""
    digest = hashlib.sha256(f"migrakit:{schema}.{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def apply_key(schema: str, table: str) -> int:
    """The key every migration transaction takes (pg_try_advisory_xact_lock) before its re-check: two
    transactions applying migrations to this tracking table never overlap, even without the migration lock."""
    digest = hashlib.sha256(f"migrakit-apply:{schema}.{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def conninfo(conn: psycopg.Connection[Any]) -> str:
    """The conninfo of `conn`, password included, to open another connection like it."""
    info = conn.info
    return psycopg.conninfo.make_conninfo(info.dsn, password=info.password) if info.password else info.dsn


def acquire_lock(
    lock_conn: psycopg.Connection[Any], key: int, *, timeout: float, on_event: EventSink = no_event, poll: float = 0.2
) -> None:
    """Poll pg_try_advisory_xact_lock on `lock_conn` (not autocommit) until it is granted; the transaction it
    opened then stays open and holds the lock. Between polls no transaction is open (a waiter pins no pooled
    server connection) and nothing blocks inside the server (a blocked migrator can deadlock with another's
    CREATE INDEX CONCURRENTLY). Raise LockTimeout after `timeout` seconds, naming the holder."""
    deadline = time.monotonic() + timeout
    announced = False
    holder = None
    while True:
        # A literal, not a parameter: the simple protocol leaves no portal behind, and a portal of the extended
        # protocol keeps its snapshot (an xmin) for as long as the transaction stays open, which would make every
        # CREATE INDEX CONCURRENTLY wait for the lock's transaction, i.e. for the end of the run.
        got = lock_conn.execute(f"SELECT {KEEPALIVES_LOCAL}, pg_try_advisory_xact_lock({int(key)})").fetchone()
        if got and got[-1]:
            if announced:
                on_event(LockAcquired())
            return
        if not announced or time.monotonic() >= deadline:
            holder = lock_conn.execute(_HOLDER, (key,)).fetchone() or holder
        lock_conn.rollback()  # release the server connection between polls
        if not announced:
            on_event(LockWait(holder))
            announced = True
        if time.monotonic() >= deadline:
            raise LockTimeout(
                f"another migrator has held the migration lock for more than {timeout:g}s",
                cause=f"advisory lock {key} held by pid {holder[0]} ({holder[1]})" if holder else None,
                state="nothing was applied by this run",
                fix="wait for the other deploy to finish and run again, or raise lock_wait_timeout; "
                "if that process is gone, its connection still holds the lock: end it with pg_terminate_backend(pid)",
            )
        time.sleep(poll)


def release_lock(lock_conn: psycopg.Connection[Any]) -> None:
    """End the lock's transaction (ROLLBACK) and its connection. A broken connection already lost it."""
    try:
        if not lock_conn.closed and not lock_conn.broken:
            lock_conn.rollback()
    except psycopg.Error:
        pass
    finally:
        lock_conn.close()


@contextmanager
def migration_lock(
    conn: psycopg.Connection[Any], schema: str, table: str, *, timeout: float, on_event: EventSink = no_event
) -> Iterator[None]:
    """Hold the migration lock of this tracking table for the block: one migrator at a time. The lock lives in
    an open transaction on a second connection to the same database (same conninfo as `conn`), rolled back on
    the way out; `conn` itself carries no lock and no session state.

    Every task that writes to the target takes this lock, so the target is checked writable here, first
    (db/writable.py: exit 6 naming a standby, a replica endpoint or default_transaction_read_only); a
    ReadOnlySqlTransaction inside the block (a failover mid-run) is reported the same way."""
    check_writable(conn)
    key = lock_key(schema, table)
    try:
        lock_conn = psycopg.connect(
            conninfo(conn), autocommit=False, prepare_threshold=None, application_name="migrakit-lock", connect_timeout=10,
        )  # fmt: skip
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(
            "cannot open the connection that holds the migration lock",
            cause=server.redact_text((str(exc).strip().splitlines() or [type(exc).__name__])[0], [conn.info.dsn]),
            state="nothing was applied by this run",
            fix="the database accepted one connection but not a second: raise the pooler's pool size or the role's "
            "connection limit (a migrator needs 2), then run again",
        ) from None
    try:
        acquire_lock(lock_conn, key, timeout=timeout, on_event=on_event)
        yield
    except pgerrors.ReadOnlySqlTransaction as exc:
        err = read_only_error(conn, cause=f"{exc.diag.message_primary} (25006 ReadOnlySqlTransaction)")
        raise (err or exc) from None
    finally:
        release_lock(lock_conn)
