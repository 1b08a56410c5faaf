"""Run a decided list of migrations on a connection: pick the run strategy for each migration, retry a
lock_timeout. The executor never decides *what* to run; the runner hands it the pending list.

- Mode 1 (standard): every statement is sent alone over the extended query protocol (a prepared statement, as
  serverless HTTP drivers do), so a statement the server would reject as "multiple commands" never reaches it.
  One transaction per migration holds its statements and its tracking row. With `pipeline` (the default)
  consecutive such migrations are queued back to back and the whole run costs about one round trip
  (strategies/pipelined.py); without it, or for a migration holding a statement over 1 MiB, strategies/plain.py.
- A migration holding its own BEGIN/COMMIT, or a lone CREATE INDEX CONCURRENTLY, runs as written outside a
  wrapping transaction, resuming after the statements an earlier run completed (strategies/outside.py, progress.py).
- Mode 2 (consolidated, legacy): the whole file is one multi-statement query inside one transaction (mode2.py).
- `single_transaction`: Drizzle's migrator reproduced exactly (drizzle_transaction.py).
- Every migration transaction opens with two guards (guards.py): applied at most once whatever happened to the
  migration lock (lock.py).
- Lock waits are bounded: `lock_timeout` per migration, retried `lock_retries` times; while retrying, a second
  connection watches `pg_blocking_pids` so the final error names the session in the way (blockers.py).
psycopg errors are caught in the strategies and become MigrakitErrors (translate.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import psycopg

from migrakit.core.events import EventSink, no_event
from migrakit.core.migration import STANDARD, Migration
from migrakit.db import tracking
from migrakit.db.run import progress
from migrakit.db.run.blockers import with_lock_retries
from migrakit.db.run.strategies.base import Options, Run, rolled_back
from migrakit.db.run.strategies.drizzle_transaction import SingleTransaction
from migrakit.db.run.strategies.mode2 import Mode2
from migrakit.db.run.strategies.outside import Outside, check_progress
from migrakit.db.run.strategies.pipelined import Pipelined, fits_pipeline
from migrakit.db.run.strategies.plain import Plain


class Executor(Run):
    """The strategy for each migration, and the lock_timeout retries around them; a core.strategy.Strategy."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        options: Options,
        on_event: EventSink = no_event,
        direct: psycopg.Connection[Any] | None = None,
        create_table: bool = False,
    ) -> None:
        super().__init__(conn, options, on_event)
        # The tracking table is missing (the lock's read saw it): the first pipelined batch creates it, in its own
        # transaction at its head (no round trip of its own); anything else runs tracking.ensure_table first.
        self.create_table = create_table
        # Behind a transaction pooler, the connection for SQL that needs one server session (session settings, a
        # file's own transaction control): migrations that run outside a transaction, --single-transaction runs.
        self.session = direct if direct is not None else conn
        self.pipelined = Pipelined(conn, options, on_event, parent=self)
        self.plain = Plain(conn, options, on_event, parent=self)
        self.mode2 = Mode2(conn, options, on_event, parent=self)

    def apply(self, migrations: Sequence[Migration]) -> list[str]:
        """Apply `migrations` in order; raise on the first failure (earlier ones stay applied)."""
        if self.opts.single_transaction:  # a file's own COMMIT ends Drizzle's transaction: one session for the run
            self._ensure_table()
            return SingleTransaction(self.session, self.opts, self.on_event, parent=self).apply(migrations)
        check_progress(self.conn, progress.tracking_key(self.opts.schema, self.opts.table), migrations)
        i = 0
        while i < len(migrations):
            m = migrations[i]
            if self._batchable(m):  # consecutive pipelined Mode 1 migrations: one batch, about one round trip
                j = next((k for k in range(i, len(migrations)) if not self._batchable(migrations[k])), len(migrations))
                self._apply_batch(migrations[i:j])
                i = j
                continue
            self._ensure_table()
            if m.runs_outside_transaction:
                Outside(self.session, self.opts, self.on_event, parent=self).apply_one(m)
            else:
                one = self.plain if m.mode == STANDARD else self.mode2
                self.retrying(partial(one.apply_one, m), partial(rolled_back, m))
            i += 1
        self._ensure_table()
        return self.applied

    def record(self, migrations: Sequence[Migration]) -> list[str]:
        if migrations:
            self._ensure_table()
        return super().record(migrations)

    def _ensure_table(self) -> None:
        if self.create_table:
            tracking.ensure_table(self.conn, self.opts.schema, self.opts.table, v1=self.opts.v1, exists=False)
            self.create_table = False

    def _batchable(self, m: Migration) -> bool:
        return self.opts.pipeline and fits_pipeline(m) and not m.runs_outside_transaction

    def _apply_batch(self, batch: Sequence[Migration]) -> None:
        """Apply `batch` pipelined; after a lock timeout in migration k (those before it committed), retry
        from k with the rest."""
        base = len(self.applied)

        def rest() -> Sequence[Migration]:
            return batch[len(self.applied) - base :]

        def run() -> None:
            create, self.create_table = self.create_table, False
            self.pipelined.apply(rest(), create_table=create)

        self.retrying(run, lambda: rolled_back(rest()[0]), progress=lambda: len(self.applied))

    # --- retries on lock_timeout
    def with_lock_retries(
        self,
        conn: psycopg.Connection[Any],
        run: Callable[[], None],
        state: Callable[[], str],
        progress: Callable[[], int],
    ) -> None:
        """Run, and again after a lock_timeout (db/run/blockers.with_lock_retries, with this executor's settings)."""
        with_lock_retries(conn, run, state, progress, self.opts, self.on_event)
