"""What a command asks first, in one round trip: the tracking rows (and whether the table exists and has Drizzle
1.0's `name` column), whether the target is writable, the server's pid (is a pooler between us?) and, for a
migrating command, the migration lock. [I/O]

Each is one simple-protocol message of several statements (`simple_query.results`), so the answers come back
together: a target that is up to date costs one round trip after connecting.

`lock_and_read`, on the lock's own connection (db/run/lock.py):

    BEGIN;
    SELECT <lock_timeout, keepalives: SET LOCAL>, pg_try_advisory_xact_lock(<key>), <writable>, pg_backend_pid();
    SAVEPOINT migrakit_read;
    SELECT * FROM <tracking table> ORDER BY id;
    ROLLBACK TO SAVEPOINT migrakit_read

- The rows are read after the lock was granted, in READ COMMITTED: every migration another migrator committed
  before it let the lock go is in them.
- The read's share lock on the tracking table goes with the savepoint, so the lock's transaction (open for the
  whole run) holds nothing on that table: the tracking-table upgrade's ALTER does not wait for it.
- A missing table fails the read inside the savepoint: the subtransaction is aborted, the transaction and its
  advisory lock stay (they end with the ROLLBACK that releases the lock).
- Not granted: the caller rolls back and polls again (db/run/lock.py).
- The read waits for a lock on the tracking table at most tracking.LOCK_TIMEOUT (its transaction's own
  lock_timeout), then fails naming the holder (exit 4); `read` does the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from migrakit.db import tracking
from migrakit.db.connect import pooler
from migrakit.db.connect.writable import WRITABLE_COLUMNS
from migrakit.db.run.strategies import simple_query
from migrakit.db.tracking import TableRead

KEEPALIVES_LOCAL = (
    "set_config('idle_in_transaction_session_timeout', '0', true), set_config('tcp_keepalives_idle', '30', true), "
    "set_config('tcp_keepalives_interval', '10', true), set_config('tcp_keepalives_count', '3', true)"
)
_SAVEPOINT = "migrakit_read"


@dataclass(frozen=True)
class Probe:
    table: TableRead
    writable: tuple[bool, str, str, str]  # writable.WRITABLE_COLUMNS, for writable.read_only_error
    server_pid: int  # pg_backend_pid(): differs from libpq's backend pid behind a pooler (db/connect/pooler.py)
    locked: bool = False  # lock_and_read: the migration lock was granted (its transaction is open)


def _first_row(conn: psycopg.Connection[Any], result: Any, skip: int) -> tuple[tuple[bool, str, str, str], int]:
    """The writability columns and the pid, after `skip` columns (the first is tracking.BOUNDED's)."""
    enc = conn.info.encoding
    values = [(result.get_value(0, i) or b"").decode(enc) for i in range(skip, result.nfields)]
    in_recovery, tx_read_only, default_read_only, source, pid = values
    return (in_recovery == "t", tx_read_only, default_read_only, source), int(pid)


def _results(conn: psycopg.Connection[Any], query: bytes) -> tuple[list[Any], psycopg.Error | None]:
    """simple_query.results; a statement pooler refusing the message (the first round trip of every command) is
    exit 2 naming it (pooler.statement_refused), not a connection error."""
    try:
        done, error = simple_query.results(conn, query)
    except psycopg.Error as exc:
        if pooler.statement_pooling(exc):
            raise pooler.statement_refused(conn.info.dsn) from None
        raise
    if pooler.statement_pooling(error):
        raise pooler.statement_refused(conn.info.dsn) from None
    return done, error


def read(conn: psycopg.Connection[Any], schema: str, table: str) -> Probe:
    """The rows, writability and server pid from `conn` (autocommit, idle), in one message (its own implicit
    transaction; nothing stays open)."""
    query = f"SELECT {tracking.BOUNDED}, {WRITABLE_COLUMNS}, pg_backend_pid(); ".encode() + tracking.select_rows(
        conn, schema, table
    )
    done, error = _results(conn, query)
    if not done:  # the first statement failed: only a broken session does that
        raise error or psycopg.OperationalError("the server answered nothing")
    writable, pid = _first_row(conn, done[0], 1)
    missing = tracking.missing_table(error, schema, table, conn)
    return Probe(tracking.MISSING if missing else tracking.from_result(done[1], conn.info.encoding), writable, pid)


def lock_and_read(lock_conn: psycopg.Connection[Any], key: int, schema: str, table: str) -> Probe:
    """Try the migration lock and read the rows under it, in one message on `lock_conn` (autocommit, idle; see
    the module's docstring). Granted: the lock's transaction stays open. Not granted: rolled back here."""
    query = (
        f"BEGIN; SELECT {tracking.BOUNDED}, {KEEPALIVES_LOCAL}, pg_try_advisory_xact_lock({int(key)}), "
        f"{WRITABLE_COLUMNS}, pg_backend_pid(); "
        f"SAVEPOINT {_SAVEPOINT}; "
    ).encode() + tracking.select_rows(lock_conn, schema, table) + f"; ROLLBACK TO SAVEPOINT {_SAVEPOINT}".encode()
    done, error = _results(lock_conn, query)
    if len(done) < 3:  # BEGIN, the lock's SELECT and SAVEPOINT always run: else the session is broken
        lock_conn.execute("ROLLBACK")
        raise error or psycopg.OperationalError("the server answered nothing")
    first = done[1]
    locked = (first.get_value(0, 5) or b"") == b"t"
    writable, pid = _first_row(lock_conn, first, 6)
    if not locked:
        lock_conn.execute("ROLLBACK")
    elif isinstance(error, psycopg.errors.LockNotAvailable):
        lock_conn.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")  # idle in the lock's transaction: name the holder
    missing = tracking.missing_table(error, schema, table, lock_conn)
    read_table = tracking.MISSING if missing else tracking.from_result(done[3], lock_conn.info.encoding)
    return Probe(read_table, writable, pid, locked)
