"""The two guards that open every migration transaction, so a migration is applied at most once whatever happened
to the migration lock (a pooler that dropped it, a second migrator that never took it).

- "busy": `pg_try_advisory_xact_lock(apply_key)` as a divisor: fails (division by zero) when another transaction
  applying migrations to this tracking table is open; released at its COMMIT/ROLLBACK.
- "tracked": fails (invalid text for int) when the migration's row (hash and created_at) is already there.

A failure is told apart by WHICH statement failed and its SQLSTATE; any other error at a guard (no tracking
table, no permission, a lost connection) is reported as the error it is.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql

from migrakit.core.migration import Migration
from migrakit.db import tracking
from migrakit.db.run.lock import apply_key
from migrakit.errors import LockTimeout

BUSY, TRACKED = "busy", "tracked"
# Volatile, so never folded at plan time.
APPLY_LOCK = "SELECT 1 / pg_try_advisory_xact_lock(%s)::int"
_SQLSTATES = {BUSY: pgerrors.DivisionByZero.sqlstate, TRACKED: pgerrors.InvalidTextRepresentation.sqlstate}


def tripped(guard: str, exc: psycopg.Error) -> bool:
    """The failing command was this guard (told by which queued command failed) and it failed as designed."""
    return guard in _SQLSTATES and exc.sqlstate == _SQLSTATES[guard]


class AppliedElsewhere(LockTimeout):
    """A migration transaction found, inside itself, that another migrator applied `migration` (its row is
    tracked) or is applying migrations right now (`busy`). The transaction was rolled back; the runner
    re-reads the tracking table, re-plans and goes on. Reaches the user only where nothing re-plans."""

    def __init__(self, migration: Migration, *, busy: bool) -> None:
        what = "was applying migrations at the same time" if busy else f"applied {migration.tag} first"
        super().__init__(
            f"another migrator {what}",
            file=migration.path,
            migration=migration.tag,
            state=f"nothing from {migration.tag} was applied by this run (its transaction was rolled back)",
            fix="run `inv db.status` to see what is applied, then run again",
        )
        self.busy = busy


class Guards:
    """The guard statements of one tracking table."""

    def __init__(self, schema: str, table: str) -> None:
        self._key = apply_key(schema, table)
        self._tracked = sql.SQL(
            "SELECT (min(hash) || ' is tracked already: another migrator applied it')::int FROM {} "
            "WHERE hash = %s AND created_at IS NOT DISTINCT FROM %s::bigint"
        ).format(tracking.table(schema, table))

    def statements(self, m: Migration) -> list[tuple[str, Any, tuple[Any, ...]]]:
        """(guard, query, parameters) of the two statements, in the order they run."""
        return [(BUSY, APPLY_LOCK, (self._key,)), (TRACKED, self._tracked, (m.hash, m.when))]

    def run(self, conn: psycopg.Connection[Any], m: Migration) -> None:
        """Run both inside the current transaction. A tripped guard raises AppliedElsewhere (the caller rolls its
        transaction back)."""
        for guard, query, params in self.statements(m):
            try:
                conn.execute(query, params)
            except psycopg.Error as exc:
                if not tripped(guard, exc):
                    raise
                raise AppliedElsewhere(m, busy=guard == BUSY) from None
