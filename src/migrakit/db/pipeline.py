"""Pipeline mode without the large-message deadlock. [I/O]

psycopg's `Pipeline.sync()` (and a transaction's commit inside a pipeline) queue a Sync, flush libpq's output
buffer once, then wait for results. libpq's connection is non-blocking in pipeline mode, so when the SQL queued
since the last flush is larger than the socket's send buffer, part of it stays in libpq's buffer; the server
then waits for the rest of a message (`ClientRead`), sends nothing (results go out at the Sync, which it has not
received), and the client waits for results forever. Seen with one 2 MB statement over a unix socket and about
20 MB over TCP loopback (psycopg 3.3, libpq 18; psycopg issue #685 is the same family).

`drain` sends everything queued before a Sync is added, reading input while it waits so that a server blocked
writing results can go on: the Sync itself (a few bytes) then always fits. It costs one `PQflush` call (a
no-op) when nothing is pending.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg

POLL_SECONDS = 1.0  # how often a drain that is waiting for the socket looks again (it never gives up on its own)


def drain(conn: psycopg.Connection[Any]) -> None:
    """Send everything libpq holds for `conn`. Waits only while the server is not reading: it is busy with
    a statement already sent (bounded by statement_timeout) or the network is gone (bounded by the TCP
    keepalives and retransmission limits set in `server.connect`)."""
    pgconn = conn.pgconn
    try:
        while pgconn.flush() == 1:
            readable, _, _ = select.select([pgconn.socket], [pgconn.socket], [], POLL_SECONDS)
            if readable:
                pgconn.consume_input()  # the server may be blocked writing results: read them (they stay queued for psycopg)
    except (psycopg.OperationalError, OSError) as exc:  # a lost connection, whatever libpq's status says yet
        raise psycopg.errors.ConnectionFailure(f"sending the pipeline failed: {exc}") from exc


def sync(conn: psycopg.Connection[Any], pipe: psycopg.Pipeline) -> None:
    """`pipe.sync()` that cannot deadlock on a large queued message: drain first. Raises the first error of
    the commands synced, as `Pipeline.sync` does."""
    drain(conn)
    pipe.sync()
