"""Drizzle's tracking table: its exact DDL and rows, built with psycopg.sql. Runs SQL; decides nothing."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import pq, sql

from migrakit.core.drizzle.naming import quoted_table
from migrakit.core.migration import Migration, TrackingRow
from migrakit.db.run.strategies import simple_query
from migrakit.errors import DatabaseUnavailable, LockTimeout

# Drizzle 0.x creates (drizzle-orm pg-core/dialect.ts); 1.0 adds `name` and `applied_at`.
_COLUMNS_0X = sql.SQL("id SERIAL PRIMARY KEY,\n\thash text NOT NULL,\n\tcreated_at bigint")
_COLUMNS_V1 = sql.SQL(
    "id SERIAL PRIMARY KEY,\n\thash text NOT NULL,\n\tcreated_at bigint,\n\tname text,\n\t"
    "applied_at timestamp with time zone DEFAULT now()"
)


def table(schema: str, name: str) -> sql.Composed:
    """The table's name in SQL sent to the server."""
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


def shown(schema: str, name: str) -> str:
    """The table's name as messages and reports show it: "drizzle"."__drizzle_migrations"."""
    return quoted_table(schema, name)


# Every read and write of the tracking table outside a migration's transaction waits at most this long for a lock
# on it (another session's LOCK TABLE, an ALTER in progress), then fails naming the holder (`locked_out`, exit 4).
LOCK_TIMEOUT = "10s"
BOUNDED = f"set_config('lock_timeout', '{LOCK_TIMEOUT}', true)"  # the transaction's own: nothing outlives it


def locked_out(
    conn: psycopg.Connection[Any], exc: psycopg.Error, schema: str, name: str, *, what: str = "the tracking table",
    state: str = "nothing was run; tracking table unchanged",
) -> LockTimeout:
    """The error of a bookkeeping query that hit LOCK_TIMEOUT: who holds a lock on the table (the tracking table,
    or `what`; read on `conn`, idle again), and how to clear it."""
    holders: list[tuple[Any, ...]] = []
    try:
        holders = conn.execute(
            "SELECT DISTINCT a.pid, l.mode, coalesce(nullif(a.application_name, ''), '-'), a.state, "
            "left(regexp_replace(a.query, '\\s+', ' ', 'g'), 200) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'relation' AND l.granted AND l.relation = to_regclass(%s) "
            "AND a.pid <> pg_backend_pid() ORDER BY a.pid",
            (table(schema, name).as_string(conn),),
        ).fetchall()
    except psycopg.Error:
        pass  # the error still says what happened; the holder stays unnamed
    held = "; ".join(f"pid {pid} holds {mode} ({app}, {state}): {query}" for pid, mode, app, state, query in holders)
    kill = f"SELECT pg_terminate_backend({holders[0][0]})" if len(holders) == 1 else "SELECT pg_terminate_backend(pid)"
    return LockTimeout(
        f"{what} {shown(schema, name)} stayed locked by another session for lock_timeout={LOCK_TIMEOUT}"
        + (f": {held}" if held else ""),
        cause=f"{exc.diag.message_primary or exc} ({exc.sqlstate})",
        state=state,
        fix=f"let that session finish, or end it (`{kill}`), then run the command again",
        details=[f"held by pid {pid} ({mode})" for pid, mode, *_ in holders],
    )


