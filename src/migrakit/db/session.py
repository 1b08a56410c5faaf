"""Opening the target for a command, and the executor's options from the settings. [I/O]"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from ..core.settings import Settings
from ..errors import DatabaseUnavailable
from . import server
from .run_base import Options


@contextmanager
def open_target(settings: Settings) -> Iterator[tuple[server.Target, Any]]:
    """An autocommit connection to the target, closed afterwards. A connection that dies outside a migration
    (the executor reports those) is a DatabaseUnavailable saying where to look."""
    target = server.resolve_target(settings)
    conn = server.connect(target.url, autocommit=True)
    try:
        yield target, conn
    except psycopg.OperationalError as exc:
        if not (conn.broken or conn.closed):
            raise
        raise DatabaseUnavailable(
            f"lost the connection to {target.display}",
            cause=server.redact_text((str(exc).strip().splitlines() or [type(exc).__name__])[0], [target.url]),
            state="each migration is tracked in the transaction that applies it: `inv db.status` shows what is applied",
            fix="find out why the connection dropped (server restart, pg_terminate_backend, network), then run again",
        ) from None
    finally:
        conn.close()


def executor_options(settings: Settings, *, v1: bool, single_transaction: bool = False) -> Options:
    return Options(
        schema=settings.migrations_schema,
        table=settings.migrations_table,
        v1=v1,
        single_transaction=single_transaction,
        pipeline=settings.pipeline,
        lock_timeout=settings.lock_timeout,
        statement_timeout=settings.statement_timeout,
        lock_retries=settings.lock_retries,
        search_path=settings.search_path,
    )
