"""Run a decided list of migrations on a connection. The only module that sends migration SQL.

Contract (the executor never decides *what* to run; `runner` hands it the pending list):
- Mode 1 (standard): every statement is sent alone over the extended query protocol (a prepared
  statement, as serverless HTTP drivers do), so a statement the server would reject as "multiple
  commands" never reaches it. One over 8 MiB travels as COPY data and the server runs it (see
  `db/large_statement.py`: libpq would hold it three times). By default one transaction per migration
  holds its statements and its tracking row; with `pipeline` consecutive such migrations are queued back to back as plain BEGIN ..
  COMMIT commands and the whole run costs about one round trip (see `Executor._pipelined`).
- A migration holding its own BEGIN/COMMIT runs as written, outside a wrapping transaction; one whose
  only statement cannot run in a transaction (CREATE INDEX CONCURRENTLY ...) runs alone in autocommit.
  In both cases the tracking row is written only after the last statement succeeded, and each completed
  statement is recorded in migrakit's own table (`progress`), so a run that stopped halfway resumes after
  the statements that took effect, once it has checked they are unchanged.
- Lock waits are bounded: `lock_timeout` per migration, retried `lock_retries` times; while retrying, a
  second connection watches `pg_blocking_pids` so the final error names the session in the way.
- A lost connection is a DatabaseUnavailable that says what state the database is in.
- Mode 2 (consolidated, legacy): the whole file is one multi-statement message inside one transaction.
- `single_transaction`: Drizzle's migrator reproduced exactly (`db.drizzle_transaction`): one BEGIN, each
  breakpoint chunk as one simple-protocol query, a file's own COMMIT ending that transaction as under Drizzle.
psycopg errors are caught here, once, and become MigrationFailed / LockTimeout.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql

from . import progress, server, tracking
from . import failpoint, large_statement, pipeline
from ..errors import ConfigError, DatabaseUnavailable, LockTimeout, MigrakitError, MigrationFailed
from ..core.migration import STANDARD, Migration
from ..core.statements import NO_TRANSACTION, PLAIN, LineIndex, Statement, keyword_head

Event = Callable[..., None]


@dataclass(frozen=True)
class Options:
    schema: str = "drizzle"
    table: str = "__drizzle_migrations"
    v1: bool = False  # Drizzle 1.0 table (name column)
    single_transaction: bool = False
    pipeline: bool = True
    lock_timeout: str = "5s"
    statement_timeout: str = "0"
    lock_retries: int = 3
    retry_pause: float = 0.5
    search_path: str | None = None  # schema-per-tenant (fleet targets with a schema): set with the timeouts


def _no_event(*_: Any, **__: Any) -> None:
    return None


# ---------------------------------------------------------------------------------------------- lock
# The migration lock is a transaction-scoped advisory lock held by an open transaction on a connection of its
# own: a transaction pins its server connection in every pooler mode (direct, session or transaction pooling),
# so the lock holds behind PgBouncer, Supavisor or Neon's pooler, and it dies with the migrator (server and
# pooler roll back the transaction of a client that went away). Nothing of it is session state: no session
# lock to leave behind on a pooled connection, no setting that outlives the transaction.
# Exactly-once does not rest on it alone: every migration transaction also takes a second transaction-scoped
# lock and re-checks that its hash is not tracked yet (see `Executor._guards`).
# Settings a migration transaction makes are SET LOCAL; TCP keepalives are libpq client options
# (server.connect), which leave no state on the server.
KEEPALIVES_LOCAL = (
    "set_config('idle_in_transaction_session_timeout', '0', true), set_config('tcp_keepalives_idle', '30', true), "
    "set_config('tcp_keepalives_interval', '10', true), set_config('tcp_keepalives_count', '3', true)"
)
_HOLDER = (
    "SELECT a.pid, a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND ((l.classid::bigint << 32) | l.objid::bigint) = %s LIMIT 1"
)


def lock_key(schema: str, table: str) -> int:
    """A stable signed 64-bit advisory-lock key for this tracking table."""
    digest = hashlib.sha256(f"migrakit:{schema}.{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def apply_key(schema: str, table: str) -> int:
    """The key every migration transaction takes (pg_try_advisory_xact_lock) before its re-check: two
    transactions applying migrations to this tracking table never overlap, even without the migration lock."""
    digest = hashlib.sha256(f"migrakit-apply:{schema}.{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def conninfo(conn: psycopg.Connection[Any]) -> str:
    """The conninfo of `conn`, password included, to open another connection like it."""
    info = conn.info
    return psycopg.conninfo.make_conninfo(info.dsn, password=info.password) if info.password else info.dsn


def acquire_lock(
    lock_conn: psycopg.Connection[Any], key: int, *, timeout: float, on_event: Event = _no_event, poll: float = 0.2
) -> None:
    """Poll pg_try_advisory_xact_lock on `lock_conn` (not autocommit) until it is granted; the transaction it
    opened then stays open and holds the lock. Between polls no transaction is open (a waiter pins no pooled
    server connection) and nothing blocks inside the server (a blocked migrator can deadlock with another's
    CREATE INDEX CONCURRENTLY). Raise LockTimeout after `timeout` seconds, naming the holder."""
    deadline = time.monotonic() + timeout
    announced = False
    holder = None
    while True:
        # A literal, not a parameter: the simple protocol leaves no portal behind, and a portal of the extended
        # protocol keeps its snapshot (an xmin) for as long as the transaction stays open, which would make every
        # CREATE INDEX CONCURRENTLY wait for the lock's transaction, i.e. for the end of the run.
        got = lock_conn.execute(f"SELECT {KEEPALIVES_LOCAL}, pg_try_advisory_xact_lock({int(key)})").fetchone()
        if got and got[-1]:
            if announced:
                on_event("lock-acquired")
            return
        if not announced or time.monotonic() >= deadline:
            holder = lock_conn.execute(_HOLDER, (key,)).fetchone() or holder
        lock_conn.rollback()  # release the server connection between polls
        if not announced:
            on_event("lock-wait", holder=holder)
            announced = True
        if time.monotonic() >= deadline:
            raise LockTimeout(
                f"another migrator has held the migration lock for more than {timeout:g}s",
                cause=f"advisory lock {key} held by pid {holder[0]} ({holder[1]})" if holder else None,
                state="nothing was applied by this run",
                fix="wait for the other deploy to finish and run again, or raise lock_wait_timeout; "
                "if that process is gone, its connection still holds the lock: end it with pg_terminate_backend(pid)",
            )
        time.sleep(poll)


def release_lock(lock_conn: psycopg.Connection[Any]) -> None:
    """End the lock's transaction (ROLLBACK) and its connection. A broken connection already lost it."""
    try:
        if not lock_conn.closed and not lock_conn.broken:
            lock_conn.rollback()
    except psycopg.Error:
        pass
    finally:
        lock_conn.close()


