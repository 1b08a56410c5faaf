"""The migration lock: one migrator at a time per tracking table, through any pooler.

The migration lock is a transaction-scoped advisory lock held by an open transaction on a connection of its
own: a transaction pins its server connection in every pooler mode (direct, session or transaction pooling),
so the lock holds behind PgBouncer, Supavisor or Neon's pooler, and it dies with the migrator (server and
pooler roll back the transaction of a client that went away). Nothing of it is session state: no session
lock to leave behind on a pooled connection, no setting that outlives the transaction.
Exactly-once does not rest on it alone: every migration transaction also takes a second transaction-scoped
lock (`apply_key`) and re-checks that its hash is not tracked yet (db/run/guards.py).
Settings a migration transaction makes are SET LOCAL; TCP keepalives are libpq client options
(server.connect), which leave no state on the server.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg.pq import TransactionStatus

from migrakit.core.events import EventSink, LockAcquired, LockWait, no_event
from migrakit.db.connect import server
from migrakit.db.connect.writable import check_writable, read_only_error
from migrakit.db.run import pipeline
from migrakit.db.run.probe import Probe, lock_and_read
from migrakit.errors import DatabaseUnavailable, LockTimeout

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


POLL_SECONDS = 0.2  # the first pause between two polls for the lock
POLL_MAX_SECONDS = 1.0  # the pause doubles after each poll up to this


def acquire_lock(
    lock_conn: psycopg.Connection[Any],
    key: int,
    schema: str,
    table: str,
    *,
    timeout: float,
    on_event: EventSink = no_event,
    poll: float = POLL_SECONDS,
    reopen: Callable[[], psycopg.Connection[Any]] | None = None,
) -> Probe:
    """Poll for the lock on `lock_conn` (autocommit) until it is granted, each poll one round trip that also
    reads the tracking rows under the lock (db/run/probe.py); the transaction it opened then stays open and holds
    the lock. Returns the granted poll's Probe; the connection holding the lock is `lock_conn`, or the last one
    `reopen()` opened for a later poll (the caller keeps track of what `reopen` returns).

    Between polls no transaction is open. Behind a pooler (the first poll's server pid is not libpq's backend pid,
    db/connect/pooler.py) and with `reopen` given, no connection either: the connection is closed after a refused
    poll and `reopen()` opens one for the next, so a waiter pins no server connection in any pooler mode (a
    session pooler gives a client its server connection from its first query until it leaves: 8 waiters that
    kept theirs starved the holder's second connection in a pool of 4). Direct, the waiter keeps its
    connection (an idle backend; no start-up per poll). The pause between polls doubles from `poll` up to
    POLL_MAX_SECONDS, never past the deadline. Nothing blocks inside the server (a blocked migrator can
    deadlock with another's CREATE INDEX CONCURRENTLY). A target that cannot be written (the first poll's answer)
    raises at once (exit 6). Raise LockTimeout after `timeout` seconds, naming the holder.

    The message is a literal of the simple protocol, no parameter: it leaves no portal behind, and a portal of
    the extended protocol keeps its snapshot (an xmin) for as long as the transaction stays open, which would
    make every CREATE INDEX CONCURRENTLY wait for the lock's transaction, i.e. for the end of the run."""
    deadline = time.monotonic() + timeout
    announced = False
    holder = None
    pause = poll
    while True:
        got = lock_and_read(lock_conn, key, schema, table)
        if not announced:
            check_writable(lock_conn, row=got.writable)
        if got.locked:
            if announced:
                on_event(LockAcquired())
            return got
        if not announced or time.monotonic() >= deadline:
            holder = lock_conn.execute(_HOLDER, (key,)).fetchone() or holder
        if not announced:
            on_event(LockWait(holder))
            announced = True
            if got.server_pid == lock_conn.info.backend_pid:
                reopen = None  # direct: nothing pooled to pin
        if time.monotonic() >= deadline:
            raise LockTimeout(
                f"another migrator has held the migration lock for more than {timeout:g}s",
                cause=f"advisory lock {key} held by pid {holder[0]} ({holder[1]})" if holder else None,
                state="nothing was applied by this run",
                fix="wait for the other deploy to finish and run again, or raise lock_wait_timeout; "
                "if that process is gone, its connection still holds the lock: end it with pg_terminate_backend(pid)",
            )
        if reopen is not None:
            lock_conn.close()  # idle, in no transaction: the pooler takes its server connection back at once
        time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
        pause = min(pause * 2, POLL_MAX_SECONDS)
        if reopen is not None:
            lock_conn = reopen()


def release_lock(lock_conn: psycopg.Connection[Any]) -> None:
    """End the lock's transaction and its connection without waiting for the answer: ROLLBACK is sent, then the
    connection closes (a server ends the transaction of a client that leaves in any case). A broken
    connection already lost the lock."""
    try:
        if (
            not lock_conn.closed
            and not lock_conn.broken
            and lock_conn.info.transaction_status != TransactionStatus.IDLE
        ):
            lock_conn.pgconn.send_query(b"ROLLBACK")
            pipeline.drain(lock_conn)
    except psycopg.Error:
        pass
    finally:
        lock_conn.close()


def open_lock_connection(url: str) -> psycopg.Connection[Any]:
    """The connection that holds the lock: autocommit (its transaction is the lock message's own BEGIN), with
    server.connect's timeouts and keepalives."""
    try:
        return server.connect(url, autocommit=True, application_name="migrakit-lock")
    except DatabaseUnavailable as exc:
        raise DatabaseUnavailable(
            "cannot open the connection that holds the migration lock",
            cause=exc.cause or exc.message,
            state="nothing was applied by this run",
            fix="the database accepted one connection but not a second: raise the pooler's pool size or the role's "
            "connection limit (a migrator needs 2), then run again",
        ) from None


@contextmanager
def migration_lock(
    conn: psycopg.Connection[Any],
    schema: str,
    table: str,
    *,
    timeout: float,
    on_event: EventSink = no_event,
    lock_conn: psycopg.Connection[Any] | None = None,
) -> Iterator[Probe]:
    """Hold the migration lock of this tracking table for the block: one migrator at a time. Yields the Probe
    read under the lock (its rows, writability, server pid). The lock lives in an open transaction on a second
    connection to the same database: `lock_conn` when the caller opened it (db/connect/session.open_migrating opens both
    at once), else one opened now with `conn`'s conninfo (and, behind a pooler, a new one for each poll while
    another migrator holds the lock: acquire_lock); it is rolled back and closed on the way out. `conn` itself
    carries no lock and no session state, and sends nothing before the lock is held.

    Every task that writes to the target takes this lock, so the target is checked writable here, first
    (db/connect/writable.py: exit 6 naming a standby, a replica endpoint or default_transaction_read_only); a
    ReadOnlySqlTransaction inside the block (a failover mid-run) is reported the same way."""
    key = lock_key(schema, table)
    url = server.conninfo(conn)
    held = [lock_conn or open_lock_connection(url)]  # the connection to release: a waiter's is new for each poll

    def reopen() -> psycopg.Connection[Any]:
        held[0] = open_lock_connection(url)
        return held[0]

    try:
        yield acquire_lock(held[0], key, schema, table, timeout=timeout, on_event=on_event, reopen=reopen)
    except pgerrors.ReadOnlySqlTransaction as exc:
        err = read_only_error(conn, cause=f"{exc.diag.message_primary} (25006 ReadOnlySqlTransaction)")
        raise (err or exc) from None
    finally:
        release_lock(held[0])
