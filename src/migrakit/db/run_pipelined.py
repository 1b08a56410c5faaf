"""Mode 1, pipelined (the default): consecutive migrations queued back to back, about one round trip for all.

Each migration is plain commands: BEGIN, its local timeouts, the two guards (db/guards.py), each statement alone
(pipeline mode always uses the extended protocol), its tracking row, COMMIT. A migration holding a statement
longer than PIPELINE_STATEMENT_LIMIT is never pipelined (executor.Executor runs it with run_plain.Plain).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from ..core.events import Done, EventSink, Queued, Started
from ..core.migration import STANDARD, Migration
from ..core.statements import Statement
from . import pipeline, tracking
from .guards import BUSY, TRACKED, AppliedElsewhere, tripped
from .run_base import SETTINGS, Run, Sent, block_failure, rolled_back
from .translate import connection_lost, settings_refused

_SYNC_STATEMENTS = 1000  # a pipelined batch sends a Sync (and frees what it holds) after this many statements
_SYNC_BYTES = 8 << 20  # ... or this many characters of SQL


class _Started:
    """Emits 'start' for a pipelined migration only once its first command's result has arrived (it really
    ran), in order; a migration queued after a failure never gets one."""

    def __init__(self, on_event: EventSink, count: Callable[[Migration], int]) -> None:
        self.on_event, self.count = on_event, count
        self.waiting: list[tuple[Migration, psycopg.Cursor[Any]]] = []

    def watch(self, m: Migration, first: psycopg.Cursor[Any]) -> None:
        self.waiting.append((m, first))
        self.poll()

    def poll(self) -> None:
        while self.waiting and self.waiting[0][1].pgresult is not None:
            m, _ = self.waiting.pop(0)
            self.on_event(Started(m, self.count(m)))

    def until(self, failed: Migration) -> None:
        """After a failure: 'start' for the migrations up to the failed one (it ran, up to its failing command)."""
        if any(m is failed for m, _ in self.waiting):
            while self.waiting:
                m, _ = self.waiting.pop(0)
                self.on_event(Started(m, self.count(m)))
                if m is failed:
                    break


# A statement longer than this (characters; bytes for ASCII) is never pipelined: its migration runs alone,
# statement by statement, in its own transaction (consecutive normal migrations keep batching). Below the
# smallest size seen to deadlock psycopg's pipeline without `pipeline.drain` (2 MB over a unix socket), and the
# round trips it costs are nothing next to sending a megabyte.
PIPELINE_STATEMENT_LIMIT = 1 << 20


def fits_pipeline(m: Migration) -> bool:
    """A Mode 1 migration whose every statement is at most PIPELINE_STATEMENT_LIMIT long."""
    return m.mode == STANDARD and all(s.end - s.start <= PIPELINE_STATEMENT_LIMIT for s in m.statements)


class Pipelined(Run):
    def apply(self, batch: Sequence[Migration]) -> list[str]:
        """Queue each migration as plain commands: BEGIN, its local timeouts, each statement alone (pipeline
        mode always uses the extended protocol), its tracking row, COMMIT; migrations back to back and one
        Sync at the end, so the whole batch costs about one round trip. A Sync also goes out every
        _SYNC_STATEMENTS statements or _SYNC_BYTES of SQL (a transaction spans Syncs), and the cursors whose
        results arrived are released, which bounds memory on a large file.

        PostgreSQL skips everything after the first error until the next Sync: the migrations before the
        failing one are committed (appended to `applied`), the failing one is rolled back, later ones do not
        run. The first cursor without a result is the failing command."""
        sent: list[Sent] = []  # commands queued since the last Sync
        ends: list[Migration] = []  # migrations whose COMMIT was queued since the last Sync
        size = 0
        settings, values = self.local_settings()

        started = _Started(self.on_event, self.count)

        def queue(
            m: Migration, query: Any, params: Any = None, st: Statement | None = None, no: int | None = None,
            role: str = "", cur: psycopg.Cursor[Any] | None = None,
        ) -> int:
            cur = cur or self.conn.cursor()
            sent.append(Sent(m, cur, st, no, role))
            cur.execute(query, params, prepare=False if st is not None else None)
            started.poll()
            return len(query) if isinstance(query, str) else 0

        def committed(migrations: Sequence[Migration]) -> None:
            started.poll()
            for done in migrations:
                self.applied.append(done.tag)
                self.on_event(Done(done))

        if len(batch) > 1:
            self.on_event(Queued(tuple(batch)))
        try:
            with self.conn.pipeline() as pipe:
                for m in batch:
                    queue(m, "BEGIN", no=0)
                    queue(m, settings, values, no=0, role=SETTINGS)
                    for guard, query, params in self.guards.statements(m):
                        cur = self.conn.cursor()
                        if guard == TRACKED:  # its result arrives only when the migration really runs
                            started.watch(m, cur)
                        queue(m, query, params, no=0, role=guard, cur=cur)
                    for i, st in enumerate(m.statements):
                        size += queue(m, st.text, None, st, i + 1)
                        due = self.fp is not None and self.fp.step()
                        if due or len(sent) >= _SYNC_STATEMENTS or size >= _SYNC_BYTES:
                            pipeline.sync(self.conn, pipe)  # raises the first error, if any
                            committed(ends)
                            sent.clear()
                            ends.clear()
                            size = 0
                        if due:
                            self.fp.fire(self.conn)  # type: ignore[union-attr]
                    queue(m, self.insert, tracking.insert_params(m, v1=self.opts.v1))
                    queue(m, "COMMIT")
                    ends.append(m)
            committed(ends)
        except psycopg.Error as exc:
            failed = next((s for s in sent if s.cursor is not None and s.cursor.pgresult is None), sent[-1]) if sent else None
            fm = failed.migration if failed else batch[0]
            committed(ends[: ends.index(fm)] if fm in ends else ends)
            if not (failed is not None and failed.role in (BUSY, TRACKED)):
                started.until(fm)  # 'start' for those that ran, the failed one too
            sent.clear()
            idle = self.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            if not idle and not connection_lost(self.conn, exc):
                self.conn.execute("ROLLBACK")  # the failed migration's transaction, left aborted at the Sync
            if failed is not None and tripped(failed.role, exc):
                raise AppliedElsewhere(fm, busy=failed.role == BUSY) from None
            refused = settings_refused(exc) if failed is not None and failed.role == SETTINGS else None
            if refused is not None:
                raise refused from None
            raise block_failure(self.conn, exc, failed, fm, rolled_back(fm)) from exc
        return self.applied
