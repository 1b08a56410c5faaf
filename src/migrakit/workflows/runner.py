"""The core operations behind the tasks: read folders, read tracking, plan, execute. Returns data.

Each function takes Settings and keyword options and returns a report value for `report` to render;
failures are MigrakitError. Nothing here prints.
"""

from __future__ import annotations

import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any, Iterator

import psycopg

from ..db import server, tracking
from . import upgrade_tracking as upgrade
from ..sources.legacy import load_legacy
from ..core.settings import Settings
from ..sources.consolidated import load_consolidated
from ..core.target import resolve_tag
from ..db import pooler
from ..errors import ConfigError, ConfirmationRequired, DatabaseUnavailable, DriftError, MigrakitError
from ..db.executor import AppliedElsewhere, Event, Executor, Options, migration_lock
from ..core.migration import CONSOLIDATED, STANDARD, Migration
from ..core.planner import DEFAULT_TABLE, Plan, order_sequence, plan
from ..core.migration import TrackingRow
from ..sources.folders import MIGRATIONS_EXPECTED, V1, Folder, check_folders, display_path, folder_fix, load_folder, require_folder, said


@dataclass
class StatusReport:
    target: str
    folder: Folder
    plan: Plan
    table: str
    table_exists: bool
    legacy: Plan | None = None  # the legacy folder's files (db.bootstrap), when one is configured
    connection: pooler.Pooler = pooler.DIRECT  # a pooler between migrakit and the server, if one was seen

    @property
    def ok(self) -> bool:
        """False (exit 3) on a blocking problem or on duplicated tracking rows: a migration that ran twice
        needs a human even though nothing blocks the next deploy."""
        plans = [self.plan, *([self.legacy] if self.legacy is not None else [])]
        return not self.plan.blocking and not any(p.duplicate_rows for p in plans)


@dataclass
class MigrateReport:
    target: str
    folder: Folder
    plan: Plan
    applied: list[str] = field(default_factory=list)
    dry_run: bool = False
    recorded: list[str] = field(default_factory=list)  # consolidations recorded without running (proven by hash)
    tracking_upgraded: int | None = None  # rows named by --upgrade-tracking in this run
    to: str | None = None  # --to: the last migration this run may apply (resolved tag)
    to_already_applied: bool = False  # --to named a migration that is already applied: nothing to do
    held_back: list[str] = field(default_factory=list)  # pending migrations after --to, left pending


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
    table: str = DEFAULT_TABLE  # the tracking table, quoted (for the SQL in a problem's fix)

    @property
    def others(self) -> tuple[Migration, ...]:
        """Every file besides the Mode 1 folder's (consolidated, legacy): their rows need names too in a 1.0 table."""
        return (*(m for m in self.migrations if m.mode != STANDARD), *self.legacy)

    @property
    def sequence_hashes(self) -> frozenset[str]:
        """Hashes of rows the Mode 1 / Mode 2 sequence explains (its files and the migrations consolidations replaced)."""
        return frozenset({m.hash for m in self.migrations} | {r.hash for m in self.migrations for r in m.replaces})


def load_sources(settings: Settings, *, require_migrations: bool = True) -> Sources:
    """Read the Mode 1 folder, the consolidated folder and (when configured) the legacy folder, after
    `check_folders` (a missing folder is a ConfigError, never an empty one).

    Run order: Mode 1 in journal order; each consolidation right before the first Mode 1 migration whose
    `when` is later than its own (see planner.order_sequence)."""
    check_folders(settings, migrations=require_migrations)
    folder = load_folder(settings.migrations_dir, settings.root)
    consolidated = load_consolidated(settings.consolidated_dir, settings.root, [m.tag for m in folder.migrations])
    legacy = load_legacy(settings.legacy_dir, settings.root, required=False)
    table = ".".join('"' + part.replace('"', '""') + '"' for part in (settings.migrations_schema, settings.migrations_table))
    return Sources(folder, order_sequence(folder.migrations, consolidated), legacy, table)


