"""Which statements of a migration running outside a transaction have completed, so a failed run resumes. [I/O]

A migration that runs without a wrapping transaction (its own `COMMIT;`, or a lone `CREATE INDEX
CONCURRENTLY`) can stop halfway: statements 1..k took effect, the tracking row was not written. migrakit
records each completed statement in its own table, never in Drizzle's:

    migrakit.statement_progress(tracking_table, migration, statement_no, statement_hash, migration_hash, completed_at)

`tracking_table` is the Drizzle table the migration belongs to (`drizzle.__drizzle_migrations`), `migration`
its tag, `statement_hash` the sha256 of the statement's text. The next run checks that statements 1..k are
unchanged and continues at k + 1 (`resume_point`); the rows are deleted in the transaction that writes the
tracking row. A CREATE INDEX CONCURRENTLY is also recorded as *started* (completed_at NULL) before it runs:
if the run dies between the index being built and its completion being recorded, the next run finds the
started row and the valid index, and does not build it twice. The schema and table are created only when
such a migration runs: a database that only ever ran transactional migrations has no `migrakit` schema.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from migrakit.core.migration import Migration
from migrakit.db import tracking
from migrakit.errors import DatabaseUnavailable, DriftError

SCHEMA = "migrakit"
TABLE = "statement_progress"


@dataclass(frozen=True)
class Completed:
    """One statement an earlier run completed."""

    statement_no: int  # 1-based
    statement_hash: str
    migration_hash: str  # the file's hash when it ran (the file may have been fixed since)
    completed_at: str | None  # None: started, not known to have completed (a CREATE INDEX CONCURRENTLY)


def statement_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _table() -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(TABLE))


_WHAT = "migrakit's progress table"
_STATE = "nothing more was run by this run; tracking table unchanged"


def _bounded(conn: psycopg.Connection[Any], query: sql.Composed, params: tuple[Any, ...] = ()) -> list[Any]:
    """Run `query` as bookkeeping: on a connection in no transaction, in one of its own whose lock_timeout is
    tracking.LOCK_TIMEOUT (a session holding a lock on the progress table ends the wait, exit 4 naming it); inside
    the caller's transaction (the file's own BEGIN), under the caller's lock_timeout."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []
    try:
        with conn.transaction():
            conn.execute(f"SELECT {tracking.BOUNDED}")
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []
    except psycopg.errors.LockNotAvailable as exc:
        raise tracking.locked_out(conn, exc, SCHEMA, TABLE, what=_WHAT, state=_STATE) from None


def ensure_table(conn: psycopg.Connection[Any]) -> None:
    """Create migrakit's schema and progress table if missing (autocommit connection, outside a transaction).
    One table for every tracking table of the database, so migrators of different tracking tables (a fleet's
    schema-per-tenant targets) may create it at the same moment: IF NOT EXISTS is not atomic, and the loser's
    catalog row collides; it looks again (as tracking.ensure_table does)."""
    if exists(conn):
        return
    try:
        for attempt in range(3):
            try:
                _bounded(conn, sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
                _bounded(
                    conn,
                    sql.SQL(
                        "CREATE TABLE IF NOT EXISTS {} (\n\t"
                        "tracking_table text NOT NULL,\n\tmigration text NOT NULL,\n\t"
                        "statement_no integer NOT NULL,\n\tstatement_hash text NOT NULL,\n\t"
                        "migration_hash text NOT NULL,\n\t"
                        "completed_at timestamp with time zone DEFAULT now(),\n\t"
                        "PRIMARY KEY (tracking_table, migration, statement_no)\n)"
                    ).format(_table())
                )
                return
            except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema, psycopg.errors.DuplicateTable,
                    psycopg.errors.DuplicateObject):  # fmt: skip
                if exists(conn):  # the other migrator's table: ours to use
                    return
                if attempt == 2:
                    raise
    except psycopg.errors.InsufficientPrivilege as exc:
        raise DatabaseUnavailable(
            f"the database role may not create {SCHEMA}.{TABLE}, where migrakit records the progress of migrations "
            "that run outside a transaction",
            cause=f"{exc.diag.message_primary or exc} ({exc.sqlstate})",
            state="nothing was run",
            fix=f"create it once as an owner: `CREATE SCHEMA {SCHEMA} AUTHORIZATION <migration role>`, or run "
            "migrations as a role with CREATE on the database",
        ) from None


def tracking_key(schema: str, table: str) -> str:
    """The `tracking_table` column's value for a Drizzle tracking table: `drizzle.__drizzle_migrations`."""
    return f"{schema}.{table}"


