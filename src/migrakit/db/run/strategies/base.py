"""What every run strategy shares: the options, the strategy methods (lock, tracking rows, record), the local
settings, the one-transaction frame, and the error of a transaction that failed at a known command.

Each strategy (pipelined.Pipelined, plain.Plain, mode2.Mode2, outside.Outside,
drizzle_transaction.SingleTransaction) is a `Run` and satisfies core/strategy.Strategy on its own; `executor.Executor`
picks one per migration and adds the lock_timeout retries. Strategies made by the executor share its list of
applied tags, its failpoint and its retries (`parent`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import psycopg

from migrakit.core.events import Done, EventSink, Recorded, Started, no_event
from migrakit.core.migration import STANDARD, Migration, TrackingRow
from migrakit.core.postgres.statements import Statement
from migrakit.db import tracking
from migrakit.db.run import failpoint
from migrakit.db.run.guards import BUSY, AppliedElsewhere, Guards, tripped
from migrakit.db.run.lock import migration_lock
from migrakit.db.run.translate import connection_lost, failure, lost, settings_refused, whole_file_failure
from migrakit.errors import MigrakitError

SETTINGS = "settings"  # the role of the command setting the run's timeouts (see Sent.role)
# (conn, run, state, progress): run `run` on `conn`, retrying lock timeouts or not (Run.with_lock_retries)
Retries = Callable[[psycopg.Connection[Any], Callable[[], None], Callable[[], str], Callable[[], int]], None]


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


@dataclass
class Sent:
    """One command sent in a migration transaction, to tell which one failed."""

    migration: Migration
    cursor: psycopg.Cursor[Any] | None  # None: a Mode 2 file (db/run/strategies/simple_query.py)
    stmt: Statement | None  # None: a Mode 2 file, or a command of migrakit's own
    number: int | None  # 0: BEGIN, the settings or a guard, before the first statement
    role: str = ""  # guards.BUSY / guards.TRACKED (a guard), SETTINGS, or "" (anything else)
    whole_file: bool = False  # a Mode 2 file sent as one query
    done: int = 0  # a Mode 2 file: statements the server completed before the failing one


def rolled_back(m: Migration) -> str:
    return f"nothing from {m.tag} was applied (its transaction was rolled back); tracking table unchanged"


def mark_interrupted(exc: BaseException, m: Migration, failed: Sent | None) -> None:
    """Note on a KeyboardInterrupt (Ctrl-C, or SIGTERM: errors.Signalled) the migration whose transaction it
    stopped and the statement it cancelled, for the error apply_plan makes of it (the innermost note wins)."""
    if getattr(exc, "migration", None) is None:
        setattr(exc, "migration", m)  # noqa: B010 (an exception of Python's, noted on)
        setattr(exc, "statement", failed.number if failed is not None else None)  # noqa: B010


def block_failure(
    conn: psycopg.Connection[Any], exc: psycopg.Error, failed: Sent | None, first: Migration, state: str
) -> MigrakitError:
    """The error of a transaction that failed at the command `failed` (None: before any was sent)."""
    m = failed.migration if failed else first
    if connection_lost(conn, exc):
        if failed is None or failed.number == 0:
            where = "before its first statement"
        elif failed.whole_file:
            where = "while its file ran, in one transaction"
        elif failed.number:
            where = f"statement {failed.number} of {len(m.statements)}"
        else:
            where = "its tracking row or COMMIT"
        return lost(
            exc,
            m,
            where,
            f"{state.split(';')[0]}: the server rolls back the open transaction of a lost connection, unless "
            "the connection dropped during COMMIT; the tracking row commits with the migration, so "
            "`inv db.status` shows which",
        )
    if failed is None:
        return failure(exc, m, None, None, 0, state)
    if failed.whole_file:
        return whole_file_failure(exc, m, failed.done, state)
    count = len(m.statements) if m.mode == STANDARD else 0
    return failure(exc, m, failed.stmt, failed.number or None, count, state)


class Run:
    """A run strategy on one autocommit connection; a core.strategy.Strategy."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        options: Options,
        on_event: EventSink = no_event,
        *,
        parent: Run | None = None,
    ) -> None:
        if not conn.autocommit:
            raise ValueError("the executor needs an autocommit connection; it manages transactions itself")
        self.conn = conn
        self.opts = options
        self.on_event = on_event
        self.insert = tracking.insert_sql(options.schema, options.table, v1=options.v1)
        self.guards = Guards(options.schema, options.table)
        # Shared with the executor that made this strategy: tags applied and tracked so far (also after a
        # failure), the failpoint's statement count, the lock_timeout retries.
        self.applied: list[str] = parent.applied if parent else []
        self.fp: failpoint.Failpoint | None = parent.fp if parent else failpoint.from_env()  # MIGRAKIT_FAILPOINT
        self._retries: Retries = (parent or self).with_lock_retries

    def retrying(
        self, run: Callable[[], None], state: Callable[[], str], progress: Callable[[], int] = lambda: 0
    ) -> None:
        """Run on this strategy's connection: once, or with the executor's lock_timeout retries (made by one)."""
        self._retries(self.conn, run, state, progress)

    def with_lock_retries(
        self,
        conn: psycopg.Connection[Any],
        run: Callable[[], None],
        state: Callable[[], str],
        progress: Callable[[], int],
    ) -> None:
        """No retries here; executor.Executor overrides it."""
        run()

    # --- the strategy contract (core/strategy.py)
    def lock(self, timeout: float) -> AbstractContextManager[object]:
        return migration_lock(self.conn, self.opts.schema, self.opts.table, timeout=timeout, on_event=self.on_event)

    def tracking_rows(self) -> list[TrackingRow]:
        return tracking.read_rows(self.conn, self.opts.schema, self.opts.table)

    def record(self, migrations: Sequence[Migration]) -> list[str]:
        """Write the tracking rows of migrations proven applied by hash (a consolidation whose replaced
        migrations all ran here) without running their SQL: the same insert as `apply`, one transaction."""
        if not migrations:
            return []
        try:
            with self.conn.transaction():
                for m in migrations:
                    self.guards.run(self.conn, m)  # AppliedElsewhere rolls the transaction back
                    self.conn.execute(self.insert, tracking.insert_params(m, v1=self.opts.v1))
        except psycopg.Error as exc:
            raise failure(exc, migrations[0], None, None, 0, "nothing was recorded; tracking table unchanged") from exc
        for m in migrations:
            self.on_event(Recorded(m))
        return [m.tag for m in migrations]

    def apply(self, migrations: Sequence[Migration]) -> list[str]:
        """Each migration on its own (`apply_one`), in order; raise on the first failure, the ones before it staying
        applied. The tags applied so far."""
        for m in migrations:
            self.apply_one(m)
        return self.applied

    def apply_one(self, m: Migration) -> None:
        raise NotImplementedError(f"{type(self).__name__} runs migrations only together (apply)")

    # --- shared parts
    def local_settings(self, local: bool = True) -> tuple[str, tuple[Any, ...]]:
        """This strategy's `local_settings` (below)."""
        return local_settings(self.conn, self.opts, local)

    def set_timeouts(self, local: bool = True) -> None:
        """Send `local_settings`; a value the server refuses is a ConfigError."""
        set_timeouts(self.conn, self.opts, local)

    @staticmethod
    def count(m: Migration) -> int:
        """The statement count progress shows: the same count a failure names ("statement 3 of 7"), also for a
        Mode 2 file sent as one message."""
        return len(m.statements)

    def one_transaction(self, m: Migration, body: Callable[[list[Sent]], None]) -> None:
        """One transaction holding `m`: its local settings, the guards, `body` (which sends the statements and
        appends what it sent to the list), the tracking row; then `m` is applied. Sent and answered command by
        command, so the last one sent is the one that failed."""
        sent: list[Sent] = []
        try:
            with self.conn.transaction():
                self.set_timeouts()
                for guard, query, params in self.guards.statements(m):
                    cur = self.conn.cursor()
                    sent.append(Sent(m, cur, None, 0, guard))
                    cur.execute(query, params)
                self.on_event(Started(m, self.count(m)))
                body(sent)
                cur = self.conn.cursor()
                sent.append(Sent(m, cur, None, None))
                cur.execute(self.insert, tracking.insert_params(m, v1=self.opts.v1))
        except KeyboardInterrupt as exc:  # psycopg cancelled the statement; the transaction was rolled back
            mark_interrupted(exc, m, sent[-1] if sent else None)
            raise
        except psycopg.Error as exc:
            failed = sent[-1] if sent else None
            if failed is not None and tripped(failed.role, exc):
                raise AppliedElsewhere(m, busy=failed.role == BUSY) from None
            raise block_failure(self.conn, exc, failed, m, rolled_back(m)) from exc
        self.on_event(Done(m))
        self.applied.append(m.tag)


