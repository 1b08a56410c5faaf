"""`--targets-query`: the fleet's targets read from a table, by a query run on DATABASE_URL."""

from __future__ import annotations

from typing import Any

import psycopg

from migrakit.db.connect import server
from migrakit.errors import ConfigError, DatabaseUnavailable

QUERY_TIMEOUT = "30s"  # the query's statement_timeout: listing tenants is never a long job


def query_rows(url: str, sql: str, *, timeout: str = QUERY_TIMEOUT) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(column names, rows) of `sql` run on `url` in a read-only transaction, within `timeout`. A query the
    server refuses is a ConfigError (exit 2): it is part of the command line, not of a migration."""
    with server.connect(url, autocommit=False, application_name="migrakit targets") as conn:
        try:
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute("SELECT set_config('statement_timeout', %s, true)", (timeout,))
            cur = conn.execute(sql, prepare=False)
            if cur.description is None:
                raise ConfigError(
                    "--targets-query returned no rows (it is not a SELECT)",
                    state="nothing was run",
                    fix=(
                        "pass a query returning `name` and `url` columns, "
                        "e.g. SELECT slug AS name, dsn AS url FROM tenants"
                    ),
                )
            return [c.name for c in cur.description], [tuple(r) for r in cur.fetchall()]
        except psycopg.OperationalError as exc:
            if conn.broken:
                raise DatabaseUnavailable(
                    f"lost the connection to {server.redact_url(url)} while running --targets-query",
                    cause=server.redact_text(
                        str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, [url]
                    ),
                    state="nothing was run",
                    fix="check the server, then run again",
                ) from None
            raise _refused(exc, url) from None
        except psycopg.Error as exc:
            raise _refused(exc, url) from None
        finally:
            if not conn.broken:
                conn.rollback()


def _refused(exc: psycopg.Error, url: str) -> ConfigError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return ConfigError(
        f"--targets-query failed on {server.redact_url(url)}",
        cause=server.redact_text(f"{getattr(exc, 'sqlstate', None) or ''} {first}".strip(), [url]),
        state="nothing was run",
        fix=f"fix the query (it runs read-only, within statement_timeout={QUERY_TIMEOUT}) and run again",
    )
