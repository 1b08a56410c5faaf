"""Run a decided list of migrations on a connection. The only module that sends migration SQL.

Contract (the executor never decides *what* to run; `runner` hands it the pending list):
- Mode 1 (standard): every statement is sent alone over the extended query protocol (a prepared
  statement, as serverless HTTP drivers do), so a statement the server would reject as "multiple
  commands" never reaches it. By default one transaction per migration holds its statements and its
  tracking row; with `pipeline` the statements are queued and cost about one round trip.
- A migration holding its own BEGIN/COMMIT runs as written, outside a wrapping transaction; one whose
  only statement cannot run in a transaction (CREATE INDEX CONCURRENTLY ...) runs alone in autocommit.
  In both cases the tracking row is written only after the last statement succeeded.
- Mode 2 (consolidated, legacy): the whole file is one multi-statement message inside one transaction.
- `single_transaction`: Drizzle's behaviour, every pending migration in one transaction.
psycopg errors are caught here, once, and become MigrationFailed / LockTimeout.
"""

from __future__ import annotations

import hashlib
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import psycopg
from psycopg import errors as pgerrors

from . import tracking
from .errors import LockTimeout, MigrakitError, MigrationFailed
from .migration import STANDARD, Migration
from .statements import LineIndex, Statement, keyword_head

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


def _no_event(*_: Any, **__: Any) -> None:
    return None


