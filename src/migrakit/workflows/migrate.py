"""`db.migrate` and `db.migrate-consolidated`: apply the pending migrations, one migrator at a time.

The recipe: read the files (sources/load.py), open the target and the lock's connection at once
(db/connect/session.py), take the migration lock and read the tracking rows under it in one round trip (db/run/lock.py,
db/run/probe.py), plan (core/plan/planner.py), cut and check the plan (core/plan/run_plan.py), upgrade the
tracking table when asked (db/tracking_shape.py), then apply (workflows/steps/apply.py). Returns a MigrateReport;
nothing here prints."""

from __future__ import annotations

from contextlib import nullcontext

from migrakit.core import events
from migrakit.core.events import EventSink, no_event
from migrakit.core.migration import CONSOLIDATED, Migration
from migrakit.core.plan.planner import Plan
from migrakit.core.plan.run_plan import check_statements, refuse_blocking, runnable, up_to
from migrakit.core.plan.to_tag import resolve_tag
from migrakit.core.project import ProjectFiles, refuse_empty_folder
from migrakit.core.reports.run import MigrateReport
from migrakit.core.settings import Settings
from migrakit.db import tracking, tracking_shape
from migrakit.db.connect.answer import NoAnswer, told
from migrakit.db.connect.session import open_migrating, open_target
from migrakit.db.run import probe
from migrakit.db.run.lock import migration_lock
from migrakit.sources.folders import V1
from migrakit.sources.load import load_sources
from migrakit.workflows.steps.apply import direct_connection, execute
from migrakit.workflows.steps.options import executor_options, target_options, tracking_table


def migrate(
    settings: Settings,
    *,
    dry_run: bool = False,
    out_of_order: bool = False,
    single_transaction: bool = False,
    upgrade_tracking: bool = False,
    allow_empty: bool = False,
    on_event: EventSink = no_event,
    only: tuple[str, ...] | None = None,
    require_migrations: bool = True,
    to: str | None = None,
    sources: ProjectFiles | None = None,
) -> MigrateReport:
    """Apply pending Mode 1 and Mode 2 migrations as one sequence, one migrator at a time (advisory lock),
    re-planning under the lock.

    `upgrade_tracking`: a Drizzle 1.0 folder on Drizzle 0.x's tracking table upgrades the table first (else
    ConfirmationRequired). `allow_empty`: an empty folder while the tracking table has rows, and migrations that
    hold no statement (recorded as applied, as Drizzle records them), are accepted instead of refused. `to`: apply
    only up to and including that migration (a tag or a unique prefix; ConfigError when it names none); when it is
    already applied, nothing runs. `only`: run only pending migrations of these modes (db.migrate-consolidated).
    `sources`: the files already read (a fleet reads them once for all its targets)."""
    src = sources if sources is not None else load_sources(settings, require_migrations=require_migrations)
    folder = src.folder
    to_tag = resolve_tag([m.tag for m in src.migrations], to) if to is not None else None
    schema, table = settings.migrations_schema, settings.migrations_table
    if dry_run:
        with open_target(target_options(settings)) as (target, conn):
            on_event(events.TargetChosen(target.display))
            read = probe.read(conn, schema, table).table  # one round trip
            refuse_empty_folder(settings, src, read.rows, allow_empty)
            up = tracking_shape.needed(conn, tracking_table(settings), folder, read.rows, src.others, read=read)
            p, cut = up_to(src.plan(read.rows, out_of_order=out_of_order, up=up), to_tag)
            check_statements(p, single_transaction=single_transaction, allow_empty=allow_empty)
            return MigrateReport(target.display, folder, p, dry_run=True, **cut)
    with open_migrating(target_options(settings)) as (target, conn, lock_conn):  # both connections at once
        on_event(events.TargetChosen(target.display))
        try:
            # One round trip: the lock, and the rows read under it (db/run/probe.py).
            with migration_lock(conn, schema, table, timeout=settings.lock_wait_timeout, on_event=on_event,
                                lock_conn=lock_conn) as held:  # fmt: skip
                v1 = folder.layout == V1
                rows = held.table.rows
                refuse_empty_folder(settings, src, rows, allow_empty)
                up = tracking_shape.require_asked(
                    conn, tracking_table(settings), folder, src.others, rows, upgrade_tracking, read=held.table
                )
                p = src.plan(rows, out_of_order=out_of_order, up=up)
                refuse_blocking(p)
                p, cut = up_to(p, to_tag)
                run = runnable(p, only)
                check_statements(p, single_transaction=single_transaction, allow_empty=allow_empty)
                direct = direct_connection(conn, settings, target, run)  # before anything runs: may refuse
                if up is not None:  # as Drizzle 1.0 does: the upgrade commits on its own, before any migration
                    tracking_shape.apply(conn, tracking_table(settings), up)
                    on_event(events.TrackingUpgraded(len(up.matches)))
                report = MigrateReport(
                    target.display, folder, p, tracking_upgraded=len(up.matches) if up else None, **cut
                )
                on_event(events.Planned(len(run), tuple(m.tag for m in run)))
                options = executor_options(settings, v1=v1, single_transaction=single_transaction)

                def replan() -> tuple[Plan, list[Migration]]:
                    rows = tracking.read_rows(conn, schema, table)
                    up = tracking_shape.needed(conn, tracking_table(settings), folder, rows, src.others)
                    p = src.plan(rows, out_of_order=out_of_order, up=up)
                    refuse_blocking(p)
                    p, _ = up_to(p, to_tag)  # a racer's re-plan stops at --to as well
                    return p, runnable(p, only)

                with direct or nullcontext(), told(conn, direct):
                    # Drizzle creates its schema and table before it runs anything, even when a migration then
                    # fails: a missing table is created first, in the first pipelined batch when one comes first.
                    report.applied, report.recorded, report.plan = execute(
                        conn, p, run, options, on_event, replan=replan, direct=direct, wait=settings.lock_wait_timeout,
                        create_table=not held.table.exists,
                    )
                return report
        except NoAnswer as silent:  # the lock's polls or a read before the plan (the run's own waits: `told`)
            raise silent.unavailable("no migration was applied by this run") from None
        finally:
            on_event(events.Finished())


def migrate_consolidated(
    settings: Settings,
    *,
    dry_run: bool = False,
    out_of_order: bool = False,
    allow_empty: bool = False,
    on_event: EventSink = no_event,
) -> MigrateReport:
    """Apply only pending Mode 2 (consolidated) migrations, for teams that deploy them apart from Mode 1: the
    same recipe as `migrate`, restricted to one mode."""
    return migrate(
        settings,
        dry_run=dry_run,
        out_of_order=out_of_order,
        allow_empty=allow_empty,
        on_event=on_event,
        only=(CONSOLIDATED,),
    )
