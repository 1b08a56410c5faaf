"""`db.migrate --single-transaction`: Drizzle's own migrator, reproduced message for message.

What Drizzle sends (drizzle-orm 0.45 `PgDialect.migrate` in pg-core/dialect, 1.0.0-rc `migrate` in
pg-core/async/session, both through the node-postgres session's `transaction`), once its schema and tracking
table exist and the pending list is known:

1. `begin`, a simple-protocol query.
2. For each pending migration, in order: every breakpoint chunk (`content.split('--> statement-breakpoint')`,
   nothing trimmed, empty chunks too) as ONE simple-protocol query, however many statements it holds; then
   the tracking insert, with parameters (extended protocol, its own Sync).
3. `commit`; on the first error `rollback`, and the error goes to the caller (exit non-zero). 0.x lets a
   failing rollback replace the error, 1.0 ignores it: the exit status is the same.

What that does is the server's business, not Drizzle's, and matters once a file manages transactions itself:
- a file's `COMMIT` commits Drizzle's transaction: earlier migrations and their tracking rows included. Every
  later query runs without a transaction block: a one-statement query is its own transaction, and so is
  each later tracking insert;
- a query of several statements outside a transaction block is one implicit transaction: an error in it
  undoes what that query ran since its last `COMMIT`; `CREATE INDEX CONCURRENTLY` (anything that refuses a
  transaction block) fails in it even as its first statement (25001); a `BEGIN` in it makes it an ordinary
  transaction that stays open after the query;
- `BEGIN` inside an open transaction only warns (so a file's `BEGIN; ... COMMIT;` inside Drizzle's
  transaction ends Drizzle's transaction at its `COMMIT`); a file's `ROLLBACK` discards the open
  transaction, Drizzle's own included; the final `commit` / `rollback` outside a transaction only warns.

Strategy: migrakit sends exactly those queries - each chunk a slice of the file's text, unchanged, as one
simple-protocol query; the tracking insert with parameters - on one autocommit connection. It does not send
statements alone while emulating the server's grouping, because:
- sending the chunks is exact by construction: implicit transactions, the 25001 of CONCURRENTLY inside a
  multi-statement chunk, warning-only BEGIN/COMMIT and a file's ROLLBACK are then decided by the server's own
  transaction state machine (xact.c), on every server version; an emulation would re-implement it and differ
  wherever it is incomplete (each statement alone would even succeed where Drizzle fails);
- nothing is lost for error reports: the server returns one result per statement it completed, so the k-th
  result of a chunk is the k-th statement of that chunk as migrakit's splitter (PostgreSQL's grammar) cuts
  it, and the server's error position is an offset into the chunk, so into the file.
The price is Drizzle's: one round trip per chunk, no pipelining, and a multi-statement chunk sent as one
message (fine over node-postgres or psycopg, refused by HTTP drivers - that is what the default mode is for).

Which migrations are pending is still migrakit's plan (by hash; it refuses what Drizzle would silently skip):
on a database whose rows Drizzle or migrakit wrote in journal order that is the list Drizzle's own rule picks.

migrakit adds only what changes nothing that is committed:
- `lock_timeout` / `statement_timeout` local to the first transaction; once a file's COMMIT has ended it,
  the same values at session level until the run ends (then RESET), so no later wait is unbounded;
- a ledger of every statement and tracking row the server completed and whether its transaction committed,
  so an error says exactly what stayed: "0000_a and 0001_b statements 1-3 stayed committed; tracked: 0000_a";
- a lock_timeout is retried (the whole run, from BEGIN) only while nothing is committed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pgerrors

from migrakit.core.events import Done, DrizzleTransactionEnded, EventSink, Started
from migrakit.core.migration import Migration
from migrakit.core.postgres.statements import Statement, keyword_head
from migrakit.db import tracking
from migrakit.db.run.strategies import drizzle_chunks, simple_query
from migrakit.db.run.strategies.base import Options, Run
from migrakit.db.run.translate import (
    concurrent_index_fix,
    connection_lost,
    failure,
    leftover_index,
    lost,
    settings_refused,
)
from migrakit.errors import LockTimeout, MigrakitError

IDLE = psycopg.pq.TransactionStatus.IDLE
_ROLLBACK_TO = re.compile(r"\AROLLBACK(?:\s+(?:WORK|TRANSACTION))?\s+TO\b", re.IGNORECASE)
_TIMEOUTS = "SELECT set_config('lock_timeout', %s, %s), set_config('statement_timeout', %s, %s)"


@dataclass
class _Done:
    """One statement (or tracking row) the server completed, and what became of its transaction."""

    migration: int  # index into the run's migrations
    statement: int | None  # 1-based number in its migration; None: a tracking row, or not known (unsplittable)
    row: bool = False
    committed: bool | None = None  # None while its transaction is open


def _ranges(numbers: Sequence[int]) -> str:
    """[1, 2, 3, 5] -> '1-3, 5'."""
    out: list[str] = []
    for n in sorted(numbers):
        if out and out[-1].split("-")[-1] == str(n - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ", ".join(out)


class DrizzleRun:
    """One `--single-transaction` run: `apply` sends Drizzle's queries; `state` and `tracked` say what stayed."""

    def __init__(self, conn: psycopg.Connection[Any], opts: Options, on_event: EventSink) -> None:
        self.conn = conn
        self.opts = opts
        self.on_event = on_event
        self._insert = tracking.insert_sql(opts.schema, opts.table, v1=opts.v1)
        self.migrations: list[Migration] = []
        self.done: list[_Done] = []
        self._open = 0  # self.done[_open:] are in the transaction open now
        self._session_timeouts = False
        self._ended_at: int | None = None  # migration whose query first ended Drizzle's transaction

    # ------------------------------------------------------------------------------------------ running
    def apply(self, migrations: Sequence[Migration]) -> None:
        """Run `migrations` as Drizzle's migrator does; raise on the first error, after Drizzle's rollback."""
        self.migrations, self.done, self._open = list(migrations), [], 0
        self._session_timeouts, self._ended_at = False, None
        if not self.migrations:  # Drizzle would send begin and commit: nothing that changes anything
            return
        try:
            self._query(0, "BEGIN")  # Drizzle's `begin`
            self._query(0, _TIMEOUTS, (self.opts.lock_timeout, True, self.opts.statement_timeout, True))
            for mi, m in enumerate(self.migrations):
                chunks = drizzle_chunks.chunks(m)
                by_chunk = drizzle_chunks.statements_by_chunk(m, len(chunks))
                count = sum(len(c) for c in by_chunk) if by_chunk is not None else len(chunks)
                self.on_event(Started(m, count))
                for ci, (offset, text) in enumerate(chunks):
                    self._chunk(mi, ci, offset, text, by_chunk[ci] if by_chunk is not None else None)
                self._row(mi)
            if self.conn.info.transaction_status != IDLE:
                self._query(len(self.migrations) - 1, "COMMIT")  # Drizzle's `commit` (outside a transaction: a warning)
                self._settled(True)
        finally:
            self._reset_session_timeouts()

    def _query(self, mi: int, query: Any, params: Any = None) -> None:
        """BEGIN, the timeouts, COMMIT: the commands around the migrations; `mi` the migration errors name."""
        try:
            self.conn.execute(query, params, prepare=False)
        except psycopg.Error as exc:
            setting = settings_refused(exc) if query is _TIMEOUTS else None
            if setting is not None:
                self._rollback(exc)
                raise setting from None
            where = "the run's final COMMIT" if query == "COMMIT" else "the run's BEGIN, before its first statement"
            raise self._error(exc, self.migrations[mi], None, None, where) from exc

    def _chunk(self, mi: int, ci: int, offset: int, text: str, stmts: list[tuple[int, Statement]] | None) -> None:
        try:  # no parameters: the simple protocol, as node-postgres
            outcome = simple_query.run(self.conn, text.encode("utf-8"))
        except psycopg.Error as exc:  # the connection was lost: what the server completed is unknown
            raise self._error(exc, self.migrations[mi], None, (ci, offset, text), None) from exc
        self._completed(mi, outcome.tags, stmts)
        if outcome.error is not None:
            done = len(outcome.tags)
            failing = stmts[done] if stmts is not None and done < len(stmts) else None
            raise self._error(outcome.error, self.migrations[mi], failing, (ci, offset, text), None) from outcome.error
        self._after_query(mi)

    def _row(self, mi: int) -> None:
        m = self.migrations[mi]
        try:
            self.conn.execute(self._insert, tracking.insert_params(m, v1=self.opts.v1), prepare=False)
        except psycopg.Error as exc:
            raise self._error(exc, m, None, None, "its tracking row") from exc
        self.done.append(_Done(mi, None, row=True))
        self._after_query(mi)

    def _completed(self, mi: int, tags: Sequence[str], stmts: list[tuple[int, Statement]] | None) -> None:
        """Ledger the statements a query completed; a COMMIT or ROLLBACK among them ends the open transaction."""
        for k, tag in enumerate(tags):
            st = stmts[k] if stmts is not None and k < len(stmts) else None
            self.done.append(_Done(mi, st[0] if st else None))
            if tag == "COMMIT":
                self._settled(True, mi)
            elif tag == "ROLLBACK" and not (st and _ROLLBACK_TO.match(keyword_head(st[1].text))):
                self._settled(False, mi)

    def _after_query(self, mi: int) -> None:
        """After a query that succeeded: outside a transaction block now, everything it ran is committed."""
        if self.conn.info.transaction_status == IDLE:
            self._settled(True, mi)
            if not self._session_timeouts:
                # The local timeouts ended with the transaction; what follows runs in autocommit (as under Drizzle)
                # and keeps the same bounds at session level until the run ends.
                try:
                    self.conn.execute(
                        _TIMEOUTS, (self.opts.lock_timeout, False, self.opts.statement_timeout, False), prepare=False
                    )
                except psycopg.Error as exc:
                    raise self._error(exc, self.migrations[mi], None, None, "setting its timeouts") from exc
                self._session_timeouts = True

    def _settled(self, committed: bool, mi: int | None = None) -> None:
        for d in self.done[self._open :]:
            d.committed = committed
            if committed and d.row:
                self.on_event(Done(self.migrations[d.migration]))
        self._open = len(self.done)
        if mi is not None and self._ended_at is None:
            self._ended_at = mi
            self.on_event(DrizzleTransactionEnded(self.migrations[mi], committed))

    def _rollback(self, exc: psycopg.Error) -> None:
        """Drizzle's `rollback` after an error: undoes the transaction open now (none: only a warning)."""
        if not connection_lost(self.conn, exc) and self.conn.info.transaction_status != IDLE:
            try:
                self.conn.execute("ROLLBACK")
            except psycopg.Error:  # the connection died now: the server rolls the transaction back itself
                pass
        self._settled(False)

    def _reset_session_timeouts(self) -> None:
        if self._session_timeouts and not self.conn.broken and not self.conn.closed:
            try:
                self.conn.execute("RESET lock_timeout; RESET statement_timeout")
                self._session_timeouts = False
            except psycopg.Error:  # a dead connection takes its settings with it; the run's own error matters
                pass

    # ------------------------------------------------------------------------------------------- errors
    def _error(
        self,
        exc: psycopg.Error,
        m: Migration,
        failing: tuple[int, Statement] | None,
        chunk: tuple[int, int, str] | None,
        where: str | None,
    ) -> MigrakitError:
        was_lost = connection_lost(self.conn, exc)
        self._rollback(exc)
        state = self.state()
        no, st = failing if failing else (None, None)
        count = drizzle_chunks.statement_count(m)
        if was_lost:
            place = where or (f"statement {no} of {count}" if no else f"chunk {chunk[0] + 1 if chunk else '?'}")
            return lost(
                exc,
                m,
                place,
                f"{state}; the server rolled back the transaction that was open (unless the connection dropped "
                "during COMMIT: `inv db.status` shows which rows exist)",
            )
        err = failure(exc, m, st, no, count, state)
        if where and not no:
            err.message = f"migration {m.tag} failed at {where}"
        if chunk is not None:
            drizzle_chunks.locate(err, exc, m, st, chunk)
        if st is not None and exc.sqlstate == pgerrors.ActiveSqlTransaction.sqlstate:
            err.fix = (
                "--single-transaction runs as Drizzle's migrator does: every pending migration in one transaction, "
                "and a chunk of several statements as one implicit transaction, where this statement cannot run. "
                "Put `COMMIT;` and `--> statement-breakpoint` right before it in the file (what Drizzle users do), "
                "or run without --single-transaction (it runs such a statement alone, outside a transaction)"
            )
        if st is not None:
            try:
                leftover = leftover_index(self.conn, st) if not self.conn.broken else None
                cleanup = concurrent_index_fix(self.conn, st) if leftover else None
            except psycopg.Error:
                leftover = cleanup = None
            # INVALID: unlike the default mode, a -s run (as Drizzle's) never drops it
            if leftover and cleanup and not leftover[1]:
                err.state = f"{err.state}; {cleanup[0]}"
                err.fix = (
                    f"fix the cause above, then drop the INVALID index (`DROP INDEX CONCURRENTLY {leftover[0]};`) "
                    "before running again: a --single-transaction run, like Drizzle's, does not drop it, "
                    "so the statement would fail on it (or, with IF NOT EXISTS, leave it INVALID)"
                )
            elif cleanup:
                err.state, err.fix = f"{err.state}; {cleanup[0]}", cleanup[1]
        again = self._partial_fix()
        if again:
            err.fix = f"{err.fix}; {again}"
        if exc.sqlstate == pgerrors.LockNotAvailable.sqlstate and self.tracked_or_committed():
            return LockTimeout(  # not retried: part of the run is committed, a retry from BEGIN would repeat it
                f"migration {m.tag} could not get its locks within lock_timeout={self.opts.lock_timeout}; not retried, "
                "part of this run is already committed",
                file=err.file, migration=err.migration, statement_no=err.statement_no, line=err.line, col=err.col,
                cause=err.cause, state=err.state,
                fix=f"let the transaction in the way finish, then {again or 'run again'}",
            )  # fmt: skip
        return err

    # -------------------------------------------------------------------------------------------- state
    @property
    def tracked(self) -> list[str]:
        """Tags whose tracking row is committed."""
        return [self.migrations[d.migration].tag for d in self.done if d.row and d.committed]

    def tracked_or_committed(self) -> bool:
        return any(d.committed for d in self.done)

    def _partial(self) -> list[tuple[Migration, list[int | None]]]:
        """Migrations with statements that stayed committed but no committed tracking row."""
        tracked = {d.migration for d in self.done if d.row and d.committed}
        out: dict[int, list[int | None]] = {}
        for d in self.done:
            if d.committed and not d.row and d.migration not in tracked:
                out.setdefault(d.migration, []).append(d.statement)
        return [(self.migrations[i], nos) for i, nos in sorted(out.items())]

    def _partial_fix(self) -> str | None:
        partial = self._partial()
        if not partial:
            return None
        m, nos = partial[-1]
        return (
            f"{m.tag} is not tracked although {self._which(m, nos)} took effect: the next run (migrakit or Drizzle) "
            "starts it again at its first statement, so first undo those by hand or make them idempotent "
            "(IF NOT EXISTS ...), then run `inv db.migrate --single-transaction` again"
        )

    def _which(self, m: Migration, nos: list[int | None]) -> str:
        known = [n for n in nos if n is not None]
        if not known:
            return "some of its statements"
        return f"statement(s) {_ranges(known)} of {drizzle_chunks.statement_count(m)}"

    def state(self) -> str:
        """What the database holds from this run, from the ledger."""
        if not any(d.committed for d in self.done):
            return (
                "nothing from this run was applied: Drizzle's single transaction was rolled back; "
                "tracking table unchanged"
            )
        committed_in: list[str] = []
        for i, m in enumerate(self.migrations):
            mine = [d for d in self.done if d.migration == i and d.committed]
            if not mine:
                continue
            if any(d.row for d in mine):
                committed_in.append(m.tag)
            else:
                committed_in.append(f"{m.tag} {self._which(m, [d.statement for d in mine])}")
        tracked = self.tracked
        parts = [
            "stayed committed: " + "; ".join(committed_in),
            "tracked by this run: " + (", ".join(tracked) if tracked else "none"),
        ]
        partial = [m.tag for m, _ in self._partial()]
        if partial:
            parts.append(f"not tracked although partly applied: {', '.join(partial)}")
        undone = [self.migrations[i].tag for i in sorted({d.migration for d in self.done if d.committed is False})]
        if undone:
            parts.append(f"rolled back: what ran of {', '.join(undone)} after the last commit")
        return "; ".join(parts) + " (what Drizzle's migrator leaves after the same failure)"


class SingleTransaction(Run):
    """The `--single-transaction` strategy: a DrizzleRun, retrying a lock_timeout only while nothing is
    committed; the tags tracked (also after a failure) are appended to `applied`."""

    def apply(self, migrations: Sequence[Migration]) -> list[str]:
        run = DrizzleRun(self.conn, self.opts, self.on_event)
        try:
            self.retrying(lambda: run.apply(migrations), run.state)
        finally:
            self.applied.extend(run.tracked)
        return list(self.applied)