# ---------------------------------------------------------------------------------------------- lock
def lock_key(schema: str, table: str) -> int:
    """A stable signed 64-bit advisory-lock key for this tracking table."""
    digest = hashlib.sha256(f"migrakit:{schema}.{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def acquire_lock(
    conn: psycopg.Connection[Any], key: int, *, timeout: float, on_event: Event = _no_event, poll: float = 0.2
) -> None:
    """Poll pg_try_advisory_lock (never block inside the server: a blocked migrator can deadlock with
    another's CREATE INDEX CONCURRENTLY). Raise LockTimeout after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    announced = False
    while True:
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if got and got[0]:
            if announced:
                on_event("lock-acquired")
            return
        if not announced:
            holder = conn.execute(
                "SELECT a.pid, a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                "WHERE l.locktype = 'advisory' AND l.granted "
                "AND ((l.classid::bigint << 32) | l.objid::bigint) = %s LIMIT 1",
                (key,),
            ).fetchone()
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


def release_lock(conn: psycopg.Connection[Any], key: int) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


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
        return (
            f'the server has no extension "{name}": the embedded database ships only plpgsql and vector; '
            "point DATABASE_URL at a PostgreSQL server with contrib (e.g. Debian's postgresql-contrib), then run again"
        )
    return None


def _failure(
    exc: psycopg.Error,
    migration: Migration,
    stmt: Statement | None,
    stmt_no: int | None,
    count: int,
    state: str,
) -> MigrationFailed:
    diag = exc.diag
    line = col = None
    if stmt is not None:
        line, col = stmt.line, stmt.col
        pos = diag.statement_position
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


# ------------------------------------------------------------------------------------------ running
@dataclass
class _Sent:
    migration: Migration
    cursor: psycopg.Cursor[Any]
    stmt: Statement | None  # None: a Mode 2 file, or the tracking insert
    number: int | None


class Executor:
    def __init__(self, conn: psycopg.Connection[Any], options: Options, on_event: Event = _no_event) -> None:
        if not conn.autocommit:
            raise ValueError("the executor needs an autocommit connection; it manages transactions itself")
        self.conn = conn
        self.opts = options
        self.on_event = on_event
        self._insert = tracking.insert_sql(options.schema, options.table, v1=options.v1)
        self.applied: list[str] = []  # tags applied and tracked so far, also after a failure

    def apply(self, migrations: Sequence[Migration]) -> list[str]:
        """Apply `migrations` in order; raise on the first failure (earlier ones stay applied)."""
        if self.opts.single_transaction:
            outside = [m.tag for m in migrations if m.runs_outside_transaction]
            if outside:
                raise MigrakitError(
                    f"--single-transaction cannot hold {outside[0]}: it must run outside a transaction",
                    migration=outside[0],
                    state="nothing was run",
                    fix="run without --single-transaction (one transaction per migration)",
                )
            self._transactional(migrations, "nothing from this run was applied (one transaction); tracking table unchanged")
            self.applied.extend(m.tag for m in migrations)
            return self.applied
        for m in migrations:
            if m.runs_outside_transaction:
                self._outside_transaction(m)
            else:
                state = f"nothing from {m.tag} was applied (its transaction was rolled back); tracking table unchanged"
                self._with_lock_retries(m, lambda m=m, state=state: self._transactional([m], state))
            self.applied.append(m.tag)
        return self.applied

    def _transactional(self, migrations: Sequence[Migration], state: str) -> None:
        """One transaction holding each migration's statements and tracking row.

        Pipelined, the whole block is sent at once and costs about one round trip; each Mode 1 statement is
        still its own extended-protocol query. A Mode 2 file (several statements in one message) cannot be
        pipelined, so a block holding one is sent query by query."""
        pipelined = self.opts.pipeline and all(m.mode == STANDARD for m in migrations)
        sent: list[_Sent] = []
        try:
            with self.conn.pipeline() if pipelined else nullcontext():
                with self.conn.transaction():
                    self._set_timeouts(local=True)
                    for m in migrations:
                        self.on_event("start", migration=m, statements=self._count(m))
                        if m.mode == STANDARD:
                            for i, st in enumerate(m.statements):
                                cur = self.conn.cursor()
                                sent.append(_Sent(m, cur, st, i + 1))
                                cur.execute(st.text, binary=not pipelined)  # binary forces the extended protocol
                        else:
                            cur = self.conn.cursor()
                            sent.append(_Sent(m, cur, None, None))
                            cur.execute(m.text.encode("utf-8"))  # one message; simple protocol allows many statements
                        cur = self.conn.cursor()
                        sent.append(_Sent(m, cur, None, None))
                        cur.execute(self._insert, tracking.insert_params(m, v1=self.opts.v1))
            for m in migrations:
                self.on_event("done", migration=m)
        except psycopg.Error as exc:
            if pipelined:
                failed = next((s for s in sent if s.cursor.pgresult is None), sent[-1])
            else:
                failed = sent[-1]
            count = len(failed.migration.statements) if failed.migration.mode == STANDARD else 0
            raise _failure(exc, failed.migration, failed.stmt, failed.number, count, state) from exc

    def _set_timeouts(self, *, local: bool) -> None:
        self.conn.execute(
            "SELECT set_config('lock_timeout', %s, %s), set_config('statement_timeout', %s, %s)",
            (self.opts.lock_timeout, local, self.opts.statement_timeout, local),
        )

    def _outside_transaction(self, m: Migration) -> None:
        """A migration with its own BEGIN/COMMIT, or a lone CREATE INDEX CONCURRENTLY: run as written in
        autocommit; the tracking row only after the last statement succeeded."""
        stmts = m.statements
        m.check_runnable()
        self.on_event("start", migration=m, statements=len(stmts))
        self._set_timeouts(local=False)
        try:
            for i, st in enumerate(stmts):
                try:
                    self.conn.execute(st.text, binary=True)
                except psycopg.Error as exc:
                    raise self._outside_failure(exc, m, i) from exc
                self.on_event("statement", migration=m, number=i + 1)
            self.conn.execute(self._insert, tracking.insert_params(m, v1=self.opts.v1))
            if self.conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
                self.conn.execute("COMMIT")  # the file left its transaction open; Drizzle's final commit closes it too
        finally:
            if self.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                self._set_timeouts_default()
        self.on_event("done", migration=m)

    def _set_timeouts_default(self) -> None:
        self.conn.execute("SELECT set_config('lock_timeout', '0', false), set_config('statement_timeout', '0', false)")

    def _outside_failure(self, exc: psycopg.Error, m: Migration, i: int) -> MigrationFailed:
        stmts = m.statements
        if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self.conn.execute("ROLLBACK")
        state = (
            f"{m.tag} runs without a wrapping transaction: statements 1-{i} took effect, statement {i + 1} "
            "and later did not; tracking table unchanged"
            if i
            else f"nothing from {m.tag} was applied; tracking table unchanged"
        )
        err = _failure(exc, m, stmts[i], i + 1, len(stmts), state)
        if "CONCURRENTLY" in keyword_head(stmts[i].text).upper()[:40]:
            err.fix = (
                f"{err.fix}; a failed CREATE INDEX CONCURRENTLY leaves an INVALID index: "
                "DROP INDEX CONCURRENTLY <name> before running again"
            )
        return err

    # --- retries on lock_timeout
    def _with_lock_retries(self, m: Migration, run: Callable[[], None]) -> None:
        for attempt in range(self.opts.lock_retries + 1):
            try:
                run()
                return
            except MigrationFailed as err:
                if err.sqlstate != pgerrors.LockNotAvailable.sqlstate:
                    raise
                if attempt == self.opts.lock_retries:
                    raise self._lock_gave_up(m, err) from err
                self.on_event("lock-retry", migration=m, attempt=attempt + 1)
                time.sleep(self.opts.retry_pause * (2**attempt))

    def _lock_gave_up(self, m: Migration, err: MigrationFailed) -> LockTimeout:
        rows = self.conn.execute(
            "SELECT pid, state, now() - xact_start, left(regexp_replace(query, '\\s+', ' ', 'g'), 120) "
            "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND xact_start IS NOT NULL ORDER BY xact_start LIMIT 3"
        ).fetchall()
        blockers = [f"pid {pid} ({state}, open for {age}): {query}" for pid, state, age, query in rows]
        return LockTimeout(
            f"migration {m.tag} could not get its locks within lock_timeout={self.opts.lock_timeout} "
            f"after {self.opts.lock_retries + 1} attempts",
            file=m.path,
            migration=m.tag,
            line=err.line,
            col=err.col,
            statement_no=err.statement_no,
            cause=err.cause,
            state=f"nothing from {m.tag} was applied; tracking table unchanged",
            fix="end or wait for the long transaction holding the lock (see below: "
            "SELECT pg_terminate_backend(pid)), or raise lock_timeout, then run `inv db.migrate` again",
            details=["oldest open transactions:", *blockers] if blockers else [],
        )

    @staticmethod
    def _count(m: Migration) -> int:
        return len(m.statements) if m.mode == STANDARD else 1
