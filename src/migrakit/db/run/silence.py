"""A client-side bound on a server that stopped answering while migrakit waits for results. [I/O]

TCP keepalives notice a dead peer, not a frozen one: a proxy that stops forwarding while its kernel keeps the
sockets open answers every keepalive, and a running statement (the migration's own work, unbounded by default)
looks the same as a silent network from the client. So while migrations run, a thread asks every
`network_timeout` seconds whether the server answers at all: it opens a fresh connection (the same URL, the same
route), given `network_timeout` seconds to complete, and closes it at once (a completed or refused start-up is an
answer; through a pooler, the pooler's). A live
server or pooler answers, and a long statement goes on. No answer: the migrating connection's socket is shut
down, which ends whatever wait the run is in (psycopg's, the pipeline's, a drain) with a lost connection; the
run's error (exit 6, what is applied and what was rolled back) then says "no answer from the server for N s".
The server rolls back the open transaction of a client that went away (keepalives, client_connection_check_
interval), so nothing is half-applied; the next run applies what is left, once.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq
from psycopg.conninfo import make_conninfo

from migrakit.db.connect import server
from migrakit.errors import DatabaseUnavailable, MigrakitError


class Watch:
    """What the watch saw: `fired` once the server gave no answer within `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False

    def explain(self, err: MigrakitError) -> MigrakitError:
        """`err` (the run's lost connection) told as the silence it was, keeping what it says of the state."""
        if not self.fired or not isinstance(err, DatabaseUnavailable):
            return err
        err.message = f"no answer from the server for {self.seconds:g} s: {err.message}"
        err.fix = (
            f"the server or a proxy on the way stopped answering (a new connection got no answer within "
            f"network_timeout={self.seconds:g}s either); find out why (a frozen proxy or load balancer, a network "
            "partition, a stalled server), then run `inv db.migrate` again: `inv db.status` shows what is applied. "
            "Raise network_timeout if the route is only slow"
        )
        return err


def _answers(url: str, seconds: float) -> bool:
    """Whether a new connection to `url` completes its start-up (or is refused: that is an answer too) within
    `seconds`. libpq's own non-blocking connect, closed here in every case: a start-up a frozen proxy holds back
    must not leave a socket open that would complete later."""
    deadline = time.monotonic() + seconds
    try:
        pgconn = pq.PGconn.connect_start(make_conninfo(url, application_name="migrakit-check").encode())
    except psycopg.Error:
        return True
    try:
        while True:
            status = pgconn.connect_poll()
            if status in (pq.PollingStatus.OK, pq.PollingStatus.FAILED):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            reading = status == pq.PollingStatus.READING
            select.select([pgconn.socket] if reading else [], [] if reading else [pgconn.socket], [], left)
    except (psycopg.Error, OSError):
        return True
    finally:
        pgconn.finish()


def _shut(conn: psycopg.Connection[Any]) -> None:
    """Shut the connection's socket down both ways: every wait on it ends (end of file), on any thread."""
    with contextlib.suppress(OSError, psycopg.Error):
        sock = socket.socket(fileno=os.dup(conn.pgconn.socket))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()


@contextmanager
def bounded(conn: psycopg.Connection[Any], seconds: float) -> Iterator[Watch]:
    """Watch the server while the block runs on `conn` (module docstring); `seconds` 0: no watch."""
    watch = Watch(seconds)
    if seconds <= 0:
        yield watch
        return
    url = server.conninfo(conn)
    stop = threading.Event()
    ending = threading.Lock()  # the socket is shut only while the block still runs (its fd is not reused yet)

    def run() -> None:
        while not stop.wait(seconds):
            if not _answers(url, seconds):
                with ending:
                    if not stop.is_set():
                        watch.fired = True
                        _shut(conn)
                return

    thread = threading.Thread(target=run, name="migrakit-silence", daemon=True)
    thread.start()
    try:
        yield watch
    except MigrakitError as exc:
        raise watch.explain(exc) from None
    except psycopg.OperationalError as exc:
        if not watch.fired:
            raise
        raise watch.explain(
            DatabaseUnavailable(
                "the connection was closed while waiting for the server",
                cause=(str(exc).strip().splitlines() or [type(exc).__name__])[0],
                state="each migration is tracked in the transaction that applies it: the one that was running was "
                "rolled back by the server",
            )
        ) from None
    finally:
        with ending:
            stop.set()  # a check under way ends within network_timeout; nothing waits for it