def table_exists(conn: psycopg.Connection[Any], schema: str, name: str) -> bool:
    """Whether the table exists, read from the catalog: true also when this role may not read it (reading it
    then fails with a permission error that says so, instead of "no table")."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s)",
        (schema, name),
    ).fetchone()
    return bool(row and row[0])


def ensure_table(
    conn: psycopg.Connection[Any], schema: str, name: str, *, v1: bool = False, exists: bool | None = None
) -> None:
    """Create the schema and table as Drizzle does (IF NOT EXISTS), outside any migration's transaction.
    `exists`: what a read just saw (db/run/probe.py), saving the catalog query.

    An existing table is left alone without a CREATE: PostgreSQL checks the CREATE privilege before IF NOT
    EXISTS, so a migration role with only USAGE on the schema and SELECT, INSERT on the table still works."""
    for attempt in range(3):
        if exists if attempt == 0 and exists is not None else table_exists(conn, schema, name):
            return
        create = sql.SQL("SELECT {}; {}; {}").format(sql.SQL(BOUNDED), *create_statements(schema, name, v1=v1))
        try:
            _, error = simple_query.results(conn, create.as_bytes(conn))  # one message, one transaction
            if error is not None:
                raise error
            return
        except psycopg.errors.LockNotAvailable as exc:
            raise locked_out(conn, exc, schema, name) from None
        except psycopg.errors.InsufficientPrivilege as exc:
            raise _no_permission(exc, schema, name, "create") from None
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema, psycopg.errors.DuplicateTable,
                psycopg.errors.DuplicateObject):  # fmt: skip
            # IF NOT EXISTS is not atomic: another migrator created the same schema or table a moment ago (its
            # catalog row collides with ours). Look again: it exists now.
            if attempt == 2:
                raise


def create_statements(schema: str, name: str, *, v1: bool = False) -> tuple[sql.Composed, sql.Composed]:
    """The schema's and the table's CREATE ... IF NOT EXISTS, as Drizzle sends them (ensure_table; a pipelined
    batch opens with them when the lock's read saw no table: db/run/strategies/pipelined.py)."""
    columns = _COLUMNS_V1 if v1 else _COLUMNS_0X
    return (
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)),
        sql.SQL("CREATE TABLE IF NOT EXISTS {} (\n\t{}\n)").format(table(schema, name), columns),
    )


def _no_permission(exc: psycopg.Error, schema: str, name: str, action: str) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"the database role may not {action} the tracking table {shown(schema, name)}",
        cause=f"{exc.diag.message_primary or exc} ({exc.sqlstate})",
        state="nothing was run; tracking table unchanged",
        fix=f'run migrations as the owner of the schema, or have it created once and GRANT USAGE ON SCHEMA "{schema}", '
        f"SELECT, INSERT ON {shown(schema, name)} (and USAGE ON its id sequence) to the migration role",
    )


@dataclass(frozen=True)
class TableRead:
    """The tracking table as one query saw it: its rows ordered by id, whether it exists, and whether it has
    Drizzle 1.0's `name` column (what table_exists and has_name_column would each have asked)."""

    rows: list[TrackingRow]
    exists: bool
    has_name: bool


MISSING = TableRead([], False, False)


def select_rows(conn: psycopg.Connection[Any], schema: str, name: str) -> bytes:
    """The query read_rows sends, as bytes for a message of several statements (db/run/probe.py)."""
    return sql.SQL("SELECT * FROM {} ORDER BY id").format(table(schema, name)).as_bytes(conn)


def from_result(result: pq.abc.PGresult, encoding: str) -> TableRead:
    """The TableRead of `SELECT * FROM <tracking table> ORDER BY id` answered in text (the simple protocol)."""
    pos = {(result.fname(i) or b"").decode(encoding): i for i in range(result.nfields)}
    get = result.get_value
    at_id, at_hash, at_created, at_name = pos["id"], pos["hash"], pos["created_at"], pos.get("name")

    def number(value: bytes | None) -> int | None:
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:  # a numeric column: "1700000000000.0"
            return int(Decimal(value.decode(encoding)))

    rows = []
    for i in range(result.ntuples):
        name = get(i, at_name) if at_name is not None else None
        rows.append(
            TrackingRow(
                id=int(get(i, at_id) or 0),
                hash=(get(i, at_hash) or b"").decode(encoding),
                created_at=number(get(i, at_created)),
                name=None if name is None else name.decode(encoding),
            )
        )
    return TableRead(rows, True, "name" in pos)


