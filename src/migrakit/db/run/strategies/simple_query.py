"""One simple-protocol query of several statements, through psycopg's public libpq wrapper (`psycopg.pq`).

The server answers a multi-statement query with one result per statement it ran, the failing one last. psycopg's
`Cursor.execute` raises on the error and drops the results before it, so it cannot tell which statement of the
file failed when the error has no position (a unique violation, a lock timeout). Here the query is sent with
`PGconn.send_query` and every result read with `PGconn.get_result`: the command tags of the statements that
completed come back with the error (`psycopg.errors.error_from_result`, the same error class psycopg raises).

Waits are those of any query on this connection: the statement is bounded by statement_timeout (the run's
setting), a dead network by the TCP keepalives and retransmission limits set in `server.connect`, a silent one
by db/connect/answer.py (network_timeout).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq

from migrakit.db.connect import answer
from migrakit.db.run import pipeline

POLL_SECONDS = 1.0  # how often a wait for the server's answer looks at the socket again
_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)
_COPY_IN, _COPY_OUT = pq.ExecStatus.COPY_IN, pq.ExecStatus.COPY_OUT


@dataclass
class Outcome:
    """What the server did with one query: the command tags of the statements it completed, in order (up to the
    first result that is not a completed command), and the first error (None: every statement succeeded)."""

    tags: tuple[str, ...]
    error: psycopg.Error | None


def _wait_readable(conn: psycopg.Connection[Any]) -> None:
    """Until libpq holds a whole result: read what the socket has (a silent server: answer.NoAnswer)."""
    pgconn = conn.pgconn
    if not pgconn.is_busy():
        return
    with answer.quiet(conn) as watch:
        while pgconn.is_busy():
            watch.select(seconds=POLL_SECONDS)
            pgconn.consume_input()


def run(conn: psycopg.Connection[Any], query: bytes) -> Outcome:
    """Send `query` (no parameters: the simple protocol, several statements allowed) on `conn`, which must be
    idle or in a transaction with no other query in flight, and read every result. A lost connection raises
    (psycopg.OperationalError), as psycopg's own execute does; a statement's error is returned in the Outcome,
    after the connection is ready for the next command (the caller raises it)."""
    pgconn = conn.pgconn
    encoding = conn.info.encoding
    tags: list[str] = []
    error: psycopg.Error | None = None
    counting = True
    pgconn.send_query(query)
    pipeline.drain(conn)  # a large file does not fit in the socket's buffer: send it all before waiting
    while True:
        try:
            _wait_readable(conn)
        except psycopg.OperationalError:
            if error is None:
                raise
            break  # the server sent its error and closed the session (pg_terminate_backend): that error is the news
        result = pgconn.get_result()
        if result is None:
            break
        status = result.status
        if status == pq.ExecStatus.FATAL_ERROR:
            error = error or psycopg.errors.error_from_result(result, encoding=encoding)
        elif status == _COPY_IN:  # COPY ... FROM STDIN: a migration has no data to send; the server reports it
            pgconn.put_copy_end(b"COPY FROM STDIN cannot run in a migration file")
            pipeline.drain(conn)
        elif status == _COPY_OUT:  # COPY ... TO STDOUT: read and drop its rows
            with answer.quiet(conn) as watch:
                while True:
                    n, _ = pgconn.get_copy_data(1)
                    if n == 0:
                        watch.select(seconds=POLL_SECONDS)
                        pgconn.consume_input()
                    elif n < 0:
                        break
        if status in (_COPY_IN, _COPY_OUT):
            continue  # not the statement's end: its own result (COMMAND_OK or the error) follows
        if counting and status in _OK:
            tags.append((result.command_status or b"").decode("ascii", "replace"))
        else:
            counting = False
    return Outcome(tuple(tags), error)


def results(conn: psycopg.Connection[Any], query: bytes) -> tuple[list[pq.abc.PGresult], psycopg.Error | None]:
    """Send `query` (several small statements, no COPY) on `conn`, idle or in a transaction, and read every
    result: one round trip. Returns the results of the statements that completed, in order, and the error of
    the one that failed (None: all ran); the statements after a failing one do not run. Bounded as `run`."""
    pgconn = conn.pgconn
    done: list[pq.abc.PGresult] = []
    error: psycopg.Error | None = None
    pgconn.send_query(query)
    pipeline.drain(conn)
    while True:
        _wait_readable(conn)
        result = pgconn.get_result()
        if result is None:
            return done, error
        if result.status == pq.ExecStatus.FATAL_ERROR:
            error = error or psycopg.errors.error_from_result(result, encoding=conn.info.encoding)
        elif error is None:
            done.append(result)
