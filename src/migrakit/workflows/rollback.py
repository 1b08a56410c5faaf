"""`db.rollback`: undo the newest applied migrations with their down files, one migrator at a time.

The recipe: read the files (sources/load.py: each migration with its down file), then, on the target, plan
(core/plan/planner.py; an edited applied migration refuses, exit 3), choose the migrations to undo and check
their down files (core/rollback.py: exit 2 for a missing one), read the rows their destructive statements would
lose (db/run/rollback.rows_at_risk). Without --yes (or with --dry-run) that plan is the report (exit 5, or 0 for
--dry-run). With --yes, under the migration lock (db/run/lock.py) and with the rows read under it: refuse data
loss unless allowed (exit 5), then undo each step in its own transaction (db/run/rollback.Undoer).
Returns a RollbackReport; nothing here prints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from migrakit.core import events
from migrakit.core.migration import TrackingRow
from migrakit.core.plan.planner import Plan
from migrakit.core.plan.run_plan import refuse_blocking
from migrakit.core.project import ProjectFiles
from migrakit.core.rollback import RollbackReport, Step, choose, refuse_data_loss, steps_of
from migrakit.core.settings import Settings
from migrakit.db.connect.session import open_migrating, open_target
from migrakit.db.run import probe
from migrakit.db.run.lock import migration_lock
from migrakit.db.run.rollback import Undoer, rows_at_risk
from migrakit.sources.load import load_sources
from migrakit.workflows.steps.options import executor_options, target_options


def rollback(
    settings: Settings,
    *,
    to: str | None = None,
    steps: int | None = None,
    yes: bool = False,
    dry_run: bool = False,
    allow_data_loss: bool = False,
    single_transaction: bool = False,
    on_event: Callable[[Any], None] = lambda _: None,
    sources: ProjectFiles | None = None,
) -> RollbackReport:
    """Undo the applied migrations after `to` (a tag or a unique prefix; it stays applied), or the newest
    `steps`, newest first. Without `yes` only the plan is returned (exit 5); `dry_run` the same, exit 0.
    `sources`: the folders already read (a fleet reads them once for every target)."""
    src = sources if sources is not None else load_sources(settings)
    schema, table = settings.migrations_schema, settings.migrations_table

    def decide(conn: Any, rows: Sequence[TrackingRow]) -> tuple[Plan, list[Step], dict[str, int]]:
        p = src.plan(rows)
        refuse_blocking(p)  # an edited applied migration, rows no file explains ...: exit 3
        chosen = steps_of(
            choose(p, to=to, steps=steps), single_transaction=single_transaction, schema=settings.search_path
        )
        return p, chosen, rows_at_risk(conn, [loss for s in chosen for loss in s.losses])

    def report(target: str, p: Plan, chosen: list[Step], risk: dict[str, int], undone: list[str]) -> RollbackReport:
        gone = set(undone)
        return RollbackReport(
            target, tuple(chosen), risk, yes=yes and not dry_run, dry_run=dry_run,
            single_transaction=single_transaction, undone=undone,
            remaining=tuple(m.tag for m, _ in p.applied if m.tag not in gone),
        )  # fmt: skip

    if dry_run or not yes:
        with open_target(target_options(settings)) as (target, conn):
            on_event(events.TargetChosen(target.display))
            p, chosen, risk = decide(conn, probe.read(conn, schema, table).table.rows)
            return report(target.display, p, chosen, risk, [])
    with open_migrating(target_options(settings)) as (target, conn, lock_conn):
        on_event(events.TargetChosen(target.display))
        try:
            with migration_lock(conn, schema, table, timeout=settings.lock_wait_timeout, on_event=on_event,
                                lock_conn=lock_conn) as held:  # fmt: skip
                p, chosen, risk = decide(conn, held.table.rows)
                refuse_data_loss(chosen, risk, allowed=allow_data_loss)
                on_event(events.Planned(len(chosen)))
                undoer = Undoer(conn, schema, table, on_event, executor_options(settings, v1=False))
                undone = undoer.run(chosen, single_transaction=single_transaction) if chosen else []
                return report(target.display, p, chosen, risk, undone)
        finally:
            on_event(events.Finished())
