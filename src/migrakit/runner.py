"""The core operations behind the tasks: read folders, read tracking, plan, execute. Returns data.

Each function takes Settings and keyword options and returns a report value for `report` to render;
failures are MigrakitError. Nothing here prints.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from . import server, tracking
from .config import Settings
from .errors import DriftError, MigrakitError
from .executor import Event, Executor, Options, acquire_lock, lock_key, release_lock
from .planner import Plan, plan
from .sources import V1, Folder, load_folder


@dataclass
class StatusReport:
    target: str
    folder: Folder
    plan: Plan
    table: str
    table_exists: bool


@dataclass
class MigrateReport:
    target: str
    folder: Folder
    plan: Plan
    applied: list[str] = field(default_factory=list)
    dry_run: bool = False


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
    )


def _check_statements(p: Plan) -> None:
    """Split and check every pending migration now, so a bad file stops the run before any SQL."""
    for m in p.pending:
        m.check_runnable()  # splits the file: raises SplitError or MigrakitError


@contextmanager
def _session(settings: Settings) -> Iterator[tuple[server.Target, Any]]:
    target = server.resolve_target(settings)
    conn = server.connect(target.url, autocommit=True)
    try:
        yield target, conn
    finally:
        conn.close()


def _table_name(settings: Settings) -> str:
    return f'"{settings.migrations_schema}"."{settings.migrations_table}"'


def _guard_table_layout(conn: Any, settings: Settings, folder: Folder, rows_exist: bool) -> None:
    if folder.layout == V1 and rows_exist and not tracking.has_name_column(conn, settings.migrations_schema, settings.migrations_table):
        raise DriftError(
            f"the tracking table {_table_name(settings)} has Drizzle 0.x's columns, but {folder.path.name}/ uses "
            "Drizzle 1.0's folder layout",
            file=str(folder.path),
            state="nothing was run",
            fix="upgrade the table first: `inv db.upgrade-tracking` shows the plan, `--yes` applies it",
        )


def status(settings: Settings, *, out_of_order: bool = False) -> StatusReport:
    """What is applied, pending, edited or unknown. Changes nothing (not even the tracking table)."""
    folder = load_folder(settings.migrations_dir, settings.root)
    with _session(settings) as (target, conn):
        rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)
        exists = bool(rows) or _table_exists(conn, settings)
        p = plan(folder.migrations, rows, layout=folder.layout, out_of_order=out_of_order)
        return StatusReport(target.display, folder, p, _table_name(settings), exists)


def _table_exists(conn: Any, settings: Settings) -> bool:
    row = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (f'"{settings.migrations_schema}"."{settings.migrations_table}"',)
    ).fetchone()
    return bool(row and row[0])


def migrate(
    settings: Settings,
    *,
    dry_run: bool = False,
    out_of_order: bool = False,
    single_transaction: bool = False,
    on_event: Event = lambda *a, **k: None,
) -> MigrateReport:
    """Apply pending Mode 1 migrations, one migrator at a time (advisory lock), re-planning under the lock."""
    folder = load_folder(settings.migrations_dir, settings.root)
    with _session(settings) as (target, conn):
        on_event("target", display=target.display)
        if dry_run:
            rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)
            p = plan(folder.migrations, rows, layout=folder.layout, out_of_order=out_of_order)
            _check_statements(p)
            return MigrateReport(target.display, folder, p, dry_run=True)
        key = lock_key(settings.migrations_schema, settings.migrations_table)
        acquire_lock(conn, key, timeout=settings.lock_wait_timeout, on_event=on_event)
        try:
            v1 = folder.layout == V1
            rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)
            _guard_table_layout(conn, settings, folder, bool(rows))
            p = plan(folder.migrations, rows, layout=folder.layout, out_of_order=out_of_order)
            if p.blocking:
                first = p.blocking[0]
                raise DriftError(
                    first.message,
                    file=first.file,
                    migration=first.migration,
                    state="nothing was run",
                    fix=first.fix,
                    details=[f"{q.kind}: {q.message}" for q in p.blocking[1:]],
                )
            _check_statements(p)
            # Drizzle creates its schema and table before it runs anything, even when a migration then fails.
            tracking.ensure_table(conn, settings.migrations_schema, settings.migrations_table, v1=v1)
            report = MigrateReport(target.display, folder, p)
            on_event("plan", count=len(p.pending))
            if p.pending:
                executor = Executor(conn, executor_options(settings, v1=v1, single_transaction=single_transaction), on_event)
                try:
                    executor.apply(p.pending)
                except MigrakitError as err:
                    if executor.applied and not single_transaction:
                        err.state = f"{err.state}; applied and tracked before it in this run: {', '.join(executor.applied)}"
                    raise
                report.applied = list(executor.applied)
            return report
        finally:
            on_event("finished")
            if not conn.closed and not conn.broken:
                release_lock(conn, key)

