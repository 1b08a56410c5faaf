"""Measure what each statement of a migration does on a shadow database: the locks its backend holds, the
relations it rewrote, the tables it scanned, how long it took. [I/O]

Statements run exactly as `db.migrate` groups them (executor.py): a Mode 1 migration in one transaction, a
Mode 2 / legacy file in one transaction, a file holding its own BEGIN/COMMIT as written (a plain statement
outside the file's transaction in one of its own), a lone CREATE INDEX CONCURRENTLY in autocommit. Inside a
transaction, right after each statement and before COMMIT, one query reads:
- `pg_locks` for this backend (relation locks, granted; the probe's own virtualxid/transactionid rows are not
  relation locks and are left out, as are catalog and TOAST relations): the new (relation, mode) pairs are
  the statement's;
- `pg_class.relfilenode` of every user relation: a table whose file changed was rewritten;
- `pg_stat_xact_user_tables` (this transaction's scan counters): a table read by a sequential or index scan
  was scanned (validation of a constraint, SET NOT NULL, an index build).
A statement that cannot run in a transaction (CONCURRENTLY) is watched from a second connection: it holds a
snapshot (and an ACCESS SHARE lock on the table) so the statement waits at its wait phase, reads the
statement's backend's granted locks from `pg_locks`, then lets it finish.

Everything here runs on the shadow; the target is only read (`target_sizes`, in a READ ONLY transaction).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from migrakit.core.migration import STANDARD, Migration
from migrakit.core.postgres.statements import NO_TRANSACTION, PLAIN, TRANSACTION_CONTROL
from migrakit.db.connect import server

# One round trip: user relations (oid, file, name, kind, this transaction's scans of it, the table of an index),
# then this backend's granted relation locks (kind 'lock', the mode in the name column).
_SNAPSHOT = """
SELECT c.oid::int8, c.relfilenode::int8, n.nspname || '.' || c.relname, c.relkind::text,
       pg_stat_get_xact_numscans(c.oid), i.indrelid::int8
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_index i ON i.indexrelid = c.oid
WHERE c.relkind IN ('r', 'p', 'm', 'i', 'S', 'v', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
UNION ALL
SELECT l.relation::int8, NULL, l.mode, 'lock', NULL, NULL FROM pg_locks l
WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted AND l.relation IS NOT NULL
"""
_WATCH = "SELECT relation, mode, granted, locktype FROM pg_locks WHERE pid = %s"
STATEMENT_TIMEOUT = "5min"  # a bound for one statement on the shadow
WATCH_SECONDS = 300.0  # a bound for watching a CONCURRENTLY statement
TABLE_KINDS = ("r", "m", "p")


@dataclass
class StatementProbe:
    index: int  # 1-based within the migration
    locks: list[tuple[str, str]] = field(default_factory=list)  # (schema.relation, mode) this statement took
    held: list[tuple[str, str]] = field(default_factory=list)  # every relation lock the transaction holds after it
    rewrites: list[str] = field(default_factory=list)
    scans: list[str] = field(default_factory=list)
    new: set[str] = field(default_factory=set)  # relations that did not exist when the migration started
    duration_ms: float = 0.0
    in_transaction: bool = True
    error: str | None = None
    ran: bool = True  # False: not run (an earlier statement of the migration failed)


@dataclass
class MigrationProbe:
    tag: str
    statements: list[StatementProbe]
    error: str | None = None


@dataclass
class _Snap:
    rels: dict[int, tuple[int, str, str]]  # oid -> (relfilenode, name, relkind)
    scans: dict[int, int]
    locks: set[tuple[int, str]]


def _snapshot(conn: psycopg.Connection[Any]) -> _Snap:
    rels: dict[int, tuple[int, str, str]] = {}
    scans: dict[int, int] = {}
    locks: set[tuple[int, str]] = set()
    for oid, node, name, kind, numscans, table in conn.execute(_SNAPSHOT).fetchall():
        if kind == "lock":
            locks.add((oid, name))
            continue
        rels[oid] = (node, name, kind)
        if numscans:  # an index's scans count for its table (as pg_stat_xact_user_tables.idx_scan does)
            key = table if table is not None else oid
            scans[key] = scans.get(key, 0) + numscans
    return _Snap(rels, scans, locks)


def _name(oid: int, *snaps: _Snap) -> str | None:
    for s in snaps:
        if oid in s.rels:
            return s.rels[oid][1]
    return None


def _diff(before: _Snap, after: _Snap, probe: StatementProbe, known: set[int]) -> None:
    for oid, mode in sorted(after.locks, key=lambda x: (x[0], x[1])):
        name = _name(oid, before, after)
        if name is not None:
            probe.held.append((name, mode))
    for oid, mode in sorted(after.locks - before.locks, key=lambda x: (x[0], x[1])):
        name = _name(oid, before, after)
        if name is not None:
            probe.locks.append((name, mode))
    probe.rewrites += _rewrites(before, after)
    for oid, n in after.scans.items():
        if n > before.scans.get(oid, 0):
            name = _name(oid, before, after)
            if name is not None:
                probe.scans.append(name)
    _created(before, after, probe, known)


def _rewrites(before: _Snap, after: _Snap) -> list[str]:
    """Tables and materialized views whose file changed (relfilenode): rewritten."""
    return [name for oid, (node, name, kind) in before.rels.items()
            if kind in TABLE_KINDS and oid in after.rels and after.rels[oid][0] != node]


def _created(before: _Snap, after: _Snap, probe: StatementProbe, known: set[int]) -> None:
    """Relations made by this migration so far (also one a statement made and dropped again)."""
    probe.new |= {name for s in (before, after) for oid, (_, name, _) in s.rels.items() if oid not in known}


def _error_text(exc: psycopg.Error) -> str:
    diag = exc.diag
    return f"{diag.message_primary or str(exc).strip()} ({exc.sqlstate})" if exc.sqlstate else str(exc).strip()


def probe_migration(conn: psycopg.Connection[Any], m: Migration, url: str) -> MigrationProbe:
    """Run `m` on the shadow connection `conn` (autocommit, idle) as db.migrate would; `url` opens the watcher
    connection for statements outside a transaction. The migration's effects are committed (the next pending
    migration builds on them); a failed statement rolls its transaction back and ends the migration's run."""
    stmts = m.statements
    probes = [StatementProbe(i + 1) for i in range(len(stmts))]
    known = set(_snapshot(conn).rels)  # relations that exist before the migration
    made: set[str] = set()  # relations the migration created so far
    conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
    idle = psycopg.pq.TransactionStatus.IDLE
    whole = m.mode != STANDARD or not m.runs_outside_transaction  # one transaction around everything
    error: str | None = None
    try:
        if whole:
            conn.execute("BEGIN")
        for i, st in enumerate(stmts):
            p = probes[i]
            if st.kind == TRANSACTION_CONTROL:
                conn.execute(st.text)
                p.in_transaction = conn.info.transaction_status != idle
                continue
            if st.kind == NO_TRANSACTION and not whole and conn.info.transaction_status == idle:
                p.in_transaction = False
                p.new |= made
                _watch_outside(conn, st.text, url, p, known)
                made |= p.new
                if p.error:
                    error = p.error
                    break
                continue
            wrap = st.kind == PLAIN and conn.info.transaction_status == idle  # as the executor wraps it
            if wrap:
                conn.execute("BEGIN")
            before = _snapshot(conn)
            t0 = time.perf_counter()
            try:
                conn.execute(st.text.encode(conn.info.encoding), binary=True)
            except psycopg.Error as exc:
                p.duration_ms = round((time.perf_counter() - t0) * 1000, 2)
                p.error = error = _error_text(exc)
                if conn.info.transaction_status != idle:
                    conn.execute("ROLLBACK")
                break
            p.duration_ms = round((time.perf_counter() - t0) * 1000, 2)
            p.new |= made
            _diff(before, _snapshot(conn), p, known)
            made |= p.new
            if wrap:
                conn.execute("COMMIT")
        if conn.info.transaction_status != idle:
            conn.execute("COMMIT")
    except psycopg.Error as exc:  # a COMMIT (deferred constraint) or transaction control that failed
        error = error or _error_text(exc)
        if conn.info.transaction_status != idle:
            conn.execute("ROLLBACK")
    finally:
        if conn.info.transaction_status == idle:
            conn.execute("RESET statement_timeout")
    if error is not None:
        failed = next((p for p in probes if p.error), None)
        for p in probes[(failed.index if failed else len(probes)):]:
            p.ran = False
    return MigrationProbe(m.tag, probes, error)