@contextmanager
def migration_lock(
    conn: psycopg.Connection[Any], schema: str, table: str, *, timeout: float, on_event: Event = _no_event
) -> Iterator[None]:
    """Hold the migration lock of this tracking table for the block: one migrator at a time. The lock lives in
    an open transaction on a second connection to the same database (same conninfo as `conn`), rolled back on
    the way out; `conn` itself carries no lock and no session state.

    Every task that writes to the target takes this lock, so the target is checked writable here, first
    (db/writable.py: exit 6 naming a standby, a replica endpoint or default_transaction_read_only); a
    ReadOnlySqlTransaction inside the block (a failover mid-run) is reported the same way."""
    from .writable import check_writable, read_only_error

    check_writable(conn)
    key = lock_key(schema, table)
    try:
        lock_conn = psycopg.connect(
            conninfo(conn), autocommit=False, prepare_threshold=None, application_name="migrakit-lock", connect_timeout=10,
        )  # fmt: skip
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(
            "cannot open the connection that holds the migration lock",
            cause=server.redact_text((str(exc).strip().splitlines() or [type(exc).__name__])[0], [conn.info.dsn]),
            state="nothing was applied by this run",
            fix="the database accepted one connection but not a second: raise the pooler's pool size or the role's "
            "connection limit (a migrator needs 2), then run again",
        ) from None
    try:
        acquire_lock(lock_conn, key, timeout=timeout, on_event=on_event)
        yield
    except pgerrors.ReadOnlySqlTransaction as exc:
        err = read_only_error(conn, cause=f"{exc.diag.message_primary} (25006 ReadOnlySqlTransaction)")
        raise (err or exc) from None
    finally:
        release_lock(lock_conn)


# ------------------------------------------------------------------------------------------- errors
_FIXES: dict[type[psycopg.Error], str] = {
    pgerrors.SyntaxError: "correct the SQL at the position shown, then run `inv db.migrate` again",
    pgerrors.DuplicateTable: "the object already exists: it was created outside migrations or by an edited "
    "migration; compare with `inv db.check`, then drop it or baseline it",
    pgerrors.DuplicateObject: "the object already exists: compare with `inv db.check`, then drop it or make the "
    "statement idempotent",
    pgerrors.UndefinedTable: "create the table in an earlier migration (check the journal order), then run again",
    pgerrors.UndefinedColumn: "add the column in an earlier migration, or fix the name, then run again",
    pgerrors.InsufficientPrivilege: "grant the migration role the privilege named above, or run as the owner",
    pgerrors.QueryCanceled: "the statement hit statement_timeout: raise statement_timeout for this run "
    "(MIGRAKIT_STATEMENT_TIMEOUT) or split the work into smaller migrations",
}


def _extension_fix(stmt: Statement | None) -> str | None:
    head = keyword_head(stmt.text) if stmt else ""
    if head[:16].upper().startswith("CREATE EXTENSION"):
        words = head.replace('"', " ").split()
        name = next((w for w in words[2:] if w.upper() not in ("IF", "NOT", "EXISTS")), "?").rstrip(";")
        instead = "use gen_random_uuid() (built in since PostgreSQL 13) or " if name.lower() == "uuid-ossp" else ""
        return (
            f'the server has no extension "{name}" (the embedded server has contrib but not uuid-ossp or pgcrypto); '
            f"{instead}point DATABASE_URL at a PostgreSQL server that has it (e.g. Debian's postgresql-contrib), "
            "then run again"
        )
    return None


def _failure(
    exc: psycopg.Error,
    migration: Migration,
    stmt: Statement | None,
    stmt_no: int | None,
    count: int,
    state: str,
    *,
    whole_file: bool = False,
) -> MigrationFailed:
    diag = exc.diag
    line = col = None
    if whole_file:  # Mode 2: the server's position is into the whole file; else point at the failing statement
        if diag.statement_position:
            line, col = LineIndex(migration.text).position(int(diag.statement_position) - 1)
        elif stmt is not None:
            line, col = stmt.line, stmt.col
    elif stmt is not None:
        line, col = stmt.line, stmt.col
        pos = diag.statement_position or large_statement.error_position(exc, stmt)
        if pos:
            line, col = LineIndex(migration.text).position(stmt.start + int(pos) - 1)
    elif diag.statement_position:  # Mode 2: the position is into the whole file
        line, col = LineIndex(migration.text).position(int(diag.statement_position) - 1)
    cause = diag.message_primary or str(exc).splitlines()[0]
    cause += f" ({diag.sqlstate} {type(exc).__name__})"
    fix = (
        (isinstance(exc, pgerrors.FeatureNotSupported) and _extension_fix(stmt))
        or next((f for cls, f in _FIXES.items() if isinstance(exc, cls)), None)
        or "fix the statement, then run `inv db.migrate` again"
    )
    details = [d for d in (diag.message_detail and f"detail: {diag.message_detail}", diag.message_hint and f"hint: {diag.message_hint}") if d]
    err = MigrationFailed(
        f"migration {migration.tag} failed" + (f" at statement {stmt_no} of {count}" if stmt_no else ""),
        file=migration.path,
        migration=migration.tag,
        statement_no=stmt_no,
        statement_count=count,
        line=line,
        col=col,
        cause=cause,
        state=state,
        fix=fix,
        details=details,
    )
    err.sqlstate = diag.sqlstate
    return err


