"""Mode 1 migrations that cannot run in a wrapping transaction: a file with its own BEGIN/COMMIT, or a lone
CREATE INDEX CONCURRENTLY. Run as written, each statement recorded in migrakit's own table when it completed
(db/run/progress.py), so a run that stopped halfway resumes after the statements that took effect, once it has
checked they are unchanged. The tracking row is written only after the last statement succeeded.

Its settings cannot be SET LOCAL (there is no transaction around it): they are set for the session and RESET at
the end, so it needs a session of its own; behind a transaction pooler the executor runs it on the direct
connection (direct_url).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql

from migrakit.core.classify import commits_as_it_goes
from migrakit.core.events import Done, DroppedInvalidIndex, IndexAlreadyBuilt, Resumed, Started, StatementDone
from migrakit.core.migration import Migration
from migrakit.core.postgres.statements import NO_TRANSACTION, PLAIN
from migrakit.db import tracking
from migrakit.db.run import progress
from migrakit.db.run.guards import AppliedElsewhere
from migrakit.db.run.strategies.base import Run, reset_settings
from migrakit.db.run.translate import concurrent_index_fix, connection_lost, existing_index, failure, index_name, lost
from migrakit.errors import LockTimeout, MigrakitError


def check_progress(conn: psycopg.Connection[Any], tracking_name: str, migrations: Sequence[Migration]) -> None:
    """Before anything runs: a migration that stopped halfway in an earlier run must still hold the
    statements that completed then (raises DriftError otherwise). Reads only; creates nothing."""
    outside = [m for m in migrations if m.runs_outside_transaction]
    if outside and progress.exists(conn):
        for m in outside:
            progress.resume_point(m, progress.read(conn, tracking_name, m.tag), tracking_name)


class Outside(Run):
    @property
    def _tracking_name(self) -> str:
        return progress.tracking_key(self.opts.schema, self.opts.table)

    def apply_one(self, m: Migration) -> None:
        stmts = m.statements
        m.check_runnable()
        progress.ensure_table(self.conn)
        done = progress.resume_point(m, progress.read(self.conn, self._tracking_name, m.tag), self._tracking_name)
        self.on_event(Started(m, len(stmts)))
        if done:
            self.on_event(Resumed(m, done, len(stmts)))
        try:
            self.set_timeouts(local=False)
            self.retrying(lambda: self._run_outside(m), lambda: self._outside_state(m))
        except LockTimeout as err:  # the last lock_timeout of a CREATE INDEX CONCURRENTLY leaves an INVALID index
            _name_leftover(self.conn, err, stmts[err.statement_no - 1] if err.statement_no else None)
            raise
        except psycopg.Error as exc:  # between statements (reading or writing progress)
            if not connection_lost(self.conn, exc):
                raise
            raise lost(
                exc,
                m,
                "between two statements",
                f"{m.tag} runs without a wrapping transaction: the statements that completed are recorded in "
                f"{progress.SCHEMA}.{progress.TABLE}; tracking table unchanged; "
                "the next `inv db.migrate` resumes after them",
            ) from exc
        finally:
            reset_settings(self.conn, self.opts)
        self.on_event(Done(m))
        self.applied.append(m.tag)

    def _completed(self, m: Migration) -> int:
        return sum(1 for r in progress.read(self.conn, self._tracking_name, m.tag) if r.completed_at is not None)

    def _run_outside(self, m: Migration) -> None:
        """Run `m`'s statements from the first one not recorded as completed, then its tracking row."""
        idle = psycopg.pq.TransactionStatus.IDLE
        for i in range(self._completed(m), len(m.statements)):
            self._run_outside_statement(m, i)
            self.on_event(StatementDone(m, i + 1))
        try:  # the tracking row and the end of the progress record commit together
            if self.conn.info.transaction_status == idle:
                self.conn.execute("BEGIN")
            try:
                self.guards.run(self.conn, m)
            except AppliedElsewhere:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute(self.insert, tracking.insert_params(m, v1=self.opts.v1))
            progress.clear(self.conn, self._tracking_name, m.tag)
            self.conn.execute("COMMIT")  # also ends a transaction the file left open, as Drizzle's final commit does
        except psycopg.Error as exc:
            raise self._outside_failure(exc, m, None) from exc

    def _run_outside_statement(self, m: Migration, i: int) -> None:
        """Statement i (0-based) and its progress row, atomically where PostgreSQL allows it: a plain
        statement in a transaction of its own, one inside the file's own BEGIN..COMMIT in that transaction.
        A statement that cannot run in a transaction (CONCURRENTLY, VACUUM ...) and the file's own
        transaction-control statements are recorded right after they complete."""
        st = m.statements[i]
        wrap = st.kind == PLAIN and self.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        try:
            if self._index_built_before(m, i):
                progress.record(self.conn, self._tracking_name, m, i + 1)
                return
            if index_name(st) and st.kind == NO_TRANSACTION:
                progress.record(self.conn, self._tracking_name, m, i + 1, started=True)
            if wrap:
                self.conn.execute("BEGIN")
            try:
                self.conn.execute(st.text, binary=True)
            except pgerrors.ActiveSqlTransaction:
                if not wrap:
                    raise
                self.conn.execute("ROLLBACK")  # a statement migrakit did not know must run alone
                wrap = False
                self.conn.execute(st.text, binary=True)
            if self.fp is not None and self.fp.step():
                self.fp.fire(self.conn)  # completed, not yet recorded: the hardest place to stop
            progress.record(self.conn, self._tracking_name, m, i + 1)
            if wrap:
                self.conn.execute("COMMIT")
        except psycopg.Error as exc:
            raise self._outside_failure(exc, m, i) from exc

    def _index_built_before(self, m: Migration, i: int) -> bool:
        """Before running CREATE INDEX CONCURRENTLY again: True when an earlier run of this very statement
        built the index but died before recording it (a started row, and the index now valid). An INVALID
        leftover (the build failed or was interrupted) is dropped, as PostgreSQL's documentation advises: the
        statement has not completed, the migration lock is held, and an index someone is still building
        cannot be dropped within lock_timeout. A valid index without a started row is left alone (the
        statement then fails, naming it)."""
        st = m.statements[i]
        if st.kind != NO_TRANSACTION or self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            return False
        found = existing_index(self.conn, st)
        if found is None:
            return False
        shown = sql.Identifier(found[0], found[1]).as_string(self.conn)
        if found[2]:
            if progress.started(progress.read(self.conn, self._tracking_name, m.tag), m, i + 1):
                self.on_event(IndexAlreadyBuilt(m, shown))
                return True
            return False
        self.conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(found[0], found[1])))
        self.on_event(DroppedInvalidIndex(m, shown))
        return False

    def _outside_state(self, m: Migration) -> str:
        done, total = self._completed(m), len(m.statements)
        if done < total and commits_as_it_goes(m.statements[done].text):
            before = f"statements 1-{done} of {total} took effect, and " if done else ""
            return (
                f"{m.tag} runs without a wrapping transaction: {before}statement {done + 1}, a DO block that commits "
                "as it goes (a batched backfill), kept the batches it committed before it stopped; tracking table "
                "unchanged; the next `inv db.migrate` runs that statement again, which goes on from there"
            )
        if not done:
            return f"nothing from {m.tag} was applied; tracking table unchanged"
        return (
            f"{m.tag} runs without a wrapping transaction: statements 1-{done} of {total} took effect and are recorded "
            f"in {progress.SCHEMA}.{progress.TABLE}; tracking table unchanged; the next `inv db.migrate` checks they "
            f"are unchanged and resumes at statement {done + 1}"
        )

    def _outside_failure(self, exc: psycopg.Error, m: Migration, i: int | None) -> MigrakitError:
        stmts = m.statements
        where = f"statement {i + 1} of {len(stmts)}" if i is not None else "its tracking row"
        if connection_lost(self.conn, exc):
            return lost(
                exc,
                m,
                where,
                f"{m.tag} runs without a wrapping transaction: the statements before {where} that completed are "
                f"recorded in {progress.SCHEMA}.{progress.TABLE} (those inside the file's own open transaction were "
                "rolled back with it); tracking table unchanged; the next `inv db.migrate` resumes after them",
            )
        if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self.conn.execute("ROLLBACK")
        err = failure(
            exc,
            m,
            stmts[i] if i is not None else None,
            i + 1 if i is not None else None,
            len(stmts),
            self._outside_state(m),
        )
        if i is not None and self._completed(m):
            err.fix = f"{err.fix} (edit only statement {i + 1} or later: the ones before it took effect)"
        _name_leftover(self.conn, err, stmts[i] if i is not None else None)
        return err


def _name_leftover(conn: psycopg.Connection[Any], err: MigrakitError, stmt: Any) -> None:
    """A failed or timed-out CREATE INDEX CONCURRENTLY left its index behind: the error names it (INVALID, or
    valid when an interrupted run built it) with its `DROP INDEX CONCURRENTLY`, after the fix of the cause (a
    timeout's fix still says which setting to raise)."""
    cleanup = concurrent_index_fix(conn, stmt) if stmt is not None and not conn.broken else None
    if cleanup:
        err.state = f"{err.state}; {cleanup[0]}"
        err.fix = f"{err.fix.rstrip('. ')}; then: {cleanup[1]}" if err.fix else cleanup[1]
