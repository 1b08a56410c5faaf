"""The core operations behind the tasks: read folders, read tracking, plan, execute. Returns data.

Each function takes Settings and keyword options and returns a report value for `report` to render;
failures are MigrakitError. Nothing here prints.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import psycopg

from . import server, tracking, upgrade
from .bootstrap import load_legacy
from .config import Settings
from .consolidated import load_consolidated
from .errors import ConfigError, ConfirmationRequired, DatabaseUnavailable, DriftError, MigrakitError
from .executor import Event, Executor, Options, migration_lock
from .migration import CONSOLIDATED, STANDARD, Migration
from .planner import Plan, TrackingRow, order_sequence, plan
from .sources import V1, Folder, display_path, load_folder


@dataclass
class StatusReport:
    target: str
    folder: Folder
    plan: Plan
    table: str
    table_exists: bool
    legacy: Plan | None = None  # the legacy folder's files (db.bootstrap), when one is configured


@dataclass
class MigrateReport:
    target: str
    folder: Folder
    plan: Plan
    applied: list[str] = field(default_factory=list)
    dry_run: bool = False
    recorded: list[str] = field(default_factory=list)  # consolidations recorded without running (proven by hash)
    tracking_upgraded: int | None = None  # rows named by --upgrade-tracking in this run


@dataclass
class BootstrapReport:
    target: str
    legacy_dir: str
    plan: Plan
    applied: list[str] = field(default_factory=list)
    dry_run: bool = False
    to_run: list[str] = field(default_factory=list)  # pending files this run executes
    adopt: list[str] = field(default_factory=list)  # pending files this run records without running (proven)
    recorded: list[str] = field(default_factory=list)  # ... and those it recorded
    already: list[str] = field(default_factory=list)  # files named by --only/--adopt that already have a row
    left: list[str] = field(default_factory=list)  # pending files this run leaves pending
    proofs: list[Any] = field(default_factory=list)  # db.provenance.LegacyProof of each adopted file


@dataclass(frozen=True)
class Sources:
    """Everything on disk: the Mode 1 folder, Mode 1 + Mode 2 in run order, and the legacy files."""

    folder: Folder
    migrations: tuple[Migration, ...]
    legacy: tuple[Migration, ...] = ()

    @property
    def others(self) -> tuple[Migration, ...]:
        """Every file besides the Mode 1 folder's (consolidated, legacy): their rows need names too in a 1.0 table."""
        return (*(m for m in self.migrations if m.mode != STANDARD), *self.legacy)

    @property
    def sequence_hashes(self) -> frozenset[str]:
        """Hashes of rows the Mode 1 / Mode 2 sequence explains (its files and the migrations consolidations replaced)."""
        return frozenset({m.hash for m in self.migrations} | {r.hash for m in self.migrations for r in m.replaces})


def load_sources(settings: Settings) -> Sources:
    """Read the Mode 1 folder, the consolidated folder and (when configured) the legacy folder.

    Run order: Mode 1 in journal order; each consolidation right before the first Mode 1 migration whose
    `when` is later than its own (see planner.order_sequence)."""
    folder = load_folder(settings.migrations_dir, settings.root)
    consolidated = load_consolidated(settings.consolidated_dir, settings.root, [m.tag for m in folder.migrations])
    legacy = load_legacy(settings.legacy_dir, settings.root, required=False)
    return Sources(folder, order_sequence(folder.migrations, consolidated), legacy)


def _plan(src: Sources, rows: list[TrackingRow], *, out_of_order: bool = False, up: Any = None) -> Plan:
    """Mode 1 and Mode 2 as one sequence; rows of legacy files (db.bootstrap's) are explained, not unknown."""
    legacy = frozenset(m.hash for m in src.legacy)
    return plan(src.migrations, rows, layout=src.folder.layout, out_of_order=out_of_order, upgrade=up, known_hashes=legacy)


def _legacy_plan(legacy: tuple[Migration, ...], src: Sources, rows: list[TrackingRow]) -> Plan:
    return plan(legacy, rows, layout="legacy", known_hashes=src.sequence_hashes)


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
    except psycopg.OperationalError as exc:  # the connection died outside a migration (the executor reports those)
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


def _table_name(settings: Settings) -> str:
    return f'"{settings.migrations_schema}"."{settings.migrations_table}"'