def _whole_file_failure(exc: psycopg.Error, m: Migration, done: int, state: str) -> MigrationFailed:
    """A Mode 2 file failed: find the failing statement by the server's position (an offset into the whole
    file) or, without one, as the first statement the server did not complete."""
    try:
        stmts = m.statements
    except MigrakitError:  # the file could not be split: still name the file and the position
        stmts = []
    pos = exc.diag.statement_position
    if pos and stmts:
        index: int | None = max((i for i, s in enumerate(stmts) if s.start <= int(pos) - 1), default=0)
    else:
        index = done if done < len(stmts) else None
    stmt = stmts[index] if index is not None else None
    return _failure(exc, m, stmt, index + 1 if index is not None else None, len(stmts), state, whole_file=True)


def _connection_lost(conn: psycopg.Connection[Any], exc: psycopg.Error) -> bool:
    """The session is gone (server restart, pg_terminate_backend, network), not just the statement."""
    return conn.broken or conn.closed or (exc.sqlstate or "").startswith(("08", "57P"))


def _timeout_setting_error(exc: psycopg.Error) -> ConfigError | None:
    """The server refused the configured lock_timeout / statement_timeout value (e.g. "5 parsecs")."""
    message = exc.diag.message_primary or ""
    if exc.sqlstate != pgerrors.InvalidParameterValue.sqlstate or not re.search(r'"(lock|statement)_timeout"', message):
        return None
    return ConfigError(
        f"the server refused a timeout setting: {message}",
        state="nothing from this migration was applied",
        fix="set lock_timeout / statement_timeout ([tool.migrakit] or MIGRAKIT_LOCK_TIMEOUT, MIGRAKIT_STATEMENT_TIMEOUT) "
        "to a PostgreSQL duration such as '5s', '500ms' or '0' (no limit)",
    )


def _lost(exc: psycopg.Error, m: Migration, where: str, state: str) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"lost the connection to the database while applying {m.tag} ({where})",
        file=m.path,
        migration=m.tag,
        cause=(str(exc).strip().splitlines() or [type(exc).__name__])[0] + f" ({type(exc).__name__})",
        state=state,
        fix="find out why the connection dropped (server restart or failover, pg_terminate_backend, a proxy's "
        "timeout, the network), then run `inv db.migrate` again; `inv db.status` shows what is applied",
    )


_CONCURRENT_INDEX = re.compile(
    r'\ACREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?("(?:[^"]|"")+"|[^\s(]+)\s+ON\b',
    re.IGNORECASE,
)


def _index_name(stmt: Statement) -> str | None:
    """The name a CREATE INDEX CONCURRENTLY statement gives its index, as stored in pg_class."""
    m = _CONCURRENT_INDEX.match(keyword_head(stmt.text))
    if not m:
        return None
    name = m.group(1)
    return name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()


def _existing_index(conn: psycopg.Connection[Any], stmt: Statement) -> tuple[str, str, bool] | None:
    """(schema, name, valid) of the index a CREATE INDEX CONCURRENTLY statement builds, if it exists."""
    name = _index_name(stmt)
    if name is None or conn.broken:
        return None
    row = conn.execute(
        "SELECT n.nspname, c.relname, i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = %s "
        "ORDER BY pg_catalog.pg_table_is_visible(c.oid) DESC, i.indisvalid LIMIT 1",
        (name,),
    ).fetchone()
    return (row[0], row[1], row[2]) if row else None


def _concurrent_index_fix(conn: psycopg.Connection[Any], stmt: Statement) -> tuple[str, str] | None:
    """(state, fix) when a CREATE INDEX CONCURRENTLY failed and left its index behind (INVALID, or valid
    because an interrupted run built it)."""
    found = _existing_index(conn, stmt)
    if found is None:
        return None
    shown = sql.Identifier(found[0], found[1]).as_string(conn)
    if found[2]:
        return (
            f"index {shown} already exists and is valid",
            f"an earlier run probably built it before it was interrupted: if it is this index, add IF NOT EXISTS to "
            f"the statement (it has not completed, so it may be edited), or `DROP INDEX CONCURRENTLY {shown};`, "
            "then run `inv db.migrate` again",
        )
    return (
        f"CREATE INDEX CONCURRENTLY left the INVALID index {shown} behind (unused by queries, still updated by writes)",
        "fix the cause above (e.g. duplicate values for a UNIQUE index), then run `inv db.migrate` again: it drops "
        f"the INVALID index before building it again (or `DROP INDEX CONCURRENTLY {shown};` now)",
    )


_WATCH_JOIN_SECONDS = 5.0  # the blocker watch is best effort: never wait longer than this for its thread