def missing_table(
    error: psycopg.Error | None, schema: str, name: str, conn: psycopg.Connection[Any] | None = None
) -> bool:
    """Whether reading the table failed because it (or its schema) does not exist yet; other errors raise
    (a permission error says so, as read_rows does; a lock held past LOCK_TIMEOUT names its holder, read on
    `conn`, idle again)."""
    if error is None:
        return False
    if isinstance(error, psycopg.errors.LockNotAvailable) and conn is not None:
        raise locked_out(conn, error, schema, name) from None
    if isinstance(error, psycopg.errors.UndefinedTable | psycopg.errors.InvalidSchemaName):
        return True
    if isinstance(error, psycopg.errors.InsufficientPrivilege):
        raise _no_permission(error, schema, name, "read") from None
    raise error


def read_rows(conn: psycopg.Connection[Any], schema: str, name: str) -> list[TrackingRow]:
    """All rows ordered by id, in one query; [] when the table does not exist yet. Decoded by `from_result`, as
    db/run/probe.py's reads are."""
    alone = conn.autocommit and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    try:  # alone, the query is its own transaction (one round trip); else a savepoint keeps the caller's usable
        with nullcontext() if alone else conn.transaction():
            # alone: bounded by LOCK_TIMEOUT; in the caller's transaction, by the caller's own lock_timeout
            bound = f"SELECT {BOUNDED}; ".encode() if alone else b""
            done, error = simple_query.results(conn, bound + select_rows(conn, schema, name))
            if error is not None:
                raise error  # inside the savepoint, so that it rolls back
    except psycopg.Error as exc:
        if missing_table(exc, schema, name, conn):  # raises every other error (a permission error says so)
            return []
        raise
    return from_result(done[-1], conn.info.encoding).rows


def has_name_column(conn: psycopg.Connection[Any], schema: str, name: str) -> bool:
    """Drizzle 1.0's table has `name`; 0.x's does not."""
    row = conn.execute(
        "SELECT count(*) FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s AND column_name = 'name'",
        (schema, name),
    ).fetchone()
    return bool(row and row[0])


def insert_sql(schema: str, name: str, *, v1: bool) -> sql.Composed:
    if v1:
        return sql.SQL('insert into {} ("hash", "created_at", "name") values (%s, %s, %s)').format(table(schema, name))
    return sql.SQL('insert into {} ("hash", "created_at") values (%s, %s)').format(table(schema, name))


def insert_params(migration: Migration, *, v1: bool) -> tuple[Any, ...]:
    if v1:
        return (migration.hash, migration.when, migration.name or migration.tag)
    return (migration.hash, migration.when)


def upgrade_to_v1(
    conn: psycopg.Connection[Any], schema: str, name: str, names: Sequence[tuple[int, str]], *, clear_applied_at: bool
) -> None:
    """Drizzle 1.0's upgrade of a 0.x table (up-migrations/pg.ts), in one transaction: add `name` and
    `applied_at` (IF NOT EXISTS), then set each row's name (and applied_at NULL, the time being unknown).
    `clear_applied_at` False only names rows and leaves applied_at alone (rows a 0.x migrator added to a
    1.0 table, whose applied_at is real)."""
    target = table(schema, name)
    update = (
        sql.SQL("UPDATE {} SET {} = %s, {} = NULL WHERE {} = %s").format(
            target, sql.Identifier("name"), sql.Identifier("applied_at"), sql.Identifier("id")
        )
        if clear_applied_at
        else sql.SQL("UPDATE {} SET {} = %s WHERE {} = %s").format(target, sql.Identifier("name"), sql.Identifier("id"))
    )
    with conn.transaction():
        conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} text").format(target, sql.Identifier("name")))
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} timestamp with time zone DEFAULT now()").format(
                target, sql.Identifier("applied_at")
            )
        )
        if names:
            conn.cursor().executemany(update, [(folder_name, row_id) for row_id, folder_name in names])
