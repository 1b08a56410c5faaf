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

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from migrakit.core.classify import classify
from migrakit.core.migration import STANDARD, Migration
from migrakit.core.postgres.statements import NO_TRANSACTION, PLAIN, TRANSACTION_CONTROL, keyword_head
from migrakit.db.connect import answer, server

# One round trip: user relations (oid, file, name, kind, this transaction's scans of it, the table of an index, the
# row estimate, this transaction's rows written to it), then this backend's granted relation locks (kind 'lock',
# the mode in the name column).
_SNAPSHOT = """
SELECT c.oid::int8, c.relfilenode::int8, n.nspname || '.' || c.relname, c.relkind::text,
       pg_stat_get_xact_numscans(c.oid), i.indrelid::int8, c.reltuples::float8,
       pg_stat_get_xact_tuples_inserted(c.oid) + pg_stat_get_xact_tuples_updated(c.oid)
       + pg_stat_get_xact_tuples_deleted(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_index i ON i.indexrelid = c.oid
WHERE c.relkind IN ('r', 'p', 'm', 'i', 'S', 'v', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
UNION ALL
SELECT l.relation::int8, NULL, l.mode, 'lock', NULL, NULL, NULL, NULL FROM pg_locks l
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
    rewrites: list[str] = field(default_factory=list)  # relations whose file changed: tables, then indexes
    indexes: list[str] = field(default_factory=list)  # the indexes among `rewrites` (rebuilt)
    scans: list[str] = field(default_factory=list)  # read by a sequential or an index scan
    seq_scans: list[str] = field(default_factory=list)  # read whole (a sequential scan)
    writes: dict[str, int] = field(default_factory=dict)  # rows inserted, updated or deleted per table
    shadow_rows: dict[str, float] = field(default_factory=dict)  # the shadow's estimate of the tables written
    new: set[str] = field(default_factory=set)  # relations that did not exist when the migration started
    duration_ms: float = 0.0
    in_transaction: bool = True
    error: str | None = None
    sqlstate: str | None = None
    ran: bool = True  # False: not run (its transaction could not go on: a COMMIT or transaction control failed)


@dataclass
class MigrationProbe:
    tag: str
    statements: list[StatementProbe]
    error: str | None = None


@dataclass
class _Snap:
    rels: dict[int, tuple[int, str, str]]  # oid -> (relfilenode, name, relkind)
    scans: dict[int, int]  # table oid -> its sequential scans plus its indexes' scans
    seq: dict[int, int]  # table oid -> its sequential scans
    writes: dict[int, int]
    tuples: dict[int, float]
    locks: set[tuple[int, str]]


def _snapshot(conn: psycopg.Connection[Any]) -> _Snap:
    snap = _Snap({}, {}, {}, {}, {}, set())
    for oid, node, name, kind, numscans, table, tuples, written in conn.execute(_SNAPSHOT).fetchall():
        if kind == "lock":
            snap.locks.add((oid, name))
            continue
        snap.rels[oid] = (node, name, kind)
        snap.tuples[oid] = tuples
        if written:
            snap.writes[oid] = written
        if numscans:  # an index's scans count for its table (as pg_stat_xact_user_tables.idx_scan does)
            key = table if table is not None else oid
            snap.scans[key] = snap.scans.get(key, 0) + numscans
            if table is None:
                snap.seq[oid] = numscans
    return snap


def _name(oid: int, *snaps: _Snap) -> str | None:
    for s in snaps:
        if oid in s.rels:
            return s.rels[oid][1]
    return None


def _diff(before: _Snap, after: _Snap, probe: StatementProbe, known: set[int]) -> None:
    for locks, into in ((after.locks, probe.held), (after.locks - before.locks, probe.locks)):
        for oid, mode in sorted(locks, key=lambda x: (x[0], x[1])):
            name = _name(oid, before, after)
            if name is not None and (name, mode) not in into:  # an index rebuilt: its old and new oid, one name
                into.append((name, mode))
    _rewrites(before, after, probe)
    for was, now, names in ((before.scans, after.scans, probe.scans), (before.seq, after.seq, probe.seq_scans)):
        for oid, n in now.items():
            name = _name(oid, before, after)
            if n > was.get(oid, 0) and name is not None:
                names.append(name)
    for oid, n in after.writes.items():
        name = _name(oid, before, after)
        if n > before.writes.get(oid, 0) and name is not None:
            probe.writes[name] = n - before.writes.get(oid, 0)
            probe.shadow_rows[name] = before.tuples.get(oid, after.tuples.get(oid, -1.0))
    _created(before, after, probe, known)


def _rewrites(before: _Snap, after: _Snap, probe: StatementProbe) -> None:
    """Relations whose file changed (relfilenode): tables and materialized views rewritten, then indexes rebuilt."""
    changed = [(name, kind) for oid, (node, name, kind) in before.rels.items()
               if node and oid in after.rels and after.rels[oid][0] != node]  # fmt: skip
    now = {name for _, name, kind in after.rels.values() if kind == "i"}
    changed += [(name, kind) for oid, (_, name, kind) in before.rels.items()
                if kind == "i" and oid not in after.rels and name in now]  # rebuilt under a new oid (a type change)
    indexes = [name for name, kind in changed if kind == "i"]
    probe.rewrites += [name for name, kind in changed if kind in TABLE_KINDS] + indexes
    probe.indexes += indexes


def _created(before: _Snap, after: _Snap, probe: StatementProbe, known: set[int]) -> None:
    """Relations made by this migration so far (also one a statement made and dropped again); not an index rebuilt
    under a new oid with its old name."""
    existed = {name for oid, (_, name, _) in before.rels.items() if oid in known}
    probe.new |= {name for s in (before, after) for oid, (_, name, _) in s.rels.items() if oid not in known} - existed


def _error_text(exc: psycopg.Error) -> str:
    diag = exc.diag
    return f"{diag.message_primary or str(exc).strip()} ({exc.sqlstate})" if exc.sqlstate else str(exc).strip()


def _failed(p: StatementProbe, exc: psycopg.Error) -> None:
    p.error, p.sqlstate = _error_text(exc), exc.sqlstate


def probe_migration(conn: psycopg.Connection[Any], m: Migration, url: str) -> MigrationProbe:
    """Run `m` on the shadow connection `conn` (autocommit, idle) as db.migrate would; `url` opens the watcher
    connection for statements outside a transaction. The migration's effects are committed (the next pending
    migration builds on them). Each statement inside a transaction runs in a savepoint: one that fails is rolled
    back alone and the next ones are still measured (what fails only because of it, the rules tell)."""
    stmts = m.statements
    probes = [StatementProbe(i + 1) for i in range(len(stmts))]
    known = set(_snapshot(conn).rels)  # relations that exist before the migration
    made: set[str] = set()  # relations the migration created so far
    conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
    idle = psycopg.pq.TransactionStatus.IDLE
    whole = m.mode != STANDARD or not m.runs_outside_transaction  # one transaction around everything
    error: str | None = None
    reached = 0
    after: _Snap | None = None  # the last snapshot, while its transaction is still the one open
    try:
        if whole:
            conn.execute("BEGIN")
        for i, st in enumerate(stmts):
            p, reached = probes[i], i + 1
            if st.kind == TRANSACTION_CONTROL:
                conn.execute(st.text)
                p.in_transaction, after = conn.info.transaction_status != idle, None
                continue
            if st.kind == NO_TRANSACTION and not whole and conn.info.transaction_status == idle:
                p.in_transaction, after = False, None
                p.new |= made
                _watch_outside(conn, st.text, url, p, known)
                made |= p.new
                error = error or p.error
                continue
            wrap = st.kind == PLAIN and conn.info.transaction_status == idle  # as the executor wraps it
            own = not wrap and not _SAVEPOINTS.match(keyword_head(st.text))  # the file's own savepoints run bare
            if wrap or own:
                conn.execute("BEGIN" if wrap else "SAVEPOINT migrakit_lint")
            before = after if after is not None and not wrap else _snapshot(conn)
            t0 = time.perf_counter()
            try:
                conn.execute(st.text.encode(conn.info.encoding), binary=True)
            except answer.NoAnswer:  # a silent server: no finding, the command's error (exit 6)
                raise
            except psycopg.Error as exc:
                p.duration_ms = round((time.perf_counter() - t0) * 1000, 2)
                _failed(p, exc)
                error, after = error or p.error, None
                conn.execute("ROLLBACK" if wrap or not own else "ROLLBACK TO SAVEPOINT migrakit_lint")
                if not own and not wrap:  # the file's transaction is gone with its savepoint: nothing more runs
                    break
                continue
            p.duration_ms = round((time.perf_counter() - t0) * 1000, 2)
            p.new |= made
            after = _snapshot(conn)
            _diff(before, after, p, known)
            made |= p.new
            if wrap:
                conn.execute("COMMIT")
                after = None
            elif own:
                conn.execute("RELEASE SAVEPOINT migrakit_lint")
        if conn.info.transaction_status != idle:
            conn.execute("COMMIT")
    except answer.NoAnswer:
        raise
    except psycopg.Error as exc:  # a COMMIT (deferred constraint) or transaction control that failed
        error = error or _error_text(exc)
        if conn.info.transaction_status != idle:
            conn.execute("ROLLBACK")
    finally:
        if conn.info.transaction_status == idle:
            conn.execute("RESET statement_timeout")
    for p in probes[reached:]:
        p.ran = False
    return MigrationProbe(m.tag, probes, error)


_SAVEPOINTS = re.compile(r"(?:SAVEPOINT|RELEASE|ROLLBACK)\b", re.IGNORECASE)


def _table_of(conn: psycopg.Connection[Any], text: str) -> str | None:
    """The table a CONCURRENTLY statement works on (for the watcher's ACCESS SHARE lock), from the parse tree."""
    for a in classify(text).actions or ():
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
                outcome["error"], outcome["sqlstate"] = _error_text(exc), exc.sqlstate
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
    p.error, p.sqlstate = outcome.get("error"), outcome.get("sqlstate")
    after = _snapshot(conn)
    for oid, mode in seen:
        name = _name(oid, before, after)
        if name is not None and (name, mode) not in p.locks:
            p.locks.append((name, mode))
    _rewrites(before, after, p)
    _created(before, after, p, known)


def target_sizes(url: str) -> tuple[dict[str, tuple[float, int]], int]:
    """(schema.relation -> (row estimate, total bytes) for every user table and index of the target, the
    target's server_version), read in a READ ONLY transaction (nothing on the target is written)."""
    with server.connect(url) as conn:
        version = conn.info.server_version
        conn.execute("BEGIN READ ONLY")
        rows = conn.execute(
            # a table whose main file has no page holds no row, analyzed or not
            "SELECT n.nspname || '.' || c.relname, CASE WHEN c.relkind IN ('r', 'm') AND pg_relation_size(c.oid) = 0 "
            "THEN 0 ELSE c.reltuples END::float8, pg_total_relation_size(c.oid) "
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
