"""Which database a command works on (DATABASE_URL, else the embedded server: core/options.TargetOptions), and
opening it. [I/O]"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from migrakit.core.options import TargetOptions
from migrakit.db.connect import answer, server, stop
from migrakit.errors import DatabaseUnavailable

R = TypeVar("R")
W = TypeVar("W")

# db.status and the other read-only commands import this module: the embedded server's (psutil), the lock's and the
# executor's modules are imported where they are used.


@dataclass(frozen=True)
class Target:
    """Where migrations go. `display` is safe to print."""

    url: str
    embedded: bool
    display: str


def resolve_target(options: TargetOptions) -> Target:
    """`options.database_url` when set; else the embedded server in `options.embedded_dir`
    (started if needed, left running) and its `migrakit` database (created if missing). Connections opened from
    now on wait for an answer `options.network_timeout` (db/connect/answer.py)."""
    answer.within(options.network_timeout)
    if options.database_url:
        return Target(options.database_url, False, server.redact_url(options.database_url))
    folder = Path(options.embedded_dir)
    try:
        shown = folder.resolve().relative_to(Path(options.root).resolve())
    except ValueError:
        shown = folder
    from migrakit.db.connect.embedded import ensure_running

    url = ensure_running(folder)
    return Target(url, True, f"{server.redact_url(url)} (embedded, data in {shown}/)")


@contextmanager
def open_target(options: TargetOptions) -> Iterator[tuple[Target, Any]]:
    """An autocommit connection to the target, closed afterwards. A connection that dies outside a migration
    (the executor reports those) is a DatabaseUnavailable saying where to look."""
    target, conn = _connect(options)
    with _lost(target, conn):
        yield target, conn


def _connect(options: TargetOptions) -> tuple[Target, Any]:
    """The target and an autocommit connection to it: open_target's and open_target_reading's thread's."""
    target = resolve_target(options)
    return target, server.connect(target.url, autocommit=True)


@contextmanager
def open_target_reading(
    options: TargetOptions, read: Callable[[Any], R], meanwhile: Callable[[], W]
) -> Iterator[tuple[Target, Any, R, W]]:
    """open_target with `read(conn)` as the connection's first exchange, both on a second thread while this one
    runs `meanwhile()` (db.status: reading the migration files), so connecting, the network's waits and the
    server's work hide behind it. Yields (target, conn, what `read` returned, what `meanwhile` returned).

    Errors surface as if `meanwhile` ran first and then open_target and `read` here: `meanwhile`'s error wins
    (the connection is closed once open); a failed connect raises its own error; `read`'s error is raised inside
    open_target's handling (a lost connection: DatabaseUnavailable). The wait for the second thread is bounded
    as the connection's (`connect_timeout`) and the read's (simple_query's bounds) are."""
    with ThreadPoolExecutor(1, thread_name_prefix="migrakit-connect") as pool:
        pending = pool.submit(_open_and_read, options, read)
        try:
            value = meanwhile()
        except BaseException:
            with suppress(Exception):  # `meanwhile`'s error is the news: close the connection once it is open
                pending.result()[1].close()
            raise
        target, conn, outcome = pending.result()
        stop.opened(conn)  # opened on the helper thread: a signal in this one cancels it too
    with _lost(target, conn):
        if isinstance(outcome, Exception):
            raise outcome
        yield target, conn, outcome, value


def _open_and_read(options: TargetOptions, read: Callable[[Any], R]) -> tuple[Target, Any, R | Exception]:
    """On open_target_reading's thread: the target, its connection, and `read`'s answer or error (raised again
    on the calling thread, where open_target would have raised it)."""
    target, conn = _connect(options)
    try:
        return target, conn, read(conn)
    except Exception as exc:
        return target, conn, exc


@contextmanager
def open_migrating(options: TargetOptions) -> Iterator[tuple[Target, Any, Any]]:
    """Like open_target, with the migration lock's connection (autocommit, for db/run/lock.migration_lock's
    `lock_conn`) opened at the same time, on a second thread: a migrating command waits for one connection
    set-up, not two. Both are closed afterwards (the lock's by migration_lock, or here)."""
    from migrakit.db.run.lock import open_lock_connection

    target = resolve_target(options)
    with ThreadPoolExecutor(1, thread_name_prefix="migrakit-lock-connect") as pool:
        pending = pool.submit(open_lock_connection, target.url)
        try:
            conn = server.connect(target.url, autocommit=True)
        except BaseException:
            _close(pending)
            raise
        try:
            lock_conn = pending.result()  # bounded by its connect_timeout
            stop.opened(lock_conn)  # opened on the helper thread: a signal in this one cancels it too
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


_STATE = "each migration is tracked in the transaction that applies it: `inv db.status` shows what is applied"


@contextmanager
def _lost(target: Target, conn: Any) -> Iterator[None]:
    try:
        yield
    except answer.NoAnswer as exc:  # on this connection or another of the command's (the lock's)
        raise exc.unavailable(_STATE) from None
    except psycopg.OperationalError as exc:
        if not (conn.broken or conn.closed):
            raise
        raise DatabaseUnavailable(
            f"lost the connection to {target.display}",
            cause=server.redact_text((str(exc).strip().splitlines() or [type(exc).__name__])[0], [target.url]),
            state=_STATE,
            fix="find out why the connection dropped (server restart, pg_terminate_backend, network), then run again",
        ) from None
    finally:
        conn.close()
