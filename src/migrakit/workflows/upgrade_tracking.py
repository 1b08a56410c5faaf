"""Upgrade Drizzle 0.x's tracking table to Drizzle 1.0's, as Drizzle 1.0's migrator does it, but only on request.

Drizzle 1.0 (`drizzle-orm/up-migrations/pg.ts`) upgrades a table without a `name` column on its first run: it
matches every row to a local migration folder, then adds `name` and `applied_at` and writes each row's folder
name (applied_at NULL: the time is unknown) in one transaction. migrakit does the same matching
(`plan_tracking_upgrade`, pure) and shows it first; the table changes only with `--yes`
(`inv db.upgrade-tracking --yes`, or `inv db.migrate --upgrade-tracking` in a deploy). Nothing is re-run.

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

from dataclasses import dataclass
from typing import Any, Sequence

from ..db import server, tracking
from ..core.settings import Settings
from ..errors import DriftError, MigrakitError
from ..db.lock import migration_lock
from ..core.tracking_upgrade import TrackingUpgrade, own_file_names, plan_tracking_upgrade
from ..core.migration import Migration
from ..core.migration import TrackingRow
from ..sources.folders import V1, Folder







# ---------------------------------------------------------------------------------------------- acting
def needed(
    conn: Any, settings: Settings, folder: Folder, rows: Sequence[TrackingRow], others: Sequence[Migration] = ()
) -> TrackingUpgrade | None:
    """The upgrade this database needs for `folder`, or None: only a Drizzle 1.0 folder needs one, when the
    table lacks `name` (Drizzle 0.x's table) or holds rows without a name. `others`: migrakit's other files
    (consolidated, legacy), whose rows are named too."""
    schema, table = settings.migrations_schema, settings.migrations_table
    if folder.layout != V1 or not tracking.table_exists(conn, schema, table):
        return None
    table_v1 = tracking.has_name_column(conn, schema, table)
    if table_v1 and all(r.name is not None for r in rows):
        return None
    return plan_tracking_upgrade(rows, folder.migrations, table_v1=table_v1, own_files=own_file_names(others))


def unmatched_error(up: TrackingUpgrade, settings: Settings, folder: Folder) -> DriftError:
    return DriftError(
        f"{len(up.unmatched)} tracking row(s) match no migration folder in {folder.path.name}/, so the tracking "
        "table cannot be upgraded (Drizzle 1.0's migrator refuses the same way)",
        file=str(folder.path),
        state="nothing was changed",
        fix="restore the missing migration folders (e.g. from git; a journal folder converts with "
        "`inv db.upgrade-layout --yes`), or check --migrations-dir and the database",
        details=[f"row id {r.id}: hash {r.hash[:12]}, created_at {r.created_at}" for r in up.unmatched],
    )


def apply(conn: Any, settings: Settings, up: TrackingUpgrade) -> None:
    """Add the columns (0.x table) and write the names, in one transaction."""
    tracking.upgrade_to_v1(
        conn,
        settings.migrations_schema,
        settings.migrations_table,
        [(m.row.id, m.name) for m in up.matches],
        clear_applied_at=up.add_columns,
    )


@dataclass
class UpgradeTrackingReport:
    target: str
    folder: Folder
    table: str
    upgrade: TrackingUpgrade | None
    applied: bool = False
    note: str = ""

    @property
    def done(self) -> bool:
        """True when nothing is left to do: applied now, or nothing needed."""
        return self.applied or self.upgrade is None or not self.upgrade.changes


def upgrade_tracking(settings: Settings, *, yes: bool = False) -> UpgradeTrackingReport:
    """Show, and with `yes` do, the upgrade of the tracking table to Drizzle 1.0's columns and names."""
    from .runner import load_sources  # runner uses this module for db.migrate --upgrade-tracking

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
    target = server.resolve_target(settings)
    conn = server.connect(target.url, autocommit=True)
    try:
        with migration_lock(conn, schema, table, timeout=settings.lock_wait_timeout):
            rows = tracking.read_rows(conn, schema, table)
            up = needed(conn, settings, folder, rows, others)
            report = UpgradeTrackingReport(target.display, folder, shown_table, up)
            if up is None:
                report.note = (
                    "the tracking table already has Drizzle 1.0's columns and every row has a name"
                    if tracking.table_exists(conn, schema, table)
                    else "there is no tracking table yet: `inv db.migrate` creates Drizzle 1.0's table"
                )
                return report
            if not up.possible:
                raise unmatched_error(up, settings, folder)
            if yes and up.changes:
                apply(conn, settings, up)
                report.applied = True
            return report
    finally:
        conn.close()
