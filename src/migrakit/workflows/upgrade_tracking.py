"""Upgrade Drizzle 0.x's tracking table to Drizzle 1.0's, as Drizzle 1.0's migrator does it, but only on request.

Drizzle 1.0 (`drizzle-orm/up-migrations/pg.ts`) upgrades a table without a `name` column on its first run: it
matches every row to a local migration folder, then adds `name` and `applied_at` and writes each row's folder
name (applied_at NULL: the time is unknown) in one transaction. migrakit does the same matching
(core/drizzle/row_matching.py, pure; the table read and changed in db/tracking_shape.py) and shows it first; the
table changes only with `--yes` (`inv db.upgrade-tracking --yes`, or `inv db.migrate --upgrade-tracking` in a
deploy). Nothing is re-run.

Matching, per row in id order (Drizzle's rule, kept quirk for quirk):
  1. created_at truncated to whole seconds (its decimal text minus the last 3 digits, plus "000") is
     compared with each folder's `when` (the Date.UTC of its 14-digit prefix);
  2. one folder with that second -> that folder (even when the hash differs: the file was edited since);
     several -> the one with the row's hash, or none;
  3. no folder with that second -> the folder with the row's hash (the last one, in folder order).
A row that matches nothing makes Drizzle refuse the whole upgrade; migrakit reports those rows. Rows of
migrakit's own files that are not Drizzle folders (consolidated and legacy files, and the journal migrations a
consolidation replaced) are matched by hash after that and get the name migrakit writes for them in a 1.0
table, so that an upgrade Drizzle 1.0 would refuse goes through, and Drizzle 1.0 then sees a 1.0 table.
"""

from __future__ import annotations

from migrakit.core.reports.upgrade import UpgradeTrackingReport
from migrakit.core.settings import Settings
from migrakit.db import tracking
from migrakit.db.connect import session
from migrakit.db.run.lock import migration_lock
from migrakit.db.tracking_shape import apply, needed, unmatched_error
from migrakit.errors import MigrakitError
from migrakit.sources.folders import V1
from migrakit.sources.load import load_sources
from migrakit.workflows.steps.options import target_options, tracking_table


def upgrade_tracking(settings: Settings, *, yes: bool = False) -> UpgradeTrackingReport:
    """Show, and with `yes` do, the upgrade of the tracking table to Drizzle 1.0's columns and names."""
    src = load_sources(settings)
    folder, others = src.folder, src.others
    schema, table = settings.migrations_schema, settings.migrations_table
    shown_table = tracking.shown(schema, table)
    if folder.layout != V1:
        raise MigrakitError(
            f"{folder.path.name}/ is not in Drizzle 1.0's folder layout: the names to write come from its folders",
            file=str(folder.path),
            state="nothing was changed",
            fix="convert the folder first: `inv db.upgrade-layout` shows the plan, `--yes` converts it",
        )
    # Both connections at once; the lock and the table (rows, columns, existence) in one round trip.
    with session.open_migrating(target_options(settings)) as (target, conn, lock_conn):
        with migration_lock(conn, schema, table, timeout=settings.lock_wait_timeout, lock_conn=lock_conn) as held:
            read = held.table
            up = needed(conn, tracking_table(settings), folder, read.rows, others, read=read)
            report = UpgradeTrackingReport(target.display, folder, shown_table, up)
            if up is None:
                report.note = (
                    "the tracking table already has Drizzle 1.0's columns and every row has a name"
                    if read.exists
                    else "there is no tracking table yet: `inv db.migrate` creates Drizzle 1.0's table"
                )
                return report
            if not up.possible:
                raise unmatched_error(up, folder)
            if yes and up.changes:
                apply(conn, tracking_table(settings), up)
                report.applied = True
            return report