def _table_upgrade(
    conn: Any, settings: Settings, src: Sources, rows: list[TrackingRow], asked: bool
) -> upgrade.TrackingUpgrade | None:
    """A v1 folder on Drizzle 0.x's table needs the table upgraded (see upgrade.py): refuse (exit 5) unless
    --upgrade-tracking asked for it; a deploy never alters the table unasked. Returns the upgrade to do."""
    folder = src.folder
    up = upgrade.needed(conn, settings, folder, rows, src.others)
    if up is None or not up.add_columns:
        return None
    if not up.possible:
        raise upgrade.unmatched_error(up, settings, folder)
    if not asked:
        raise ConfirmationRequired(
            f"the tracking table {_table_name(settings)} has Drizzle 0.x's columns, but {folder.path.name}/ uses "
            f"Drizzle 1.0's folder layout: it needs `name` and `applied_at` ({len(up.matches)} row(s) to name)",
            file=str(folder.path),
            state="nothing was run",
            fix="upgrade the table: `inv db.upgrade-tracking` shows the plan, `--yes` applies it; "
            "or run `inv db.migrate --upgrade-tracking` to upgrade it and migrate in one go",
        )
    return up


def status(settings: Settings, *, out_of_order: bool = False) -> StatusReport:
    """What is applied, pending, edited or unknown. Changes nothing (not even the tracking table)."""
    src = load_sources(settings)
    folder = src.folder
    with _session(settings) as (target, conn):
        rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)
        exists = bool(rows) or _table_exists(conn, settings)
        up = upgrade.needed(conn, settings, folder, rows, src.others)
        p = _plan(src, rows, out_of_order=out_of_order, up=up)
        legacy = _legacy_plan(src.legacy, src, rows) if src.legacy else None
        return StatusReport(target.display, folder, p, _table_name(settings), exists, legacy)


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
    upgrade_tracking: bool = False,
    on_event: Event = lambda *a, **k: None,
    only: tuple[str, ...] | None = None,
) -> MigrateReport:
    """Apply pending Mode 1 and Mode 2 migrations as one sequence, one migrator at a time (advisory lock),
    re-planning under the lock.

    `upgrade_tracking`: a Drizzle 1.0 folder on Drizzle 0.x's tracking table upgrades the table first (else
    ConfirmationRequired)."""
    src = load_sources(settings)  # `only`: run only pending migrations of these modes (db.migrate-consolidated)
    folder = src.folder
    with _session(settings) as (target, conn):
        on_event("target", display=target.display)
        if dry_run:
            rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)
            up = upgrade.needed(conn, settings, folder, rows, src.others)
            p = _plan(src, rows, out_of_order=out_of_order, up=up)
            _check_statements(p)
            return MigrateReport(target.display, folder, p, dry_run=True)
        try:
            with migration_lock(
                conn, settings.migrations_schema, settings.migrations_table,
                timeout=settings.lock_wait_timeout, on_event=on_event,
            ):
                v1 = folder.layout == V1
                rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)
                up = _table_upgrade(conn, settings, src, rows, upgrade_tracking)
                p = _plan(src, rows, out_of_order=out_of_order, up=up)
                _refuse_blocking(p)
                run = _runnable(p, only)
                _check_statements(p)
                if up is not None:  # as Drizzle 1.0 does: the upgrade commits on its own, before any migration
                    upgrade.apply(conn, settings, up)
                    on_event("tracking-upgraded", rows=len(up.matches))
                # Drizzle creates its schema and table before it runs anything, even when a migration then fails.
                tracking.ensure_table(conn, settings.migrations_schema, settings.migrations_table, v1=v1)
                report = MigrateReport(target.display, folder, p, tracking_upgraded=len(up.matches) if up else None)
                on_event("plan", count=len(run))
                options = executor_options(settings, v1=v1, single_transaction=single_transaction)
                report.applied, report.recorded = _execute(conn, p, run, options, on_event)
                return report
        finally:
            on_event("finished")


def _refuse_blocking(p: Plan) -> None:
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


