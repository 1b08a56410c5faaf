"""Is the target writable? Asked when a migrating task takes the migration lock (lock.migration_lock), in
one round trip on the migrating connection, before the lock's own connection is opened.

A standby (`pg_is_in_recovery()`), a read replica endpoint (the same, behind a reader host name) or a session
whose transactions are read-only (`default_transaction_read_only = on` set on the role, the database, the
server or the connection's `options`) would otherwise fail at the first CREATE with a raw
`ReadOnlySqlTransaction`. Read-only tasks (status, check, dry runs) never call this: they work on a replica.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import psycopg

from migrakit.errors import DatabaseUnavailable

_STATE = "nothing was run; the tracking table was not touched"
_REPLICA_HOST = re.compile(r"(^|[.-])(ro|reader|replica|read|readonly|standby|secondary)([.-]|\d|$)", re.IGNORECASE)

# pg_settings.source of default_transaction_read_only -> (where it is set, how to undo it)
_SOURCES = {
    "user": ("on the role {user} (ALTER ROLE ... SET)", "ALTER ROLE {user} RESET default_transaction_read_only"),
    "database": (
        "on the database {db} (ALTER DATABASE ... SET)",
        "ALTER DATABASE {db} RESET default_transaction_read_only",
    ),
    "database user": (
        "on the role {user} in the database {db} (ALTER ROLE ... IN DATABASE ... SET)",
        "ALTER ROLE {user} IN DATABASE {db} RESET default_transaction_read_only",
    ),
    "client": (
        "by the connection (options=-c default_transaction_read_only=on in the URL, or PGOPTIONS)",
        "remove default_transaction_read_only from the URL's options and from PGOPTIONS",
    ),
    "configuration file": (
        "in the server's configuration (postgresql.conf or ALTER SYSTEM)",
        "ALTER SYSTEM RESET default_transaction_read_only; SELECT pg_reload_conf(); or connect to a writable server",
    ),
}


def _where(conn: psycopg.Connection[Any]) -> str:
    info = conn.info
    host = info.host if info.host and not info.host.startswith("/") else "localhost (socket)"
    return f'database "{info.dbname}" on {host} as {info.user}'


WRITABLE_COLUMNS = (
    "pg_is_in_recovery(), current_setting('transaction_read_only'), current_setting('default_transaction_read_only'), "
    "(SELECT source FROM pg_settings WHERE name = 'default_transaction_read_only')"
)


def read_only_error(
    conn: psycopg.Connection[Any], cause: str | None = None, row: Sequence[Any] | None = None
) -> DatabaseUnavailable | None:
    """DatabaseUnavailable (exit 6) naming why this session cannot write, or None when it can. `row`: the
    WRITABLE_COLUMNS already read (else they are read now). `cause`: the server error that revealed it (then a
    session too broken to ask still gives a read-only error)."""
    if not row:
        try:
            row = conn.execute(f"SELECT {WRITABLE_COLUMNS}").fetchone()
        except psycopg.Error:
            if cause is None:
                raise
            row = None
    if row is None:
        if cause is None:
            return None
        return DatabaseUnavailable(
            f"the target became read-only during the run ({_where(conn)})",
            cause=cause,
            state="see `inv db.status` for what was applied: each migration is tracked in its own transaction",
            fix="point DATABASE_URL at the primary (after a failover, the new writer endpoint), then run again",
        )
    in_recovery, tx_read_only, default_read_only, source = row
    where = _where(conn)
    host = conn.info.host or ""
    if in_recovery:
        replica = bool(
            _REPLICA_HOST.search(host.split(".", 1)[0] if "." in host else host) or _REPLICA_HOST.search(host)
        )
        what = "a read replica endpoint" if replica else "a standby server"
        return DatabaseUnavailable(
            f"the target is {what} and cannot be migrated: {where} is in recovery (pg_is_in_recovery() = true)",
            cause=cause or (
                "the host name looks like a reader endpoint" if replica else "a hot standby accepts reads only"
            ),
            state=_STATE,
            fix="point DATABASE_URL at the primary (the cluster's writer endpoint); with several hosts in the URL, "
            "add target_session_attrs=read-write so libpq picks the primary",
        )
    if tx_read_only == "on" or default_read_only == "on":
        user, db = conn.info.user, conn.info.dbname
        set_where, undo = _SOURCES.get(source, ("for this session", "connect with a role whose sessions may write"))
        return DatabaseUnavailable(
            "the target is read-only: default_transaction_read_only is on "
            f"{set_where.format(user=user, db=db)} ({where})",
            cause=cause or f"pg_settings.source = {source!r}; every transaction of this session is READ ONLY",
            state=_STATE,
            fix=f"{undo.format(user=user, db=db)} (as a superuser or the owner), or migrate with a role that may write",
        )
    return None


def check_writable(conn: psycopg.Connection[Any], row: Sequence[Any] | None = None) -> None:
    """Raise DatabaseUnavailable (exit 6) when a migrating task could not write to `conn`'s database."""
    err = read_only_error(conn, row=row)
    if err is not None:
        raise err
