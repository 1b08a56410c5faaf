"""Mode 1, pipelined (the default): consecutive migrations queued back to back, about one round trip for all.

Each migration is plain commands: BEGIN, its local timeouts, the two guards (db/run/guards.py), each statement alone
(pipeline mode always uses the extended protocol), its tracking row, COMMIT: asynchronous but for the batch's
last (group commit: the last one's WAL flush makes them all durable; a failed batch flushes with _flush_wal
before it reports). A migration holding a statement
longer than PIPELINE_STATEMENT_LIMIT is never pipelined (executor.Executor runs it with plain.Plain).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from migrakit.core.events import Done, EventSink, Queued, Started
from migrakit.core.migration import STANDARD, Migration
from migrakit.db import tracking
from migrakit.db.run import pipeline
from migrakit.db.run.guards import BUSY, TRACKED, AppliedElsewhere, tripped
from migrakit.db.run.strategies.base import SETTINGS, Run, Sent, block_failure, mark_interrupted, rolled_back
from migrakit.db.run.translate import connection_lost, settings_refused

# A pipelined batch waits for results while this many commands are sent and not answered yet (pipeline.Commands'
# window; a command's text stays in libpq until its result comes), or this many bytes of SQL: it never sends a Sync
# before its end, whose wait would leave the server idle for a round trip.
_WINDOW_COMMANDS = 10_000
_WINDOW_BYTES = 8 << 20
CREATE = "create"  # the role of the commands creating the tracking table at the head of a batch (see Sent.role)


class _Started:
    """Emits 'start' for a pipelined migration only once its first command's result has arrived (it really
    ran), in order; a migration queued after a failure never gets one. A Flush request after that command
    makes the server send its result at once, so the line shows while the migration runs, not after the batch."""

    def __init__(self, on_event: EventSink, count: Callable[[Migration], int], cmds: pipeline.Commands) -> None:
        self.on_event, self.count, self.cmds = on_event, count, cmds
        self.waiting: deque[tuple[Migration, int]] = deque()  # (migration, number of its first command)

    def watch(self, m: Migration, first: int) -> None:
        self.waiting.append((m, first))
        self.poll()

    def poll(self, before: int | None = None) -> None:
        """'start' for the migrations whose first command completed (and, with `before`, was sent before that)."""
        while self.waiting and self.waiting[0][1] < self.cmds.done and (before is None or self.waiting[0][1] < before):
            m, _ = self.waiting.popleft()
            self.on_event(Started(m, self.count(m)))

    def until(self, failed: Migration) -> None:
        """After a failure: 'start' for the migrations up to the failed one (it ran, up to its failing command)."""
        if any(m is failed for m, _ in self.waiting):
            while self.waiting:
                m, _ = self.waiting.popleft()
                self.on_event(Started(m, self.count(m)))
                if m is failed:
                    break


def _numbered(query: str) -> str:
    """migrakit's own `%s` placeholders as the server's `$1`, `$2` ... (its queries hold no other `%`)."""
    parts = query.split("%s")
    return "".join(part + (f"${i}" if i < len(parts) else "") for i, part in enumerate(parts, 1))


# A statement longer than this (characters; bytes for ASCII) is never pipelined: its migration runs alone,
# statement by statement, in its own transaction (consecutive normal migrations keep batching). Below the
# smallest size seen to deadlock psycopg's pipeline without `pipeline.drain` (2 MB over a unix socket), and the
# round trips it costs are nothing next to sending a megabyte.
PIPELINE_STATEMENT_LIMIT = 1 << 20


def fits_pipeline(m: Migration) -> bool:
    """A Mode 1 migration whose every statement is at most PIPELINE_STATEMENT_LIMIT long."""
    return m.mode == STANDARD and all(s.end - s.start <= PIPELINE_STATEMENT_LIMIT for s in m.statements)


class _Committed:
    """Appends a pipelined migration to `applied` and emits 'done' once its COMMIT's result has arrived (a Flush
    request after the COMMIT sends it at once): as each commits, and after a failure exactly those whose COMMIT
    completed before the failing command."""

    def __init__(self, run: Run, cmds: pipeline.Commands, started: _Started) -> None:
        self.run, self.cmds, self.started = run, cmds, started
        self.waiting: deque[tuple[Migration, int]] = deque()  # (migration, number of its COMMIT)
        self.count = 0  # migrations of this batch committed so far

    def watch(self, m: Migration, commit: int) -> None:
        self.waiting.append((m, commit))

    def poll(self) -> None:
        """'start' and 'done' in the order they happened, also when many results arrived at once."""
        while self.waiting and self.waiting[0][1] < self.cmds.done:
            m, commit = self.waiting.popleft()
            self.started.poll(before=commit)
            self.run.applied.append(m.tag)
            self.count += 1
            self.run.on_event(Done(m))
        self.started.poll()


class Pipelined(Run):
    def apply(self, batch: Sequence[Migration], *, create_table: bool = False) -> list[str]:
        """Queue each migration as plain commands: BEGIN, its local timeouts, each statement alone (pipeline
        mode always uses the extended protocol), its tracking row, COMMIT; migrations back to back and one
        Sync at the end, so the whole batch costs one round trip. What is queued and not answered yet is bounded
        by _WINDOW_COMMANDS and _WINDOW_BYTES (pipeline.Commands waits for results past them, the server working
        meanwhile). Commands go out through pipeline.Commands (one libpq call each, no cursor).

        `create_table`: the tracking table is missing (the lock's read saw it): the batch opens with its own
        transaction creating it (tracking.create_statements), committed before the first migration runs, as
        Drizzle creates it before anything; no round trip of its own. If that fails, tracking.ensure_table
        says why (or finds it created by another migrator a moment ago) and the batch is sent again without it.

        PostgreSQL skips everything after the first error until the next Sync: the migrations before the
        failing one are committed (appended to `applied` as their COMMIT is answered), the failing one is rolled
        back, later ones do not run. The first command without a result is the failing command."""
        sent: list[Sent] = []  # commands queued since the last Sync: sent[i] is command number base + i
        base = 0
        settings, values = self.local_settings()
        cmds = pipeline.Commands(self.conn, window=(_WINDOW_COMMANDS, _WINDOW_BYTES))
        own: dict[int, bytes] = {}  # migrakit's own queries (str or sql.Composed), as the bytes sent

        def encoded(query: Any) -> bytes:
            if (b := own.get(id(query))) is None:
                text = query if isinstance(query, str) else query.as_string(self.conn)
                b = own[id(query)] = cmds.encode(_numbered(text))
            return b

        begin, commit, setup, insert = encoded("BEGIN"), encoded("COMMIT"), encoded(settings), encoded(self.insert)
        # Group commit: every COMMIT of the batch but the last is asynchronous; the last one's WAL flush (and
        # synchronous replication wait) covers all earlier ones, WAL being flushed in order.
        setup_async = cmds.encode(_numbered(settings + ", set_config('synchronous_commit', 'off', true)"))
        encoding = cmds.encoding
        started = _Started(self.on_event, self.count, cmds)
        ended = _Committed(self, cmds, started)
        cmds.on_results = ended.poll

        if len(batch) > 1:
            self.on_event(Queued(tuple(batch)))
        try:
            with cmds:
                if create_table:
                    schema, table = self.opts.schema, self.opts.table
                    ddl = [q.as_string(self.conn) for q in tracking.create_statements(schema, table, v1=self.opts.v1)]
                    for query in ("BEGIN", f"SELECT {tracking.BOUNDED}", *ddl, "COMMIT"):  # bounded as ensure_table
                        sent.append(Sent(batch[0], None, None, 0, CREATE))
                        cmds.send(cmds.encode(query))
                last = batch[-1] if batch else None
                for m in batch:
                    sent.append(Sent(m, None, None, 0))
                    cmds.send(begin)
                    sent.append(Sent(m, None, None, 0, SETTINGS))
                    cmds.send(setup if m is last else setup_async, values)
                    for guard, query, params in self.guards.statements(m):
                        sent.append(Sent(m, None, None, 0, guard))
                        number = cmds.send(encoded(query), params)
                        if guard == TRACKED:  # its result arrives only when the migration really runs
                            cmds.flush_request()
                            started.watch(m, number)
                    for i, st in enumerate(m.statements, 1):
                        sent.append(Sent(m, None, st, i))
                        cmds.send(st.text.encode(encoding))
                        if self.fp is not None and self.fp.step():  # a test's failpoint: at a Sync, answered
                            cmds.sync()  # raises the first error, if any
                            ended.poll()
                            sent.clear()
                            base = cmds.sent
                            self.fp.fire(self.conn)
                    sent.append(Sent(m, None, None, None))
                    cmds.send(insert, tracking.insert_params(m, v1=self.opts.v1))
                    sent.append(Sent(m, None, None, None))
                    ended.watch(m, cmds.send(commit))
                    cmds.flush_request()
                    started.poll()
                cmds.sync()
            ended.poll()
        except KeyboardInterrupt as stop:  # Commands cancelled the statement and synced: as a failure there
            failed, fm = self._stopped(cmds, sent, base, batch, ended)
            mark_interrupted(stop, fm, failed)
            raise
        except psycopg.Error as exc:
            failed, fm = self._stopped(cmds, sent, base, batch, ended, exc)
            if failed is not None and failed.role == CREATE and not connection_lost(self.conn, exc):
                # nothing of the batch ran: ensure_table says why (or finds the table another migrator created)
                if isinstance(exc, psycopg.errors.LockNotAvailable):
                    raise tracking.locked_out(self.conn, exc, self.opts.schema, self.opts.table) from None
                tracking.ensure_table(self.conn, self.opts.schema, self.opts.table, v1=self.opts.v1)
                return self.apply(batch)
            if failed is not None and tripped(failed.role, exc):
                raise AppliedElsewhere(fm, busy=failed.role == BUSY) from None
            refused = settings_refused(exc) if failed is not None and failed.role == SETTINGS else None
            if refused is not None:
                raise refused from None
            raise block_failure(self.conn, exc, failed, fm, rolled_back(fm)) from exc
        return self.applied

    def _stopped(
        self,
        cmds: pipeline.Commands,
        sent: list[Sent],
        base: int,
        batch: Sequence[Migration],
        ended: _Committed,
        exc: psycopg.Error | None = None,
    ) -> tuple[Sent | None, Migration]:
        """After a failure or an interrupt: the command that failed and its migration; those committed before it
        are applied, the failed one's transaction (left aborted at the Sync) is rolled back."""
        at = (cmds.failed if cmds.failed is not None else cmds.done) - base
        failed = (sent[at] if 0 <= at < len(sent) else sent[-1]) if sent else None
        fm = failed.migration if failed else batch[0]
        ended.poll()  # those whose COMMIT completed before the failing command
        if not (failed is not None and failed.role in (BUSY, TRACKED, CREATE)):
            ended.started.until(fm)  # 'start' for those that ran, the failed one too
        sent.clear()
        idle = self.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        lost = self.conn.broken or self.conn.closed or (exc is not None and connection_lost(self.conn, exc))
        if not idle and not lost:
            self.conn.execute("ROLLBACK")  # the failed migration's transaction, left aborted at the Sync
        if not lost and ended.count:
            _flush_wal(self.conn)
        return failed, fm


# A transaction with an xid that wrote WAL (a non-transactional logical message: no table touched, any role may
# send one) commits synchronously: its commit flushes the WAL up to it, every earlier commit included.
_FLUSH = "SELECT pg_catalog.txid_current(), pg_catalog.pg_logical_emit_message(false, 'migrakit', 'flush')"


def _flush_wal(conn: psycopg.Connection[Any]) -> None:
    """After a failed batch: its COMMITs were asynchronous but the last (group commit, in `apply`), and the last
    did not happen; make those that did durable before the run reports them applied. Best effort: a server that
    refuses the message (no such function) leaves them to its WAL writer (within 3 × wal_writer_delay)."""
    try:
        conn.execute(_FLUSH)
    except psycopg.Error:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
