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

`Commands` is Mode 1's pipeline (strategies/pipelined.py): each command one libpq call on psycopg's pq layer, results
counted as they arrive, a Sync drained first. What it holds is bounded by a window (commands and bytes sent and not
answered yet) instead of a Sync in the middle of a batch: a Sync that is waited for stops the client from sending
until the server has run everything before it (a round trip with the server idle), while a window only waits when
the server is that far behind, and the server keeps working meanwhile.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import psycopg

from migrakit.db.connect import answer

POLL_SECONDS = 1.0  # how often a drain that is waiting for the socket looks again (it never gives up on its own)


def drain(conn: psycopg.Connection[Any]) -> None:
    """Send everything libpq holds for `conn`. Waits only while the server is not reading: it is busy with
    a statement already sent (bounded by statement_timeout) or the network is gone (bounded by the TCP
    keepalives and retransmission limits set in `server.connect`, and by db/connect/answer.py's watch)."""
    pgconn = conn.pgconn
    watch = None  # made when there is something to wait for: nothing on the common path
    try:
        while pgconn.flush() == 1:
            watch = watch or answer.quiet(conn)
            readable, _ = watch.select(write=True, seconds=POLL_SECONDS)
            if readable:
                # the server may be blocked writing results: read them (they stay queued for psycopg)
                pgconn.consume_input()
    except answer.NoAnswer:
        raise
    except (psycopg.OperationalError, OSError) as exc:  # a lost connection, whatever libpq's status says yet
        raise psycopg.errors.ConnectionFailure(f"sending the pipeline failed: {exc}") from exc
    finally:
        if watch is not None:
            watch.close()


def sync(conn: psycopg.Connection[Any], pipe: psycopg.Pipeline) -> None:
    """`pipe.sync()` of a psycopg pipeline that cannot deadlock on a large queued message: drain first. Raises
    the first error of the commands synced, as `Pipeline.sync` does."""
    drain(conn)
    pipe.sync()


_PUMP_EVERY = 64  # commands queued between two non-blocking looks for results (a send and a recv, no wait)


