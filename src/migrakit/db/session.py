"""Which database a command works on (DATABASE_URL, else the embedded server), opening it, and the executor's
options from the settings. [I/O]"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from ..core.settings import Settings
from ..errors import DatabaseUnavailable
from . import server

if TYPE_CHECKING:
    from .run_base import Options

# db.status and the other read-only commands import this module: the embedded server's (psutil), the lock's and the
# executor's modules are imported where they are used.


@dataclass(frozen=True)
class Target:
    """Where migrations go. `display` is safe to print."""

    url: str
    embedded: bool
    display: str


def resolve_target(settings: Settings) -> Target:
    """`settings.database_url` when set; else the embedded server in `settings.embedded_dir`
    (started if needed, left running) and its `migrakit` database (created if missing)."""
    if settings.database_url:
        return Target(settings.database_url, False, server.redact_url(settings.database_url))
    folder = Path(settings.embedded_dir)
    try:
        shown = folder.resolve().relative_to(Path(settings.root).resolve())
    except ValueError:
        shown = folder
    from .embedded import ensure_running

    url = ensure_running(folder)
    return Target(url, True, f"{server.redact_url(url)} (embedded, data in {shown}/)")


@contextmanager
def open_target(settings: Settings) -> Iterator[tuple[Target, Any]]:
    """An autocommit connection to the target, closed afterwards. A connection that dies outside a migration
    (the executor reports those) is a DatabaseUnavailable saying where to look."""
    target = resolve_target(settings)
    conn = server.connect(target.url, autocommit=True)
    with _lost(target, conn):
        yield target, conn


@contextmanager
def open_migrating(settings: Settings) -> Iterator[tuple[Target, Any, Any]]:
    """Like open_target, with the migration lock's connection (autocommit, for db/lock.migration_lock's
    `lock_conn`) opened at the same time, on a second thread: a migrating command waits for one connection
    set-up, not two. Both are closed afterwards (the lock's by migration_lock, or here)."""
    from .lock import open_lock_connection

    target = resolve_target(settings)
    with ThreadPoolExecutor(1, thread_name_prefix="migrakit-lock-connect") as pool:
        pending = pool.submit(open_lock_connection, target.url)
        try:
            conn = server.connect(target.url, autocommit=True)
        except BaseException:
            _close(pending)
            raise
        try:
            lock_conn = pending.result()  # bounded by its connect_timeout
        except BaseException:
            conn.close()
            raise
    try:
        with _lost(target, conn):
            yield target, conn, lock_conn
    finally:
        lock_conn.close()


def _close(pending: Future[Any]) -> None:
    """Close the connection `pending` opens, once it has (or drop its failure: the caller's error is the news)."""
    try:
        pending.result().close()
    except Exception:
        pass


@contextmanager
def _lost(target: Target, conn: Any) -> Iterator[None]:
    try:
        yield
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
    from .run_base import Options

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