def _table_of(conn: psycopg.Connection[Any], text: str) -> str | None:
    """The table a CONCURRENTLY statement works on (for the watcher's ACCESS SHARE lock), from the parse tree."""
    from migrakit.core.lint_rules import actions

    for a in actions(text) or ():
        if a.kind == "create_index" and a.relation:
            return a.relation
        if a.kind == "drop_index" and a.relation:
            row = conn.execute(
                "SELECT i.indrelid::regclass::text FROM pg_index i WHERE i.indexrelid = to_regclass(%s)", (a.relation,)
            ).fetchone()
            return row[0] if row else None
    return None


def _watch_outside(conn: psycopg.Connection[Any], text: str, url: str, p: StatementProbe, known: set[int]) -> None:
    """Run `text` in autocommit on `conn` while a second connection holds an old snapshot (and ACCESS SHARE on
    the table), so the statement stops at its wait phase; read its granted locks there, then release it."""
    before = _snapshot(conn)
    pid = conn.info.backend_pid
    seen: list[tuple[int, str]] = []
    outcome: dict[str, Any] = {}
    with server.connect(url, autocommit=True, application_name="migrakit-lint-watch") as watch:
        table = _table_of(watch, text)
        watch.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        watch.execute("SELECT 1")  # takes the snapshot the statement's wait phase waits for
        if table:
            try:
                watch.execute("SAVEPOINT s")
                watch.execute("SELECT pg_catalog.set_config('lock_timeout', '1s', true)")
                watch.execute(
                    sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(sql.Identifier(*table.split(".", 1)))
                )
                watch.execute("RELEASE SAVEPOINT s")
            except psycopg.Error:
                watch.execute("ROLLBACK TO SAVEPOINT s")

        def run() -> None:
            t0 = time.perf_counter()
            try:
                conn.execute(text.encode(conn.info.encoding), binary=True)
            except psycopg.Error as exc:
                outcome["error"] = _error_text(exc)
            outcome["ms"] = round((time.perf_counter() - t0) * 1000, 2)

        worker = threading.Thread(target=run, name="migrakit-lint-statement", daemon=True)
        worker.start()
        deadline = time.monotonic() + WATCH_SECONDS
        released = False
        while worker.is_alive() and time.monotonic() < deadline:
            rows = watch.execute(_WATCH, (pid,)).fetchall()
            for rel, mode, granted, locktype in rows:
                if locktype == "relation" and granted and (int(rel), mode) not in seen:
                    seen.append((int(rel), mode))
            if not released and any(not r[2] for r in rows):
                watch.execute("COMMIT")  # seen it waiting with its locks held: let it go on
                released = True
            worker.join(0.005)
        if not released:
            watch.execute("COMMIT")
        worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        p.error = f"still running after {WATCH_SECONDS:.0f} s on the shadow database"
        return
    p.duration_ms = outcome.get("ms", 0.0)
    p.error = outcome.get("error")
    after = _snapshot(conn)
    for oid, mode in seen:
        name = _name(oid, before, after)
        if name is not None and (name, mode) not in p.locks:
            p.locks.append((name, mode))
    p.rewrites += _rewrites(before, after)
    _created(before, after, p, known)


