"""Running a rollback's steps (db.rollback), and reading the rows its down statements would destroy.

Each migration is undone in one transaction: the busy guard (db/run/guards.py's `APPLY_LOCK`), the check that
its tracking row is still there with its hash, the down statements (each alone, over the extended protocol, as
Mode 1 sends an up file's), then `DELETE` of exactly that row (by id and hash), `COMMIT`. The checks live inside
the transaction, so they hold through a transaction pooler whatever happened to the migration lock; a crash
anywhere rolls the transaction back and the next run finds the row still there. A down that must run outside a
transaction (DROP INDEX CONCURRENTLY) runs alone after the same checks, then its row is deleted in a guarded
transaction; a crash between the two leaves the row, and the next run repeats the statement (write it with
IF EXISTS: db.generate-down does). `single_transaction`: every step in one transaction.
Each transaction starts with db.migrate's settings (db/run/strategies/base.set_timeouts, SET LOCAL): lock_timeout,
statement_timeout, client_connection_check_interval and a schema target's search_path (a fleet's tenant); a down
that runs outside a transaction has them for the session, RESET after. A down statement that waits longer than
lock_timeout rolls its transaction back and is retried as db.migrate retries (db/run/blockers.with_lock_retries),
then exit 4 naming the session in the way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql

from migrakit.core.rollback import Loss, Step, Undoing, Undone
from migrakit.db import tracking
from migrakit.db.run import failpoint, translate
from migrakit.db.run.blockers import with_lock_retries
from migrakit.db.run.guards import APPLY_LOCK
from migrakit.db.run.lock import apply_key
from migrakit.db.run.strategies.base import Options, reset_settings, set_timeouts
from migrakit.errors import LockTimeout, MigrakitError

_COUNT_CAP = 10_000  # rows counted at most where the estimate is unknown (a bound on the read, not on the answer)
_UNDONE_BY_OTHER = "another migrator changed the tracking table during the rollback"


def rows_at_risk(conn: psycopg.Connection[Any], losses: Sequence[Loss]) -> dict[str, int]:
    """Each table a down statement would destroy data in, with its estimated rows (pg_class.reltuples); where the
    estimate says 0 or unknown (-1: never analyzed yet), the rows are counted, up to _COUNT_CAP; 0 for a table
    that does not exist. Read only."""
    found: dict[str, int] = {}
    for loss in losses:
        if loss.table in found:
            continue
        name = (
            sql.SQL("{}.{}").format(sql.Identifier(loss.schema), sql.Identifier(loss.relation))
            if loss.schema
            else sql.Identifier(loss.relation)
        )
        text = name.as_string(conn)
        row = conn.execute(
            "SELECT c.reltuples::bigint, c.relkind FROM pg_catalog.pg_class c WHERE c.oid = to_regclass(%s)", (text,)
        ).fetchone()
        if row is None or row[1] not in ("r", "p"):
            found[loss.table] = 0
            continue
        estimate = int(row[0])
        if estimate <= 0:
            counted = conn.execute(
                sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} LIMIT %s) AS sample").format(name), (_COUNT_CAP,)
            ).fetchone()
            estimate = int(counted[0]) if counted else 0
        found[loss.table] = estimate
    return found


_ENUM_FIX = (
    "rows still hold an enum value this down removes (PostgreSQL cannot drop a value, so the down recreates the type "
    "without it; the cause names the value): update or delete those rows, then run `inv db.rollback` again"
)


def _enum_value_held(exc: psycopg.Error) -> bool:
    """A recast of a column to an enum recreated without a value that some row holds (22P02)."""
    return isinstance(exc, pgerrors.InvalidTextRepresentation) and "for enum" in (exc.diag.message_primary or "")


class Undoer:
    """Undoes steps on `conn` (autocommit, no transaction open) for one tracking table."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        schema: str,
        table: str,
        on_event: Callable[[object], None],
        opts: Options | None = None,
    ) -> None:
        self.conn = conn
        self.opts = opts or Options(schema=schema, table=table)  # db.migrate's: workflows/steps/options.py
        self.key = apply_key(schema, table)
        self.on_event = on_event
        target = tracking.table(schema, table)
        self._present = sql.SQL("SELECT 1 / count(*)::int FROM {} WHERE id = %s AND hash = %s").format(target)
        self._delete = sql.SQL("DELETE FROM {} WHERE id = %s AND hash = %s").format(target)
        self.undone: list[str] = []
        self.single = False
        self.fp = failpoint.from_env()  # tests: a crash right after the K-th down statement completed

    def run(self, steps: Sequence[Step], *, single_transaction: bool = False) -> list[str]:
        """Undo `steps` in order; returns the tags undone. A failure raises a MigrakitError naming the down file,
        statement, line and column, what was undone and what was not."""
        if single_transaction:
            self.single = True

            def every() -> None:
                with self.conn.transaction():
                    self._begin(steps[0])
                    for step in steps:
                        self._one(step, steps)

            self._retrying(every, steps)
            self.undone = [s.migration.tag for s in steps]
            return self.undone
        for step in steps:
            if step.down.runs_outside_transaction:
                with self.conn.transaction():
                    self._begin(step)
                    self._guard(step, steps)
                self._retrying(partial(self._outside, step, steps), steps)
                with self.conn.transaction():
                    self._begin(step)
                    self._guard(step, steps)
                    self._forget(step, steps)
            else:
                self._retrying(partial(self._in_transaction, step, steps), steps)
            self.undone.append(step.migration.tag)
            self.on_event(Undone(step.migration))
        return self.undone

    def _retrying(self, run: Callable[[], None], steps: Sequence[Step]) -> None:
        """`run`, retried after a lock_timeout as db.migrate retries (its transaction was rolled back whole)."""
        words = {"subject": "the down file of", "command": "db.rollback"}
        with_lock_retries(self.conn, run, lambda: self._state(steps), lambda: len(self.undone), self.opts,
                          self.on_event, **words)  # fmt: skip

    def _in_transaction(self, step: Step, steps: Sequence[Step]) -> None:
        with self.conn.transaction():
            self._begin(step)
            self._one(step, steps)

    def _one(self, step: Step, steps: Sequence[Step]) -> None:
        self._guard(step, steps)
        self._statements(step, steps)
        self._forget(step, steps)

    def _state(self, steps: Sequence[Step]) -> str:
        if self.single:
            return "nothing was undone: the rollback's single transaction was rolled back"
        done = ", ".join(self.undone) if self.undone else "none"
        left = [s.migration.tag for s in steps if s.migration.tag not in self.undone]
        return f"undone before it: {done}; still applied: {', '.join(left)} (its transaction was rolled back)"

    def _begin(self, step: Step) -> None:
        """The start of each transaction: db.migrate's settings for it alone (SET LOCAL), then the busy guard."""
        set_timeouts(self.conn, self.opts)
        self._busy(step)

    def _outside(self, step: Step, steps: Sequence[Step]) -> None:
        """A down that runs outside a transaction, with db.migrate's settings for the session meanwhile."""
        set_timeouts(self.conn, self.opts, local=False)
        try:
            self._statements(step, steps, outside=True)
        finally:
            reset_settings(self.conn, self.opts)

    def _busy(self, step: Step) -> None:
        try:
            self.conn.execute(APPLY_LOCK, (self.key,))
        except pgerrors.DivisionByZero:
            raise LockTimeout(
                f"{_UNDONE_BY_OTHER}: another migration transaction is open",
                file=step.down.path,
                migration=step.migration.tag,
                state=f"nothing of {step.migration.tag} was undone; "
                f"undone before it: {', '.join(self.undone) or 'none'}",
                fix="wait for the other migrator, then run `inv db.status` and `inv db.rollback` again",
            ) from None

    def _guard(self, step: Step, steps: Sequence[Step]) -> None:
        try:
            self.conn.execute(self._present, (step.row.id, step.row.hash))
        except pgerrors.DivisionByZero:
            raise LockTimeout(
                f"{_UNDONE_BY_OTHER}: the tracking row of {step.migration.tag} (id {step.row.id}) is gone",
                file=step.down.path,
                migration=step.migration.tag,
                state=self._state(steps),
                fix="run `inv db.status` to see what is applied, then `inv db.rollback` again",
            ) from None

    def _statements(self, step: Step, steps: Sequence[Step], *, outside: bool = False) -> None:
        down = step.down
        stmts = down.statements
        self.on_event(Undoing(step.migration, len(stmts)))
        encoding = self.conn.info.encoding
        for i, st in enumerate(stmts, 1):
            try:  # binary forces the extended protocol: each statement alone, as Mode 1 sends an up file's
                self.conn.cursor().execute(st.text.encode(encoding), binary=True)
                if self.fp is not None and self.fp.step():
                    self.fp.fire(self.conn)
            except psycopg.Error as exc:
                state = (
                    f"{step.migration.tag} is still applied (its row was kept); the statement ran outside a "
                    "transaction and changed nothing"
                    if outside
                    else self._state(steps)
                )
                err = translate.failure(exc, down, st, i, len(stmts), state)
                if isinstance(exc, pgerrors.LockNotAvailable):
                    raise err from None  # retried (_retrying), then exit 4 naming the session in the way
                raise MigrakitError(
                    f"the down file of {step.migration.tag} failed at statement {i} of {len(stmts)}",
                    file=down.path,
                    migration=step.migration.tag,
                    statement_no=i,
                    statement_count=len(stmts),
                    line=err.line,
                    col=err.col,
                    cause=err.cause,
                    state=state,
                    fix=_ENUM_FIX if _enum_value_held(exc) else "fix the down file, then run `inv db.rollback` again",
                    details=list(err.details),
                ) from None

    def _forget(self, step: Step, steps: Sequence[Step]) -> None:
        deleted = self.conn.execute(self._delete, (step.row.id, step.row.hash)).rowcount
        if deleted != 1:  # the guard just saw it: only a racer outside every lock could make this happen
            raise LockTimeout(
                f"{_UNDONE_BY_OTHER}: {deleted} rows deleted for {step.migration.tag}, expected 1",
                migration=step.migration.tag,
                state=self._state(steps),
                fix="run `inv db.status`, then `inv db.rollback` again",
            )