def refuse_empty_folder(
    settings: Settings, src: Sources, rows: list[TrackingRow], allow_empty: bool | None
) -> None:
    """No Mode 1 or Mode 2 migration on disk while the tracking table has rows of migrations (not only legacy
    files'): most likely the wrong folder, so exit 2 unless `--allow-empty` says the empty folder is meant.
    `allow_empty=None`: the task has no --allow-empty (db.check, db.baseline): refuse without offering it."""
    if allow_empty or src.migrations:
        return
    legacy = {m.hash for m in src.legacy}
    tracked = [r for r in rows if r.hash not in legacy]
    if not tracked:
        return
    key = "migrations_dir"
    shown = display_path(settings.migrations_dir, settings.root)
    origin = settings.origin(key)
    raise ConfigError(
        f"{key} {shown}/ holds no migration, but the tracking table {_table_name(settings)} has {len(tracked)} row(s)",
        cause=f"{key} = {shown!r} ({'the default' if origin == 'the default' else 'set by ' + said(origin)}); "
        f"expected {MIGRATIONS_EXPECTED}",
        state="nothing was run",
        fix=folder_fix(settings, key, "the folder these migrations came from")
        + ("; if the folder is meant to be empty, pass --allow-empty" if allow_empty is not None else ""),
    )


def _plan(src: Sources, rows: list[TrackingRow], *, out_of_order: bool = False, up: Any = None) -> Plan:
    """Mode 1 and Mode 2 as one sequence; rows of legacy files (db.bootstrap's) are explained, not unknown."""
    legacy = frozenset(m.hash for m in src.legacy)
    return plan(src.migrations, rows, layout=src.folder.layout, out_of_order=out_of_order, upgrade=up, known_hashes=legacy,
                table=src.table)


def _legacy_plan(legacy: tuple[Migration, ...], src: Sources, rows: list[TrackingRow]) -> Plan:
    return plan(legacy, rows, layout=None, known_hashes=src.sequence_hashes, table=src.table)


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


def _check_statements(p: Plan, *, single_transaction: bool = False, allow_empty: bool = False) -> None:
    """Split and check every pending migration now, so a bad file stops the run before any SQL. Not the Mode 1
    files of a --single-transaction run: they are sent as Drizzle sends them, and the server decides, as it
    would under Drizzle (the split then only names the failing statement).

    A pending migration without a single statement (an empty file, or only comments: a `--custom` header whose
    SQL was never written, or appended into the comment) is refused unless `allow_empty`: Drizzle would record
    it as applied, and a later edit of the file would then be drift, its SQL never run."""
    empty = [m for m in p.pending if m.mode == STANDARD and _empty(m)]
    if empty and not allow_empty:
        m = empty[0]
        raise MigrakitError(
            f"migration {m.tag} holds no SQL statement (empty, or only comments)",
            file=m.path,
            migration=m.tag,
            state="nothing was run",
            fix=f"write its SQL below the header in {m.path}, then run again; or pass --allow-empty to record it "
            "as applied without running anything, as Drizzle does",
            details=[f"also empty: {x.path}" for x in empty[1:]],
        )
    for m in p.pending:
        if single_transaction and m.mode == STANDARD:
            continue
        m.check_runnable()  # splits the file: raises SplitError or MigrakitError


def _empty(m: Migration) -> bool:
    """No statement in the file. A file that cannot be split is not empty (its error comes where it is split)."""
    try:
        return not m.statements
    except MigrakitError:
        return False


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