class Commands:
    """Commands sent alone over libpq's pipeline mode through psycopg's pq layer, without a cursor each: the
    client's work per command is one `PQsendQueryParams` (Parse, Bind, Describe, Execute: the same messages a
    psycopg cursor sends in a pipeline), so 5,000 statements cost milliseconds, not the ~50 µs a
    `Cursor.execute` spends on each (a cursor, query conversion, prepare bookkeeping, a flush).

    Commands are numbered from 0 in the order sent. Results are read as they arrive (every _PUMP_EVERY
    commands, and at `sync`): `done` is how many commands completed before the first failure, `error` that
    failure (the exception psycopg would raise for it), `failed` the number of the command that failed (None: none
    did, or the connection broke before its result came). After an error the server skips everything up to the
    next Sync: `send` raises it instead of queueing more once it has arrived (the server sends results at a Sync
    or when its output buffer fills). `COPY ... TO STDOUT` has its rows read and dropped; `COPY ... FROM STDIN`
    is refused, and as the commands queued after it reach a server reading COPY data, the server ends the
    session (a lost connection, never a wait). Used as a context manager on an autocommit connection with
    nothing else in progress; on leaving, the pipeline is synced (if anything is unanswered) and ended, so the
    connection is usable (or broken) as psycopg expects.

    Waits are the same as psycopg's: on the socket, while the server runs what was sent (bounded by
    statement_timeout) or the network is gone or silent (the keepalives set in `server.connect`, answer.py)."""

    def __init__(self, conn: psycopg.Connection[Any], *, window: tuple[int, int] = (1 << 62, 1 << 62)) -> None:
        self.conn, self.pgconn = conn, conn.pgconn
        self.encoding = conn.info.encoding
        self.sent = self.done = self._answered = self._syncs = 0
        self._unsynced = 0  # commands sent since the last Sync: leaving pipeline mode needs a Sync after them
        self.error: psycopg.Error | None = None
        self.failed: int | None = None
        self._tx = psycopg.adapt.Transformer(conn)
        self.window = window  # (commands, bytes) sent and not answered yet past which `send` waits
        self._unanswered: deque[int] = deque()  # the size of each command sent and not answered yet, oldest first
        self._unanswered_bytes = 0
        self.on_results: Callable[[], None] | None = None  # called whenever results arrived (live progress)
        self._cancelling = False  # interrupted: the statements still running are cancelled until the Sync
        self._quiet: answer.Quiet | None = None  # the watch of the wait for results in progress (answer.py)

    def __enter__(self) -> Commands:
        self.pgconn.enter_pipeline_mode()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        try:
            self._leave(kind, exc)
        finally:
            self._end_quiet()

    def _leave(self, kind: type[BaseException] | None, exc: BaseException | None) -> None:
        if kind is None:
            if self._unsynced or self._syncs:
                self.sync()
            self.pgconn.exit_pipeline_mode()
            return
        try:  # leave the connection out of pipeline mode, or broken; the exception in flight is what counts
            if not isinstance(exc, psycopg.Error):  # interrupted (Ctrl-C): stop what the server runs
                self._cancelling = True
                self._cancel()
            # Also when every command is answered: after an error the server skips everything up to a Sync,
            # a query sent after leaving pipeline mode too (it would wait forever).
            if self._unsynced or self._syncs:
                self.sync(raise_error=False)
            self.pgconn.exit_pipeline_mode()
        except (psycopg.Error, OSError):
            pass

    def _cancel(self) -> None:
        """libpq's cancel request. One that reaches the server between two pipelined commands cancels nothing
        (the server forgets it when no statement runs), so `_read` sends it again while results are awaited."""
        self.conn.cancel_safe(timeout=5.0)

    def encode(self, query: str) -> bytes:
        return query.encode(self.encoding)

    def send(self, query: bytes, params: tuple[Any, ...] | None = None) -> int:
        """Queue `query` (bytes in the connection's encoding, placeholders $1, $2 ...) with `params` adapted as
        psycopg adapts them; its number. Raises the first error of the commands sent since the last Sync."""
        if self.error is not None:
            raise self.error
        if params:
            values = self._tx.dump_sequence(params, [psycopg.adapt.PyFormat.AUTO] * len(params))
            self.pgconn.send_query_params(query, values, param_types=self._tx.types, param_formats=self._tx.formats)
        else:
            self.pgconn.send_query_params(query, None)
        self.sent += 1
        self._unsynced += 1
        self._unanswered.append(len(query))
        self._unanswered_bytes += len(query)
        if self.sent % _PUMP_EVERY == 0:
            self.pgconn.flush()
            self._read(block=False)
        if self._behind():
            self._catch_up()
        if self.error is not None:
            raise self.error
        return self.sent - 1

    def _behind(self) -> bool:
        """More commands or bytes unanswered than the window allows."""
        while len(self._unanswered) > self.sent - self._answered:
            self._unanswered_bytes -= self._unanswered.popleft()
        commands, size = self.window
        return len(self._unanswered) > commands or self._unanswered_bytes > size

    def _catch_up(self) -> None:
        """Wait for results until the window holds again (or an error came). A Flush message asks the server to
        send the results it holds (without one, it sends them at a Sync or when its buffer fills); unlike a Sync,
        it ends nothing: an error still makes the server skip everything up to the batch's Sync. An error is
        sent at once (the server flushes it)."""
        self.flush_request()
        drain(self.conn)
        while self.error is None and self._behind():
            self._read(block=True)

    def flush_request(self) -> None:
        """Ask the server to send the results it holds once it reaches this point (a Flush message; no result of
        its own), so they arrive as the commands before it complete instead of at the next Sync: progress sees
        a migration start and end as it happens. Nothing waits for them."""
        self.pgconn.send_flush_request()

    def sync(self, *, raise_error: bool = True) -> None:
        """Send a Sync and wait for every result up to it; raise the first error among them (also an error
        that arrived before)."""
        self.pgconn.pipeline_sync()
        self._syncs += 1
        self._unsynced = 0
        drain(self.conn)
        while self._syncs:
            self._read(block=True)
        if self.error is not None and raise_error:
            raise self.error

    def _read(self, *, block: bool) -> None:
        """Take the results that arrived; with `block`, wait for at least one more first (watched: `_quiet` lives
        across the calls of one wait, until results come)."""
        pgconn = self.pgconn
        try:
            if block and pgconn.is_busy():
                self._quiet = self._quiet or answer.quiet(self.conn)
                readable, _ = self._quiet.select(seconds=POLL_SECONDS)
                if not readable and self._cancelling:
                    self._cancel()
            pgconn.consume_input()
        except OSError as exc:
            raise psycopg.errors.ConnectionFailure(f"reading results failed: {exc}") from exc
        gap = True  # libpq ends each command's results with a None; a None after a None: nothing more for now
        got = 0
        while not pgconn.is_busy():
            result = pgconn.get_result()
            if result is None:
                if gap:
                    break
                gap = True
                continue
            got += 1
            status = result.status
            if status in (_COPY_IN, _COPY_OUT):  # not the command's end: its own result follows
                self._copy(status)
                gap = False
                continue
            gap = status == _SYNC  # no None follows a Sync's result
            if gap:
                self._syncs -= 1
                continue
            if status == _FATAL and self.error is None:
                self.error = psycopg.errors.error_from_result(result, encoding=self.encoding)
                self.failed = self._answered
            elif status != _ABORTED and self.error is None:
                self.done += 1
            self._answered += 1
        if got:
            self._end_quiet()
            if self.on_results is not None:
                self.on_results()
        if pgconn.status == psycopg.pq.ConnStatus.BAD and (self._syncs or self._answered < self.sent):
            if self.error is None:
                self.error = psycopg.errors.ConnectionFailure(
                    f"the connection was lost: {pgconn.get_error_message(self.encoding).strip() or 'no detail'}"
                )
            self._syncs = 0
            self._answered = self.sent
        elif block and not got and self._syncs and not pgconn.is_busy():  # libpq expects nothing more: never spin
            raise psycopg.errors.InternalError(
                f"pipeline out of step: {self.sent - self._answered} result(s) never came"
            )


    def _end_quiet(self) -> None:
        if self._quiet is not None:
            self._quiet.close()
            self._quiet = None

    def _copy(self, status: int) -> None:
        """A statement that is a COPY (as simple_query.py treats it): FROM STDIN is refused through the protocol
        (a migration has no data to send; the server reports the error, so the statement fails as any
        other), TO STDOUT has its rows read and dropped."""
        pgconn = self.pgconn
        if status == _COPY_IN:
            pgconn.put_copy_end(b"COPY FROM STDIN cannot run in a migration file")
            drain(self.conn)
            return
        with answer.quiet(self.conn) as watch:
            while (n := pgconn.get_copy_data(1)[0]) >= 0:
                if n == 0:
                    watch.select(seconds=POLL_SECONDS)
                    pgconn.consume_input()


_COPY_IN, _COPY_OUT = psycopg.pq.ExecStatus.COPY_IN, psycopg.pq.ExecStatus.COPY_OUT
_SYNC = psycopg.pq.ExecStatus.PIPELINE_SYNC
_FATAL = psycopg.pq.ExecStatus.FATAL_ERROR
_ABORTED = psycopg.pq.ExecStatus.PIPELINE_ABORTED