def target_sizes(url: str) -> tuple[dict[str, tuple[float, int]], int]:
    """(schema.relation -> (row estimate, total bytes) for every user table and index of the target, the
    target's server_version), read in a READ ONLY transaction (nothing on the target is written)."""
    with server.connect(url) as conn:
        version = conn.info.server_version
        conn.execute("BEGIN READ ONLY")
        rows = conn.execute(
            "SELECT n.nspname || '.' || c.relname, c.reltuples::float8, pg_total_relation_size(c.oid) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'm', 'i') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') "
            "AND n.nspname NOT LIKE 'pg\\_temp\\_%'"
        ).fetchall()
        conn.execute("ROLLBACK")
    return {name: (float(tuples), int(size)) for name, tuples, size in rows}, version


def unique_indexed_views(url: str) -> frozenset[str]:
    """The target's populated materialized views (schema.name) that `REFRESH … CONCURRENTLY` accepts: with a valid
    unique index on plain columns and without a WHERE clause; read in a READ ONLY transaction."""
    with server.connect(url) as conn:
        conn.execute("BEGIN READ ONLY")
        rows = conn.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'm' AND c.relispopulated AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid "
            "AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL)"
        ).fetchall()
        conn.execute("ROLLBACK")
    return frozenset(name for (name,) in rows)