def _runnable(p: Plan, only: tuple[str, ...] | None) -> list[Migration]:
    """The pending migrations this run executes: all, or those of the modes in `only`. Refuses when a pending
    migration of another mode comes first: running past it would leave an older migration pending behind a
    newer created_at, which Drizzle's migrator then skips."""
    if only is None:
        return list(p.pending)
    run = [m for m in p.pending if m.mode in only]
    if run:
        first = next(i for i, m in enumerate(p.pending) if m is run[0])
        earlier = [m for m in p.pending[:first] if m.mode not in only]
        if earlier:
            raise DriftError(
                f"{earlier[0].tag} ({earlier[0].mode}) is pending and comes before {run[0].tag}",
                file=earlier[0].path,
                migration=earlier[0].tag,
                state="nothing was run",
                fix="run `inv db.migrate` (both modes), or apply the Mode 1 migrations first, then run this again",
            )
    return run


def _execute(conn: Any, p: Plan, run: list[Migration], options: Options, on_event: Event) -> tuple[list[str], list[str]]:
    """Record the consolidations proven by hash (no SQL of theirs runs), then apply `run`. (applied, recorded)"""
    if not run and not p.recorded_without_running:
        return [], []
    executor = Executor(conn, options, on_event)
    recorded = executor.record(p.recorded_without_running)
    try:
        executor.apply(run)
    except MigrakitError as err:
        if executor.applied and not options.single_transaction:
            err.state = f"{err.state}; applied and tracked before it in this run: {', '.join(executor.applied)}"
        if recorded:
            err.state = f"{err.state}; recorded without running: {', '.join(recorded)}"
        raise
    return list(executor.applied), recorded


def migrate_consolidated(
    settings: Settings, *, dry_run: bool = False, out_of_order: bool = False, on_event: Event = lambda *a, **k: None
) -> MigrateReport:
    """Apply only pending Mode 2 (consolidated) migrations, for teams that deploy them apart from Mode 1."""
    return migrate(settings, dry_run=dry_run, out_of_order=out_of_order, on_event=on_event, only=(CONSOLIDATED,))


def bootstrap(
    settings: Settings,
    *,
    dry_run: bool = False,
    only: tuple[str, ...] | list[str] = (),
    adopt: tuple[str, ...] | list[str] = (),
    on_event: Event = lambda *a, **k: None,
) -> BootstrapReport:
    """Run the legacy folder's files that no tracking row carries yet, in order, each as one transaction
    (Mode 2), tracked with created_at = its position (see bootstrap.py). Never reads a legacy runner's table.

    `only`: run only these files (selectors: tag, number, `024-026`). `adopt`: record these files without
    running them, each only when a shadow database proves its effect present in the live schema
    (db/provenance.py); a file only partly present, absent, or without schema effect is refused (DriftError
    naming the objects). With either option, the files not named stay pending. Files run and recorded in
    file order, each in its own transaction, all under the migration lock (the proof too)."""
    from .core.attribution import SelectionError, parse_selection, split_selectors

    legacy = load_legacy(settings.legacy_dir, settings.root)
    src = load_sources(settings)
    shown = display_path(settings.legacy_dir, settings.root) if settings.legacy_dir else ""
    tags = [m.tag for m in legacy]
    try:
        run_sel = parse_selection(split_selectors(list(only)), tags) if only else None
        adopt_sel = parse_selection(split_selectors(list(adopt)), tags) if adopt else []
    except SelectionError as err:
        raise ConfigError(
            f"no legacy file matches {err.selector!r}",
            file=shown,
            state="nothing was run",
            fix="name files by number (023), range (024-026), tag or file name; the legacy files are: " + ", ".join(tags),
        ) from None
    both = sorted(set(run_sel or ()) & set(adopt_sel))
    if both:
        raise ConfigError(
            f"{', '.join(both)} is named by both --only (run it) and --adopt (record it without running)",
            state="nothing was run",
            fix="name each file in one of the two options",
        )
    named = bool(only or adopt)
    if run_sel is None:
        run_sel = [] if adopt_sel else tags
    with _session(settings) as (target, conn):
        on_event("target", display=target.display)
        rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)
        p = _legacy_plan(legacy, src, rows)
        _check_statements(p)
        if dry_run:  # the proof is read-only: a dry run proves too
            report = _bootstrap_report(target.display, shown, p, run_sel, adopt_sel, named=named, dry_run=True)
            if report.adopt:
                report.proofs = _prove_adoption(settings, target, p.pending, [m for m in p.pending if m.tag in report.adopt])
            return report
        try:
            with migration_lock(
                conn, settings.migrations_schema, settings.migrations_table,
                timeout=settings.lock_wait_timeout, on_event=on_event,
            ):
                rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)  # again, under the lock
                p = _legacy_plan(legacy, src, rows)
                _refuse_blocking(p)
                v1 = src.folder.layout == V1
                report = _bootstrap_report(target.display, shown, p, run_sel, adopt_sel, named=named)
                to_adopt = [m for m in p.pending if m.tag in report.adopt]
                if to_adopt:  # proven under the lock: nobody migrates between the proof and the rows
                    report.proofs = _prove_adoption(settings, target, p.pending, to_adopt)
                tracking.ensure_table(conn, settings.migrations_schema, settings.migrations_table, v1=v1)
                on_event("plan", count=len(report.to_run))
                executor = Executor(conn, executor_options(settings, v1=v1), on_event)
                try:
                    for m in p.pending:  # file order: each file recorded or run in its own transaction
                        if m.tag in report.adopt:
                            report.recorded += executor.record([m])
                        elif m.tag in report.to_run:
                            executor.apply([m])
                            report.applied.append(m.tag)
                except MigrakitError as err:
                    err.fix = err.fix and err.fix.replace("inv db.migrate", "inv db.bootstrap")
                    done = [*report.applied, *report.recorded]
                    if done:
                        err.state = f"{err.state}; done before it in this run: {', '.join(done)}"
                    if _already_exists(err):
                        err.fix = (
                            f"the objects {err.migration} creates already exist here (another runner, or a person, ran "
                            "it): run `inv db.check`; it names the file that creates each object, proves which legacy "
                            "files already ran, and prints the command that records those and runs the rest"
                        )
                    raise
                return report
        finally:
            on_event("finished")