class _BlockerWatch:
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
        self._conninfo = conninfo(conn)
        self._poll = poll
        self._stop = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self._thread: threading.Thread | None = None
        self.seen: list[tuple[Any, ...]] = []

    def __enter__(self) -> "_BlockerWatch":
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
            self._thread.join(timeout=_WATCH_JOIN_SECONDS)
            if self._thread.is_alive():  # stuck in a query on a dead network: a daemon, left behind with its connection
                return
        if self._conn is not None:
            self._conn.close()


# ------------------------------------------------------------------------------------------ running
class _WholeFileCursor(psycopg.Cursor[Any]):
    """Sends a Mode 2 file as one message and counts the statements the server completed before the one
    that failed (the simple protocol returns one result per statement)."""

    statements_done = 0

    def _check_results(self, results: list[Any]) -> None:
        ok = (psycopg.pq.ExecStatus.COMMAND_OK, psycopg.pq.ExecStatus.TUPLES_OK, psycopg.pq.ExecStatus.EMPTY_QUERY)
        self.statements_done = next((i for i, r in enumerate(results) if r.status not in ok), len(results))
        super()._check_results(results)


@dataclass
class _Sent:
    migration: Migration
    cursor: psycopg.Cursor[Any]
    stmt: Statement | None  # None: a Mode 2 file, or the tracking insert
    number: int | None  # 0: BEGIN or the timeouts, before the first statement (pipelined batches)
    guard: str = ""  # "busy" / "tracked": one of the two guard statements (see Executor._guards)


_SYNC_STATEMENTS = 1000  # a pipelined batch sends a Sync (and frees what it holds) after this many statements
_SYNC_BYTES = 8 << 20  # ... or this many characters of SQL
# The first guard of every migration transaction: fails (division by zero) when another transaction applying
# migrations to this tracking table is open. Volatile, so never folded at plan time.
_APPLY_LOCK = "SELECT 1 / pg_try_advisory_xact_lock(%s)::int"


# What each guard raises when it trips; any other error at a guard (no tracking table, no permission, a lost
# connection) is reported as the error it is.
_GUARD_SQLSTATES = {
    "busy": pgerrors.DivisionByZero.sqlstate,
    "tracked": pgerrors.InvalidTextRepresentation.sqlstate,
}


def _tripped(guard: str, exc: psycopg.Error) -> bool:
    """The failing command was this guard (told by which queued command failed) and it failed as designed."""
    return bool(guard) and exc.sqlstate == _GUARD_SQLSTATES[guard]


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


class _Started:
    """Emits 'start' for a pipelined migration only once its first command's result has arrived (it really
    ran), in order; a migration queued after a failure never gets one."""

    def __init__(self, on_event: Event, count: Callable[[Migration], int]) -> None:
        self.on_event, self.count = on_event, count
        self.waiting: list[tuple[Migration, psycopg.Cursor[Any]]] = []

    def watch(self, m: Migration, first: psycopg.Cursor[Any]) -> None:
        self.waiting.append((m, first))
        self.poll()

    def poll(self) -> None:
        while self.waiting and self.waiting[0][1].pgresult is not None:
            m, _ = self.waiting.pop(0)
            self.on_event("start", migration=m, statements=self.count(m))

    def until(self, failed: Migration) -> None:
        """After a failure: 'start' for the migrations up to the failed one (it ran, up to its failing command)."""
        if any(m is failed for m, _ in self.waiting):
            while self.waiting:
                m, _ = self.waiting.pop(0)
                self.on_event("start", migration=m, statements=self.count(m))
                if m is failed:
                    break


# A statement longer than this (characters; bytes for ASCII) is never pipelined: its migration runs alone,
# statement by statement, in its own transaction (consecutive normal migrations keep batching). Below the
# smallest size seen to deadlock psycopg's pipeline without `pipeline.drain` (2 MB over a unix socket), and the
# round trips it costs are nothing next to sending a megabyte.
PIPELINE_STATEMENT_LIMIT = 1 << 20


def _fits_pipeline(m: Migration) -> bool:
    """A Mode 1 migration whose every statement is at most PIPELINE_STATEMENT_LIMIT long."""
    return m.mode == STANDARD and all(s.end - s.start <= PIPELINE_STATEMENT_LIMIT for s in m.statements)


def _rolled_back(m: Migration) -> str:
    return f"nothing from {m.tag} was applied (its transaction was rolled back); tracking table unchanged"


def _block_failure(
    conn: psycopg.Connection[Any], exc: psycopg.Error, failed: _Sent | None, first: Migration, state: str
) -> MigrakitError:
    """The error of a transaction that failed at the command `failed` (None: before any was sent)."""
    m = failed.migration if failed else first
    if _connection_lost(conn, exc):
        if failed is None or failed.number == 0:
            where = "before its first statement"
        elif isinstance(failed.cursor, _WholeFileCursor):
            where = "while its file ran, in one transaction"
        elif failed.number:
            where = f"statement {failed.number} of {len(m.statements)}"
        else:
            where = "its tracking row or COMMIT"
        return _lost(
            exc,
            m,
            where,
            f"{state.split(';')[0]}: the server rolls back the open transaction of a lost connection, unless "
            "the connection dropped during COMMIT; the tracking row commits with the migration, so "
            "`inv db.status` shows which",
        )
    if failed is None:
        return _failure(exc, m, None, None, 0, state)
    if isinstance(failed.cursor, _WholeFileCursor):
        return _whole_file_failure(exc, m, failed.cursor.statements_done, state)
    count = len(m.statements) if m.mode == STANDARD else 0
    return _failure(exc, m, failed.stmt, failed.number or None, count, state)