def status(
    settings: Settings, *, out_of_order: bool = False, allow_empty: bool | None = False, require_migrations: bool = True
) -> StatusReport:
    """What is applied, pending, edited or unknown. Changes nothing (not even the tracking table).
    `require_migrations=False`: a missing migrations folder reads as empty (db.baseline starts one)."""
    src = load_sources(settings, require_migrations=require_migrations)
    folder = src.folder
    with _session(settings) as (target, conn):
        rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)
        refuse_empty_folder(settings, src, rows, allow_empty)
        exists = bool(rows) or _table_exists(conn, settings)
        up = upgrade.needed(conn, settings, folder, rows, src.others)
        p = _plan(src, rows, out_of_order=out_of_order, up=up)
        legacy = _legacy_plan(src.legacy, src, rows) if src.legacy else None
        found = pooler.detect(conn, target.url)  # one query on a direct connection
        return StatusReport(target.display, folder, p, _table_name(settings), exists, legacy, found)


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
    allow_empty: bool = False,
    on_event: Event = lambda *a, **k: None,
    only: tuple[str, ...] | None = None,
    require_migrations: bool = True,
    to: str | None = None,
) -> MigrateReport:
    """Apply pending Mode 1 and Mode 2 migrations as one sequence, one migrator at a time (advisory lock),
    re-planning under the lock.

    `upgrade_tracking`: a Drizzle 1.0 folder on Drizzle 0.x's tracking table upgrades the table first (else
    ConfirmationRequired). `allow_empty`: an empty folder while the tracking table has rows, and migrations that
    hold no statement (recorded as applied, as Drizzle records them), are accepted instead of refused. `to`: apply
    only up to and including that migration (a tag or a unique prefix; ConfigError when it names none); when it is
    already applied, nothing runs."""
    src = load_sources(settings, require_migrations=require_migrations)  # `only`: run only pending migrations of these modes (db.migrate-consolidated)
    folder = src.folder
    to_tag = resolve_tag([m.tag for m in src.migrations], to) if to is not None else None
    with _session(settings) as (target, conn):
        on_event("target", display=target.display)
        if dry_run:
            rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)
            refuse_empty_folder(settings, src, rows, allow_empty)
            up = upgrade.needed(conn, settings, folder, rows, src.others)
            p = _plan(src, rows, out_of_order=out_of_order, up=up)
            p, cut = _up_to(p, to_tag)
            _check_statements(p, single_transaction=single_transaction, allow_empty=allow_empty)
            return MigrateReport(target.display, folder, p, dry_run=True, **cut)
        try:
            with migration_lock(
                conn, settings.migrations_schema, settings.migrations_table,
                timeout=settings.lock_wait_timeout, on_event=on_event,
            ):
                v1 = folder.layout == V1
                rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)
                refuse_empty_folder(settings, src, rows, allow_empty)
                up = _table_upgrade(conn, settings, src, rows, upgrade_tracking)
                p = _plan(src, rows, out_of_order=out_of_order, up=up)
                _refuse_blocking(p)
                p, cut = _up_to(p, to_tag)
                run = _runnable(p, only)
                _check_statements(p, single_transaction=single_transaction, allow_empty=allow_empty)
                direct = _direct_connection(conn, settings, target, run)  # before anything runs: may refuse
                if up is not None:  # as Drizzle 1.0 does: the upgrade commits on its own, before any migration
                    upgrade.apply(conn, settings, up)
                    on_event("tracking-upgraded", rows=len(up.matches))
                # Drizzle creates its schema and table before it runs anything, even when a migration then fails.
                tracking.ensure_table(conn, settings.migrations_schema, settings.migrations_table, v1=v1)
                report = MigrateReport(
                    target.display, folder, p, tracking_upgraded=len(up.matches) if up else None, **cut
                )
                on_event("plan", count=len(run))
                options = executor_options(settings, v1=v1, single_transaction=single_transaction)

                def replan() -> tuple[Plan, list[Migration]]:
                    rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)
                    p = _plan(src, rows, out_of_order=out_of_order, up=upgrade.needed(conn, settings, folder, rows, src.others))
                    _refuse_blocking(p)
                    p, _ = _up_to(p, to_tag)  # a racer's re-plan stops at --to as well
                    return p, _runnable(p, only)

                with direct or nullcontext():
                    report.applied, report.recorded, report.plan = _execute(
                        conn, p, run, options, on_event, replan=replan, direct=direct, wait=settings.lock_wait_timeout
                    )
                return report
        finally:
            on_event("finished")


def _up_to(p: Plan, to_tag: str | None) -> tuple[Plan, dict[str, Any]]:
    """The plan cut after `to_tag` (--to): its pending list ends with that migration, and what it held back.
    When `to_tag` is applied already, nothing is pending."""
    if to_tag is None:
        return p, {}
    target = next(m for m in p.migrations if m.tag == to_tag)
    if p.state_of(target) in ("applied", "replaced-applied"):
        return replace(p, pending=()), {"to": to_tag, "to_already_applied": True, "held_back": [m.tag for m in p.pending]}
    position = {id(m): i for i, m in enumerate(p.migrations)}
    limit = position[id(target)]
    keep = tuple(m for m in p.pending if position[id(m)] <= limit)
    held = [m.tag for m in p.pending if position[id(m)] > limit]
    return replace(p, pending=keep), {"to": to_tag, "held_back": held}


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


_REPLAN_PAUSE = 0.2  # seconds between re-plans while another migration transaction is open (AppliedElsewhere.busy)