def local_settings(conn: psycopg.Connection[Any], opts: Options, local: bool = True) -> tuple[str, tuple[Any, ...]]:
    """The query (and its parameters) setting lock_timeout, statement_timeout, (PostgreSQL 14+: the server notices a
    dead client while a statement runs) client_connection_check_interval and a schema target's search_path;
    local=True: for the current transaction only (SET LOCAL), so nothing outlives it on a pooled connection."""
    query = "SELECT set_config('lock_timeout', %s, %s), set_config('statement_timeout', %s, %s)"
    params: tuple[Any, ...] = (opts.lock_timeout, local, opts.statement_timeout, local)
    if conn.info.server_version >= 140000:
        query += ", set_config('client_connection_check_interval', '1s', %s)"
        params += (local,)
    if opts.search_path is not None:  # quoted: the schema name as written, case and all
        query += ", set_config('search_path', %s, %s)"
        params += (search_path_value(opts.search_path), local)
    return query, params


def set_timeouts(conn: psycopg.Connection[Any], opts: Options, local: bool = True) -> None:
    """Send `local_settings` (db.migrate's strategies, db.rollback's Undoer); a value the server refuses is a
    ConfigError."""
    try:
        conn.execute(*local_settings(conn, opts, local))
    except psycopg.Error as exc:
        refused = settings_refused(exc)
        if refused is not None:
            raise refused from None
        raise


def reset_settings(conn: psycopg.Connection[Any], opts: Options) -> None:
    """RESET what `set_timeouts(local=False)` set for the session, once the statements outside a transaction ran
    (when the connection is still usable and idle)."""
    if conn.broken or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return
    check = "; RESET client_connection_check_interval" if conn.info.server_version >= 140000 else ""
    check += "; RESET search_path" if opts.search_path is not None else ""
    conn.execute("RESET lock_timeout; RESET statement_timeout" + check)


def search_path_value(schema: str) -> str:
    """A schema target's search_path, as set_config takes it: the schema name as written, quoted (case and all)."""
    return '"' + schema.replace('"', '""') + '"'