class Executor:
    def __init__(
        self,
        conn: psycopg.Connection[Any],
        options: Options,
        on_event: Event = _no_event,
        direct: psycopg.Connection[Any] | None = None,
    ) -> None:
        if not conn.autocommit:
            raise ValueError("the executor needs an autocommit connection; it manages transactions itself")
        self.conn = conn
        self.opts = options
        self.on_event = on_event
        self._insert = tracking.insert_sql(options.schema, options.table, v1=options.v1)
        self._tracked = sql.SQL(
            "SELECT (min(hash) || ' is tracked already: another migrator applied it')::int FROM {} "
            "WHERE hash = %s AND created_at IS NOT DISTINCT FROM %s::bigint"
        ).format(tracking.table(options.schema, options.table))
        self._apply_key = apply_key(options.schema, options.table)
        self.direct = direct  # for migrations that run outside a transaction, behind a transaction pooler
        self.applied: list[str] = []  # tags applied and tracked so far, also after a failure
        self._fp = failpoint.from_env()  # a testing aid (MIGRAKIT_FAILPOINT); None unless set

    def apply(self, migrations: Sequence[Migration]) -> list[str]:
        """Apply `migrations` in order; raise on the first failure (earlier ones stay applied)."""
        if self.opts.single_transaction:  # Drizzle's migrator, query for query: see db/drizzle_transaction.py
            from . import drizzle_transaction

            with self._own_session():  # a file's own COMMIT ends Drizzle's transaction: one session for the run
                return drizzle_transaction.apply(self, migrations, self._with_lock_retries)
        self._check_progress(migrations)
        i = 0
        while i < len(migrations):
            m = migrations[i]
            if self._batchable(m):  # consecutive pipelined Mode 1 migrations: one batch, about one round trip
                j = next((k for k in range(i, len(migrations)) if not self._batchable(migrations[k])), len(migrations))
                self._apply_batch(migrations[i:j])
                i = j
                continue
            if m.runs_outside_transaction:
                self._outside_transaction(m)
            else:
                state = _rolled_back(m)
                self._with_lock_retries(lambda m=m, state=state: self._transactional([m], state), lambda s=state: s)
            self.applied.append(m.tag)
            i += 1
        return self.applied

    def _batchable(self, m: Migration) -> bool:
        return self.opts.pipeline and _fits_pipeline(m) and not m.runs_outside_transaction

    def _apply_batch(self, batch: Sequence[Migration]) -> None:
        """Apply `batch` pipelined; after a lock timeout in migration k (those before it committed), retry
        from k with the rest."""
        base = len(self.applied)

        def rest() -> Sequence[Migration]:
            return batch[len(self.applied) - base :]

        self._with_lock_retries(
            lambda: self._pipelined(rest()), lambda: _rolled_back(rest()[0]), progress=lambda: len(self.applied)
        )

    def _pipelined(self, batch: Sequence[Migration]) -> None:
        """Queue each migration as plain commands: BEGIN, its local timeouts, each statement alone (pipeline
        mode always uses the extended protocol), its tracking row, COMMIT; migrations back to back and one
        Sync at the end, so the whole batch costs about one round trip. A Sync also goes out every
        _SYNC_STATEMENTS statements or _SYNC_BYTES of SQL (a transaction spans Syncs), and the cursors whose
        results arrived are released, which bounds memory on a large file.

        PostgreSQL skips everything after the first error until the next Sync: the migrations before the
        failing one are committed (appended to `applied`), the failing one is rolled back, later ones do not
        run. The first cursor without a result is the failing command."""
        sent: list[_Sent] = []  # commands queued since the last Sync
        ends: list[Migration] = []  # migrations whose COMMIT was queued since the last Sync
        size = 0
        settings, values = self._local_settings()

        started = _Started(self.on_event, self._count)

        def queue(
            m: Migration, query: Any, params: Any = None, st: Statement | None = None, no: int | None = None,
            guard: str = "", cur: psycopg.Cursor[Any] | None = None,
        ) -> int:
            cur = cur or self.conn.cursor()
            sent.append(_Sent(m, cur, st, no, guard))
            cur.execute(query, params, prepare=False if st is not None else None)
            started.poll()
            return len(query) if isinstance(query, str) else 0

        def committed(migrations: Sequence[Migration]) -> None:
            started.poll()
            for done in migrations:
                self.applied.append(done.tag)
                self.on_event("done", migration=done)

        if len(batch) > 1:
            self.on_event("queued", migrations=list(batch))
        try:
            with self.conn.pipeline() as pipe:
                for m in batch:
                    queue(m, "BEGIN", no=0)
                    queue(m, settings, values, no=0)
                    for guard, query, params in self._guards(m):
                        cur = self.conn.cursor()
                        if guard == "tracked":  # its result arrives only when the migration really runs
                            started.watch(m, cur)
                        queue(m, query, params, no=0, guard=guard, cur=cur)
                    for i, st in enumerate(m.statements):
                        size += queue(m, st.text, None, st, i + 1)
                        due = self._fp is not None and self._fp.step()
                        if due or len(sent) >= _SYNC_STATEMENTS or size >= _SYNC_BYTES:
                            pipeline.sync(self.conn, pipe)  # raises the first error, if any
                            committed(ends)
                            sent.clear()
                            ends.clear()
                            size = 0
                        if due:
                            self._fp.fire(self.conn)  # type: ignore[union-attr]
                    queue(m, self._insert, tracking.insert_params(m, v1=self.opts.v1))
                    queue(m, "COMMIT")
                    ends.append(m)
            committed(ends)
        except psycopg.Error as exc:
            failed = next((s for s in sent if s.cursor.pgresult is None), sent[-1]) if sent else None
            fm = failed.migration if failed else batch[0]
            committed(ends[: ends.index(fm)] if fm in ends else ends)
            if not (failed is not None and failed.guard):
                started.until(fm)  # 'start' for those that ran, the failed one too
            sent.clear()
            idle = self.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            if not idle and not _connection_lost(self.conn, exc):
                self.conn.execute("ROLLBACK")  # the failed migration's transaction, left aborted at the Sync
            if failed is not None and _tripped(failed.guard, exc):
                raise AppliedElsewhere(fm, busy=failed.guard == "busy") from None
            setting = _timeout_setting_error(exc)
            if setting is not None:
                raise setting from None
            raise _block_failure(self.conn, exc, failed, fm, _rolled_back(fm)) from exc

    @property
    def _tracking_name(self) -> str:
        return f"{self.opts.schema}.{self.opts.table}"

    def _check_progress(self, migrations: Sequence[Migration]) -> None:
        """Before anything runs: a migration that stopped halfway in an earlier run must still hold the
        statements that completed then (raises DriftError otherwise). Reads only; creates nothing."""
        outside = [m for m in migrations if m.runs_outside_transaction]
        if outside and progress.exists(self.conn):
            for m in outside:
                progress.resume_point(m, progress.read(self.conn, self._tracking_name, m.tag), self._tracking_name)

    def record(self, migrations: Sequence[Migration]) -> list[str]:
        """Write the tracking rows of migrations proven applied by hash (a consolidation whose replaced
        migrations all ran here) without running their SQL: the same insert as `apply`, one transaction."""
        if not migrations:
            return []
        try:
            with self.conn.transaction():
                for m in migrations:
                    self._run_guards(m)  # AppliedElsewhere rolls the transaction back
                    self.conn.execute(self._insert, tracking.insert_params(m, v1=self.opts.v1))
        except psycopg.Error as exc:
            raise _failure(exc, migrations[0], None, None, 0, "nothing was recorded; tracking table unchanged") from exc
        for m in migrations:
            self.on_event("recorded", migration=m)
        return [m.tag for m in migrations]

    def _transactional(self, migrations: Sequence[Migration], state: str) -> None:
        """One transaction holding each migration's statements and tracking row.

        Pipelined, the whole block is sent at once and costs about one round trip; each Mode 1 statement is
        still its own extended-protocol query. A Mode 2 file (several statements in one message) cannot be
        pipelined, so a block holding one is sent query by query."""
        pipelined = self.opts.pipeline and all(_fits_pipeline(m) for m in migrations)
        sent: list[_Sent] = []
        started = _Started(self.on_event, self._count)
        try:
            with self.conn.pipeline() if pipelined else nullcontext() as pipe:
                with self.conn.transaction():
                    self.conn.execute(*self._local_settings())
                    for m in migrations:
                        for guard, query, params in self._guards(m):
                            cur = self.conn.cursor()
                            sent.append(_Sent(m, cur, None, 0, guard))
                            cur.execute(query, params)
                        if not pipelined:  # sent and answered one by one: it runs now
                            self.on_event("start", migration=m, statements=self._count(m))
                        if m.mode == STANDARD:
                            for i, st in enumerate(m.statements):
                                cur = self.conn.cursor()
                                sent.append(_Sent(m, cur, st, i + 1))
                                if pipelined and i == 0:
                                    started.watch(m, cur)
                                if not pipelined and large_statement.wanted(st) and large_statement.streamable(self.conn):
                                    large_statement.execute(self.conn, st)  # as data, never 3 copies in libpq
                                else:  # binary forces the extended protocol; bytes spare a copy of a giant statement
                                    cur.execute(st.text.encode(self.conn.info.encoding) if not pipelined else st.text, binary=not pipelined)
                                started.poll()
                                if self._fp is not None and self._fp.step():
                                    if pipe is not None:
                                        pipeline.sync(self.conn, pipe)
                                    self._fp.fire(self.conn)
                        else:
                            cur = _WholeFileCursor(self.conn)
                            sent.append(_Sent(m, cur, None, None))
                            cur.execute(m.text.encode("utf-8"))  # one message; simple protocol allows many statements
                            if self._fp is not None and self._fp.step():  # a Mode 2 file counts as one statement
                                self._fp.fire(self.conn)
                        cur = self.conn.cursor()
                        sent.append(_Sent(m, cur, None, None))
                        if pipelined and m.mode == STANDARD and not m.statements:  # nothing but its tracking row
                            started.watch(m, cur)
                        cur.execute(self._insert, tracking.insert_params(m, v1=self.opts.v1))
                    if pipe is not None:
                        pipeline.drain(self.conn)  # the commit syncs: send everything first (see db/pipeline.py)
            started.poll()
            for m in migrations:
                self.on_event("done", migration=m)
        except psycopg.Error as exc:
            setting = _timeout_setting_error(exc)
            if setting is not None:
                raise setting from None
            if pipelined:
                failed = next((s for s in sent if s.cursor.pgresult is None), sent[-1]) if sent else None
                started.poll()
                if failed is not None and not failed.guard:
                    started.until(failed.migration)  # those that ran before the failure, and the failed one
            else:
                failed = sent[-1] if sent else None
            if failed is not None and _tripped(failed.guard, exc):
                raise AppliedElsewhere(failed.migration, busy=failed.guard == "busy") from None
            raise _block_failure(self.conn, exc, failed, migrations[0], state) from exc

    def _local_settings(self, local: bool = True) -> tuple[str, tuple[Any, ...]]:
        """The query (and its parameters) setting lock_timeout, statement_timeout and (PostgreSQL 14+: the
        server notices a dead client while a statement runs) client_connection_check_interval; local=True:
        for the current transaction only (SET LOCAL), so nothing outlives it on a pooled connection."""
        query = "SELECT set_config('lock_timeout', %s, %s), set_config('statement_timeout', %s, %s)"
        params: tuple[Any, ...] = (self.opts.lock_timeout, local, self.opts.statement_timeout, local)
        if self.conn.info.server_version >= 140000:
            query += ", set_config('client_connection_check_interval', '1s', %s)"
            params += (local,)
        if self.opts.search_path is not None:  # quoted: the schema name as written, case and all
            query += ", set_config('search_path', %s, %s)"
            params += ('"' + self.opts.search_path.replace('"', '""') + '"', local)
        return query, params

    def _guards(self, m: Migration) -> list[tuple[str, Any, tuple[Any, ...]]]:
        """The two statements that open every migration transaction, so it applies `m` at most once whatever
        happened to the migration lock: "busy" fails when another migration transaction on this tracking table
        is open (a transaction-scoped advisory lock, released at its COMMIT/ROLLBACK); "tracked" fails when
        `m`'s row (hash and created_at) is already there. A failure is told apart by WHICH statement failed."""
        return [("busy", _APPLY_LOCK, (self._apply_key,)), ("tracked", self._tracked, (m.hash, m.when))]

    def _run_guards(self, m: Migration) -> tuple[Migration, str]:
        """Run the guards inside the current transaction. A failing guard raises AppliedElsewhere (the caller
        rolls its transaction back); returns (m, "") when both passed."""
        for guard, query, params in self._guards(m):
            try:
                self.conn.execute(query, params)
            except psycopg.Error as exc:
                if not _tripped(guard, exc):
                    raise
                raise AppliedElsewhere(m, busy=guard == "busy") from None
        return (m, "")

    def _outside_transaction(self, m: Migration) -> None:
        """A migration with its own BEGIN/COMMIT, or a lone CREATE INDEX CONCURRENTLY: run as written,
        without a wrapping transaction, resuming after the statements an earlier run completed (see
        `progress`). The tracking row is written only after the last statement succeeded.

        Its settings cannot be SET LOCAL (there is no transaction around it): they are set for the session and
        RESET at the end, so it needs a session of its own; behind a transaction pooler the runner hands the
        executor a direct connection (`direct`, from direct_url) and it runs there."""
        with self._own_session():
            self._outside_transaction_on_conn(m)

    @contextmanager
    def _own_session(self) -> Iterator[None]:
        """Run the block on the direct connection when the runner gave one (behind a transaction pooler, for
        SQL that needs one server session: session settings, a file's own transaction control)."""
        if self.direct is None or self.direct is self.conn:
            yield
            return
        pooled, self.conn = self.conn, self.direct
        try:
            yield
        finally:
            self.conn = pooled

    def _outside_transaction_on_conn(self, m: Migration) -> None:
        stmts = m.statements
        m.check_runnable()
        progress.ensure_table(self.conn)
        done = progress.resume_point(m, progress.read(self.conn, self._tracking_name, m.tag), self._tracking_name)
        self.on_event("start", migration=m, statements=len(stmts))
        if done:
            self.on_event("resume", migration=m, done=done, statements=len(stmts))
        try:
            self.conn.execute(*self._local_settings(local=False))
            self._with_lock_retries(lambda: self._run_outside(m), lambda: self._outside_state(m))
        except psycopg.Error as exc:  # between statements (reading or writing progress)
            setting = _timeout_setting_error(exc)
            if setting is not None:
                raise setting from None
            if not _connection_lost(self.conn, exc):
                raise
            raise _lost(
                exc,
                m,
                "between two statements",
                f"{m.tag} runs without a wrapping transaction: the statements that completed are recorded in "
                f"{progress.SCHEMA}.{progress.TABLE}; tracking table unchanged; the next `inv db.migrate` resumes after them",
            ) from exc
        finally:
            if not self.conn.broken and self.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                check = "; RESET client_connection_check_interval" if self.conn.info.server_version >= 140000 else ""
                check += "; RESET search_path" if self.opts.search_path is not None else ""
                self.conn.execute("RESET lock_timeout; RESET statement_timeout" + check)
        self.on_event("done", migration=m)

    def _completed(self, m: Migration) -> int:
        return sum(1 for r in progress.read(self.conn, self._tracking_name, m.tag) if r.completed_at is not None)

    def _run_outside(self, m: Migration) -> None:
        """Run `m`'s statements from the first one not recorded as completed, then its tracking row."""
        idle = psycopg.pq.TransactionStatus.IDLE
        for i in range(self._completed(m), len(m.statements)):
            self._run_outside_statement(m, i)
            self.on_event("statement", migration=m, number=i + 1)
        try:  # the tracking row and the end of the progress record commit together
            if self.conn.info.transaction_status == idle:
                self.conn.execute("BEGIN")
            try:
                self._run_guards(m)
            except AppliedElsewhere:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute(self._insert, tracking.insert_params(m, v1=self.opts.v1))
            progress.clear(self.conn, self._tracking_name, m.tag)
            self.conn.execute("COMMIT")  # also ends a transaction the file left open, as Drizzle's final commit does
        except psycopg.Error as exc:
            raise self._outside_failure(exc, m, None) from exc

    def _run_outside_statement(self, m: Migration, i: int) -> None:
        """Statement i (0-based) and its progress row, atomically where PostgreSQL allows it: a plain
        statement in a transaction of its own, one inside the file's own BEGIN..COMMIT in that transaction.
        A statement that cannot run in a transaction (CONCURRENTLY, VACUUM ...) and the file's own
        transaction-control statements are recorded right after they complete."""
        st = m.statements[i]
        wrap = st.kind == PLAIN and self.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        try:
            if self._index_built_before(m, i):
                progress.record(self.conn, self._tracking_name, m, i + 1)
                return
            if _index_name(st) and st.kind == NO_TRANSACTION:
                progress.record(self.conn, self._tracking_name, m, i + 1, started=True)
            if wrap:
                self.conn.execute("BEGIN")
            try:
                self.conn.execute(st.text, binary=True)
            except pgerrors.ActiveSqlTransaction:
                if not wrap:
                    raise
                self.conn.execute("ROLLBACK")  # a statement migrakit did not know must run alone
                wrap = False
                self.conn.execute(st.text, binary=True)
            if self._fp is not None and self._fp.step():
                self._fp.fire(self.conn)  # completed, not yet recorded: the hardest place to stop
            progress.record(self.conn, self._tracking_name, m, i + 1)
            if wrap:
                self.conn.execute("COMMIT")
        except psycopg.Error as exc:
            raise self._outside_failure(exc, m, i) from exc

    def _index_built_before(self, m: Migration, i: int) -> bool:
        """Before running CREATE INDEX CONCURRENTLY again: True when an earlier run of this very statement
        built the index but died before recording it (a started row, and the index now valid). An INVALID
        leftover (the build failed or was interrupted) is dropped, as PostgreSQL's documentation advises: the
        statement has not completed, the migration lock is held, and an index someone is still building
        cannot be dropped within lock_timeout. A valid index without a started row is left alone (the
        statement then fails, naming it)."""
        st = m.statements[i]
        if st.kind != NO_TRANSACTION or self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            return False
        found = _existing_index(self.conn, st)
        if found is None:
            return False
        shown = sql.Identifier(found[0], found[1]).as_string(self.conn)
        if found[2]:
            if progress.started(progress.read(self.conn, self._tracking_name, m.tag), m, i + 1):
                self.on_event("index-already-built", migration=m, index=shown)
                return True
            return False
        self.conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(found[0], found[1])))
        self.on_event("dropped-invalid-index", migration=m, index=shown)
        return False

    def _outside_state(self, m: Migration) -> str:
        done, total = self._completed(m), len(m.statements)
        if not done:
            return f"nothing from {m.tag} was applied; tracking table unchanged"
        return (
            f"{m.tag} runs without a wrapping transaction: statements 1-{done} of {total} took effect and are recorded "
            f"in {progress.SCHEMA}.{progress.TABLE}; tracking table unchanged; the next `inv db.migrate` checks they "
            f"are unchanged and resumes at statement {done + 1}"
        )

    def _outside_failure(self, exc: psycopg.Error, m: Migration, i: int | None) -> MigrakitError:
        stmts = m.statements
        where = f"statement {i + 1} of {len(stmts)}" if i is not None else "its tracking row"
        if _connection_lost(self.conn, exc):
            return _lost(
                exc,
                m,
                where,
                f"{m.tag} runs without a wrapping transaction: the statements before {where} that completed are "
                f"recorded in {progress.SCHEMA}.{progress.TABLE} (those inside the file's own open transaction were "
                "rolled back with it); tracking table unchanged; the next `inv db.migrate` resumes after them",
            )
        if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self.conn.execute("ROLLBACK")
        err = _failure(exc, m, stmts[i] if i is not None else None, i + 1 if i is not None else None, len(stmts), self._outside_state(m))
        if i is not None and self._completed(m):
            err.fix = f"{err.fix} (edit only statement {i + 1} or later: the ones before it took effect)"
        cleanup = _concurrent_index_fix(self.conn, stmts[i]) if i is not None else None
        if cleanup:
            err.state = f"{err.state}; {cleanup[0]}"
            err.fix = cleanup[1]
        return err

    # --- retries on lock_timeout
    def _with_lock_retries(
        self, run: Callable[[], None], state: Callable[[], str], progress: Callable[[], int] = lambda: 0
    ) -> None:
        """Run, and again after a lock_timeout (at most lock_retries more times, pausing longer each time).
        Retries run with a _BlockerWatch so the final error can name the session in the way. When `progress`
        moved since the last failure (a batch committed migrations before the one that timed out), the count
        starts again: each migration gets its own retries."""
        seen: list[tuple[Any, ...]] = []
        attempt, mark = 0, progress()
        while True:
            try:
                if attempt == 0:
                    run()
                else:
                    with _BlockerWatch(self.conn) as watch:
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
                if attempt == self.opts.lock_retries:
                    raise self._lock_gave_up(err, seen, state()) from err
                self.on_event("lock-retry", migration=err.migration, attempt=attempt + 1, retries=self.opts.lock_retries)
                time.sleep(self.opts.retry_pause * (2**attempt))
                attempt += 1

    def _lock_gave_up(self, err: MigrationFailed, blockers: list[tuple[Any, ...]], state: str) -> LockTimeout:
        details = [
            f"blocked by pid {pid} ({app}, {st}, transaction open for {age}): {query}"
            for pid, app, st, age, query in blockers
        ]
        if not details:  # the watch saw nothing (no second connection, or waits too short): list likely culprits
            rows = self.conn.execute(
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
            f"migration {err.migration} could not get its locks within lock_timeout={self.opts.lock_timeout} "
            f"after {self.opts.lock_retries + 1} attempts",
            file=err.file,
            migration=err.migration,
            line=err.line,
            col=err.col,
            statement_no=err.statement_no,
            cause=err.cause,
            state=state,
            fix="let the transaction in the way finish, or end it "
            f"(`{terminate}`), or raise lock_timeout / lock_retries (MIGRAKIT_LOCK_TIMEOUT, MIGRAKIT_LOCK_RETRIES), "
            "then run `inv db.migrate` again",
            details=details,
        )

    @staticmethod
    def _count(m: Migration) -> int:
        """The statement count progress shows: the same count a failure names ("statement 3 of 7"), also for a
        Mode 2 file sent as one message."""
        return len(m.statements)
