"""The legacy runner's tracking table, and legacy.retire's one database step. [I/O]"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from migrakit.core.migration import Migration
from migrakit.core.options import TrackingTable
from migrakit.db import tracking
from migrakit.db.connect import server
from migrakit.db.inspect import schema_diff as schema
from migrakit.db.run.lock import migration_lock
from migrakit.errors import MigrakitError


def legacy_table(conn: Any, name: str) -> tuple[str | None, int | None]:
    """The legacy tracking table `name` (the `legacy_table` setting; "" unset), quoted, and its row count, or
    (None, None) when it is unset or absent."""
    if not name:
        return None, None
    schema_name, table = schema.split_table_name(name)
    if not tracking.table_exists(conn, schema_name, table):
        return None, None
    count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(tracking.table(schema_name, table))).fetchone()
    return f'"{schema_name}"."{table}"', int(count[0]) if count else 0


def record_and_drop(
    url: str,
    table: TrackingTable,
    fold: Migration | None,
    *,
    legacy: str,
    lock_wait_timeout: float,
    drop: bool,
    v1: bool,
) -> None:
    """One transaction on the database at `url`, under the migration lock (waited for up to `lock_wait_timeout`
    seconds): the fold's tracking row (its replaced files are proven run by hash) and DROP TABLE of the legacy
    table `legacy`. A server error rolls both back and is a MigrakitError."""
    try:
        _record_and_drop(url, table, fold, legacy=legacy, lock_wait_timeout=lock_wait_timeout, drop=drop, v1=v1)
    except psycopg.Error as exc:
        raise MigrakitError(
            "cannot retire the legacy system: the database step failed",
            cause=f"{exc.diag.message_primary or str(exc).splitlines()[0]} ({exc.diag.sqlstate})",
            state="nothing was changed: the database transaction was rolled back and every file was put back",
            fix=(
                "resolve the cause (e.g. drop what still depends on the legacy table), "
                "then run `inv legacy.retire` again"
            ),
            details=[f"detail: {exc.diag.message_detail}"] if exc.diag.message_detail else [],
        ) from exc


def _record_and_drop(
    url: str, table: TrackingTable, fold: Migration | None, *, legacy: str, lock_wait_timeout: float, drop: bool,
    v1: bool,
) -> None:
    schema_name, name = table.schema, table.name
    with server.connect(url, autocommit=True) as conn:
        # one migrator at a time: a deploy must not race the retirement
        with migration_lock(conn, schema_name, name, timeout=lock_wait_timeout):
            if fold is not None:
                tracking.ensure_table(conn, schema_name, name, v1=v1)
            with conn.transaction():
                if fold is not None:
                    conn.execute(tracking.insert_sql(schema_name, name, v1=v1), tracking.insert_params(fold, v1=v1))
                if drop and legacy:
                    s, t = schema.split_table_name(legacy)
                    conn.execute(sql.SQL("DROP TABLE {}").format(tracking.table(s, t)))