def _already_exists(err: MigrakitError) -> bool:
    """The server refused a CREATE because the object exists (duplicate table, object, function, schema)."""
    return getattr(err, "sqlstate", None) in ("42P07", "42710", "42723", "42P06")


def _bootstrap_report(
    target: str, shown: str, p: Plan, run_sel: list[str], adopt_sel: list[str], *, named: bool, dry_run: bool = False
) -> BootstrapReport:
    pending = {m.tag for m in p.pending}
    report = BootstrapReport(target, shown, p, dry_run=dry_run)
    report.to_run = [t for t in run_sel if t in pending]
    report.adopt = [t for t in adopt_sel if t in pending]
    report.already = [t for t in [*run_sel, *adopt_sel] if t not in pending] if named else []
    report.left = [m.tag for m in p.pending if m.tag not in report.to_run and m.tag not in report.adopt]
    return report


def _prove_adoption(settings: Settings, target: server.Target, pending: tuple[Migration, ...], adopt: list[Migration]) -> list[Any]:
    """Prove each file of `adopt` present in the live schema (db/provenance.py), or raise DriftError naming,
    per refused file, the objects that differ and the fix."""
    from . import shadow
    from .db import provenance
    from .drift import ignored_tables

    with shadow.shadow(settings) as url:
        prov = provenance.build(settings, url, each_migration=False)
        note = shadow.version_note(target.url, url)
    live = provenance.live_snapshot(target.url, ignored_tables(settings), target.display)
    proofs = provenance.legacy_proofs(prov, list(pending), live)
    refused = [pr for pr in proofs if pr.migration in adopt and pr.verdict != "present"]
    if refused:
        first = refused[0]
        forward = provenance.next_step(proofs)
        fixes = [provenance.blocker_fix(pr) for pr in refused if pr.verdict != "absent"]
        if any(pr.verdict == "absent" for pr in refused):
            fixes.append(
                f"{', '.join(pr.migration.tag for pr in refused if pr.verdict == 'absent')} never ran here: run "
                "instead of adopting" + (f" (`{forward}`)" if forward else "")
            )
        raise DriftError(
            f"cannot adopt {', '.join(pr.migration.tag for pr in refused)}: its effect is not present in this "
            f"database ({first.verdict})",
            file=first.migration.path,
            migration=first.migration.tag,
            state="nothing was run or recorded",
            fix="; ".join(fixes),
            details=[*provenance.summary(proofs), *(line for pr in refused for line in pr.differing_lines()), *([note] if note else [])],
        )
    return [pr for pr in proofs if pr.migration in adopt]
