"""Who blocks a migration that hit lock_timeout: a watch thread on a second connection while it retries, and
the final LockTimeout naming the sessions in the way."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import errors as pgerrors

from migrakit.core.events import LockRetry
from migrakit.db.connect import server
from migrakit.errors import LockTimeout, MigrakitError, MigrationFailed

if TYPE_CHECKING:
    from migrakit.db.run.strategies.base import Options

WATCH_JOIN_SECONDS = 5.0  # the blocker watch is best effort: never wait longer than this for its thread


class BlockerWatch:
    """While a migration retries after lock_timeout, a second connection polls `pg_blocking_pids` of the
    migrator's backend from a thread and keeps the last sessions seen blocking it. Costs nothing unless a
    lock timeout already happened."""

    _QUERY = (
        "SELECT pid, coalesce(nullif(application_name, ''), '-'), coalesce(state, '?'), "
        "date_trunc('second', now() - xact_start), left(regexp_replace(coalesce(query, ''), '\\s+', ' ', 'g'), 200) "
        "FROM pg_stat_activity WHERE pid = ANY (pg_blocking_pids(%s)) ORDER BY xact_start"
    )

    def __init__(self, conn: psycopg.Connection[Any], poll: float = 0.05) -> None:
        info = conn.info
        self._pid = info.backend_pid
        self._conninfo = server.conninfo(conn)
        self._poll = poll
        self._stop = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self._thread: threading.Thread | None = None
        self.seen: list[tuple[Any, ...]] = []

    def __enter__(self) -> BlockerWatch:
        try:
            self._conn = server.connect(self._conninfo, autocommit=True, application_name="migrakit-lock-watch")
        except MigrakitError:
            return self  # no second connection: the error falls back to listing open transactions
        self._thread = threading.Thread(target=self._run, name="migrakit-lock-watch", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        assert self._conn is not None
        while not self._stop.wait(self._poll):
            try:
                rows = self._conn.execute(self._QUERY, (self._pid,)).fetchall()
            except psycopg.Error:
                return
            if rows:
                self.seen = rows

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=WATCH_JOIN_SECONDS)
            if self._thread.is_alive():  # stuck in a query on a dead network: a daemon, left behind with its connection
                return
        if self._conn is not None:
            self._conn.close()


def gave_up(
    conn: psycopg.Connection[Any],
    err: MigrationFailed,
    blockers: list[tuple[Any, ...]],
    state: str,
    *,
    lock_timeout: str,
    retries: int,
    subject: str = "migration",
    command: str = "db.migrate",
) -> LockTimeout:
    """The error after the last lock_timeout: who was in the way (the watch's sightings, else the sessions holding
    relation locks in open transactions) and how to clear them. `subject` and `command`: db.rollback's words."""
    details = [
        f"blocked by pid {pid} ({app}, {st}, transaction open for {age}): {query}"
        for pid, app, st, age, query in blockers
    ]
    if not details:  # the watch saw nothing (no second connection, or waits too short): list likely culprits
        rows = conn.execute(
            "SELECT a.pid, coalesce(nullif(a.application_name, ''), '-'), a.state, "
            "date_trunc('second', now() - a.xact_start), left(regexp_replace(a.query, '\\s+', ' ', 'g'), 200) "
            "FROM pg_stat_activity a WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() "
            "AND a.xact_start IS NOT NULL AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid "
            "AND l.locktype = 'relation' AND l.granted) ORDER BY a.xact_start LIMIT 5"
        ).fetchall()
        details = [
            f"open transaction holding locks: pid {pid} ({app}, {st}, open for {age}): {query}"
            for pid, app, st, age, query in rows
        ]
    pids = sorted({str(d[0]) for d in (blockers or [])})
    terminate = f"SELECT pg_terminate_backend({pids[0]})" if len(pids) == 1 else "SELECT pg_terminate_backend(pid)"
    return LockTimeout(
        f"{subject} {err.migration} could not get its locks within lock_timeout={lock_timeout} "
        f"after {retries + 1} attempts",
        file=err.file,
        migration=err.migration,
        line=err.line,
        col=err.col,
        statement_no=err.statement_no,
        cause=err.cause,
        state=state,
        fix="let the transaction in the way finish, or end it "
        f"(`{terminate}`), or raise lock_timeout / lock_retries (MIGRAKIT_LOCK_TIMEOUT, MIGRAKIT_LOCK_RETRIES), "
        f"then run `inv {command}` again",
        details=details,
    )


def with_lock_retries(
    conn: psycopg.Connection[Any],
    run: Callable[[], None],
    state: Callable[[], str],
    progress: Callable[[], int],
    opts: Options,
    on_event: Callable[[Any], None],
    *,
    subject: str = "migration",
    command: str = "db.migrate",
) -> None:
    """Run, and again after a lock_timeout (a MigrationFailed of SQLSTATE 55P03; at most opts.lock_retries more
    times, pausing longer each time), then `gave_up`. Retries run with a BlockerWatch on `conn` (the connection
    `run` uses) so the final error can name the session in the way. When `progress` moved since the last failure (a
    batch committed migrations before the one that timed out), the count starts again: each migration gets its own
    retries. db.migrate's executor and db.rollback's Undoer (`subject`, `command`: its words)."""
    seen: list[tuple[Any, ...]] = []
    attempt, mark = 0, progress()
    while True:
        try:
            if attempt == 0:
                run()
            else:
                with BlockerWatch(conn) as watch:
                    try:
                        run()
                    finally:
                        seen = watch.seen or seen
            return
        except MigrationFailed as err:
            if err.sqlstate != pgerrors.LockNotAvailable.sqlstate:
                raise
            if progress() != mark:
                attempt, mark, seen = 0, progress(), []
            if attempt == opts.lock_retries:
                raise gave_up(
                    conn, err, seen, state(), lock_timeout=opts.lock_timeout, retries=opts.lock_retries,
                    subject=subject, command=command,
                ) from err  # fmt: skip
            on_event(LockRetry(err.migration or "", attempt + 1, opts.lock_retries))
            time.sleep(opts.retry_pause * (2**attempt))
            attempt += 1