def _direct_connection(conn: Any, settings: Settings, target: server.Target, run: list[Migration]) -> Any:
    """A direct connection (direct_url) for the migrations that must run outside a transaction, when `conn` goes
    through a transaction pooler; None when none is needed. Refuses (ConfigError, exit 2) when one is needed and
    direct_url is not set, before anything runs. Detection costs nothing when no such migration is pending."""
    outside = [m for m in run if m.runs_outside_transaction]
    if not outside:
        return None
    found = pooler.detect(conn, target.url)
    if not found.transaction:
        return None
    m = outside[0]
    if not settings.direct_url:
        raise ConfigError(
            f"{m.tag} must run outside a transaction, and {target.display} goes through a transaction pooler "
            f"({found.name}): its session settings and statements could land on other server connections",
            file=m.path,
            migration=m.tag,
            cause=found.evidence,
            state="nothing was run",
            fix="set direct_url (MIGRAKIT_DIRECT_URL) to a direct or session-pooled URL of the same database "
            "(Supabase: port 5432 instead of 6543; Neon: the host without -pooler); migrakit runs only such "
            "migrations there",
        )
    direct = server.connect(settings.direct_url, autocommit=True)
    try:
        same = direct.execute("SELECT current_database()").fetchone() == conn.execute("SELECT current_database()").fetchone()
        pooled = same and pooler.detect(direct, settings.direct_url).transaction
    except BaseException:
        direct.close()
        raise
    if not same or pooled:
        shown = server.redact_url(settings.direct_url)
        direct.close()
        raise ConfigError(
            f"direct_url {shown} " + ("names another database" if not same else "goes through a transaction pooler too"),
            migration=m.tag,
            state="nothing was run",
            fix="set direct_url (MIGRAKIT_DIRECT_URL) to a direct or session-pooled URL of the same database as DATABASE_URL",
        )
    return direct


def _execute(
    conn: Any,
    p: Plan,
    run: list[Migration],
    options: Options,
    on_event: Event,
    *,
    replan: Any = None,
    direct: Any = None,
    wait: float = 60.0,
) -> tuple[list[str], list[str], Plan]:
    """Record the consolidations proven by hash (no SQL of theirs runs), then apply `run`. (applied, recorded,
    the last plan). When a migration transaction finds its migration applied by another migrator (or another
    migrator's transaction open), `replan` re-reads the tracking table and the run goes on with what is left,
    for at most `wait` seconds."""
    applied: list[str] = []
    recorded: list[str] = []
    deadline = time.monotonic() + wait
    while True:
        if not run and not p.recorded_without_running:
            return applied, recorded, p
        executor = Executor(conn, options, on_event, direct=direct)
        try:
            recorded += executor.record(p.recorded_without_running)
            executor.apply(run)
            return applied + executor.applied, recorded, p
        except AppliedElsewhere as err:
            applied += executor.applied
            if replan is None or time.monotonic() > deadline:
                err.state = _run_state(err.state, applied, recorded, options)
                raise
            on_event("applied-elsewhere", migration=err.migration, busy=err.busy)
            if err.busy:
                time.sleep(_REPLAN_PAUSE)
            p, run = replan()
        except MigrakitError as err:
            err.state = _run_state(err.state, applied + executor.applied, recorded, options)
            raise


def _run_state(state: str | None, applied: list[str], recorded: list[str], options: Options) -> str:
    if applied and not options.single_transaction:
        state = f"{state}; applied and tracked before it in this run: {', '.join(applied)}"
    if recorded:
        state = f"{state}; recorded without running: {', '.join(recorded)}"
    return state or ""


def migrate_consolidated(
    settings: Settings,
    *,
    dry_run: bool = False,
    out_of_order: bool = False,
    allow_empty: bool = False,
    on_event: Event = lambda *a, **k: None,
) -> MigrateReport:
    """Apply only pending Mode 2 (consolidated) migrations, for teams that deploy them apart from Mode 1."""
    return migrate(
        settings, dry_run=dry_run, out_of_order=out_of_order, allow_empty=allow_empty, on_event=on_event, only=(CONSOLIDATED,)
    )


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
    from ..core.attribution import SelectionError, parse_selection, split_selectors

    if settings.legacy_dir is not None:
        key = "legacy_dir"
        require_folder(
            settings.legacy_dir, settings.root, key=key, origin=settings.origin(key),
            expected="the old runner's journal-less .sql files (e.g. 022_add_accounts.sql)",
            fix=folder_fix(settings, key, "the folder of the legacy .sql files"),
        )
    legacy = load_legacy(settings.legacy_dir, settings.root)
    # a legacy-only project (no drizzle-kit folder yet) may lack the default migrations folder; a configured one must exist
    src = load_sources(settings, require_migrations=not settings.is_default("migrations_dir"))
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
    from ..db import shadow
    from ..db import provenance
    from .check import ignored_tables

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