def exists(conn: psycopg.Connection[Any]) -> bool:
    return tracking.table_exists(conn, SCHEMA, TABLE)


def read(conn: psycopg.Connection[Any], tracking_table: str, migration: str) -> list[Completed]:
    """The statements recorded for `migration` (completed, or started), by number; [] without the table."""
    if not exists(conn):
        return []
    rows = _bounded(
        conn,
        sql.SQL(
            "SELECT statement_no, statement_hash, migration_hash, completed_at::text FROM {} "
            "WHERE tracking_table = %s AND migration = %s ORDER BY statement_no"
        ).format(_table()),
        (tracking_table, migration),
    )
    return [Completed(*row) for row in rows]


def record(
    conn: psycopg.Connection[Any], tracking_table: str, m: Migration, number: int, *, started: bool = False
) -> None:
    """Record statement `number` (1-based) of `m` as completed (or only `started`), in whatever transaction
    the connection is in."""
    conn.execute(
        sql.SQL(
            "INSERT INTO {} AS p "
            "(tracking_table, migration, statement_no, statement_hash, migration_hash, completed_at) "
            "VALUES (%s, %s, %s, %s, %s, CASE WHEN %s THEN NULL ELSE now() END) "
            "ON CONFLICT (tracking_table, migration, statement_no) "
            "DO UPDATE SET statement_hash = EXCLUDED.statement_hash, "
            "migration_hash = EXCLUDED.migration_hash, completed_at = EXCLUDED.completed_at"
        ).format(_table()),
        (tracking_table, m.tag, number, statement_hash(m.statements[number - 1].text), m.hash, started),
    )


def started(rows: Sequence[Completed], m: Migration, number: int) -> bool:
    """Statement `number` of `m`, as it is now, was started by an earlier run that did not see it complete."""
    text = statement_hash(m.statements[number - 1].text)
    return any(r.statement_no == number and r.completed_at is None and r.statement_hash == text for r in rows)


def clear(conn: psycopg.Connection[Any], tracking_table: str, migration: str) -> None:
    """Forget `migration`'s progress (call it in the transaction that writes its tracking row)."""
    conn.execute(
        sql.SQL("DELETE FROM {} WHERE tracking_table = %s AND migration = %s").format(_table()),
        (tracking_table, migration),
    )


def forget_sql(tracking_table: str, migration: str) -> str:
    """The statement a user runs to make migrakit start `migration` from its first statement again."""
    quote = lambda s: "'" + s.replace("'", "''") + "'"  # noqa: E731 - shown to a human, never executed by us
    return (
        f"DELETE FROM {SCHEMA}.{TABLE} WHERE tracking_table = {quote(tracking_table)} "
        f"AND migration = {quote(migration)};"
    )


def resume_point(m: Migration, rows: Sequence[Completed], tracking_table: str) -> int:
    """How many leading statements of `m` an earlier run completed (0: start from the first).

    Pure. Raises DriftError when a completed statement is no longer the same text (or no longer there):
    running on would skip or repeat work that already took effect. Started-only rows do not count."""
    done = [r for r in rows if r.completed_at is not None]
    if not done:
        return 0
    stmts = m.statements
    for expected, row in enumerate(done, start=1):
        changed = (
            row.statement_no != expected
            or row.statement_no > len(stmts)
            or statement_hash(stmts[row.statement_no - 1].text) != row.statement_hash
        )
        if not changed:
            continue
        shown = stmts[expected - 1] if expected <= len(stmts) else None
        raise DriftError(
            f"{m.tag} stopped halfway in an earlier run, and statement {expected} of the {len(done)} that completed "
            "then has changed since",
            file=m.path,
            migration=m.tag,
            statement_no=expected,
            line=shown.line if shown else None,
            col=shown.col if shown else None,
            cause=f"statements 1-{len(done)} completed on {(done[0].completed_at or '')[:19]} "
            "(the migration runs without a wrapping transaction, so they took effect); the file's statement "
            + (f"{expected} is different now" if shown else f"{expected} is gone"),
            state=f"statements 1-{len(done)} of {m.tag} are in the database; the rest are not; tracking table "
            "unchanged; nothing was run by this run",
            fix=f"restore statements 1-{len(done)} of {m.path} to what ran (`git diff -- {m.path}`) and change only "
            "later statements; or, if you undid their effect by hand, make migrakit start over with "
            f"`{forget_sql(tracking_table, m.tag)}`",
        )
    return len(done)
