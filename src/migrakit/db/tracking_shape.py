"""The tracking table's shape: whether it lacks Drizzle 1.0's columns (`name`, `applied_at`) or holds rows without a
name, and changing it. [I/O]

Which folder each row stands for is decided in core/drizzle/row_matching.py (pure); here the table is read
(`needed`), a deploy that did not ask for the change is refused (`require_asked`), and the one transaction that
adds the columns and writes the names runs (`apply`). db.migrate --upgrade-tracking, db.upgrade-tracking and
db.status use these."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from migrakit.core.drizzle.folder import V1, Folder
from migrakit.core.drizzle.row_matching import TrackingUpgrade, own_file_names, plan_tracking_upgrade
from migrakit.core.migration import Migration, TrackingRow
from migrakit.core.options import TrackingTable
from migrakit.db import tracking
from migrakit.errors import ConfirmationRequired, DriftError


def needed(
    conn: Any,
    table: TrackingTable,
    folder: Folder,
    rows: Sequence[TrackingRow],
    others: Sequence[Migration] = (),
    *,
    read: tracking.TableRead | None = None,
) -> TrackingUpgrade | None:
    """The upgrade this database needs for `folder`, or None: only a Drizzle 1.0 folder needs one, when the
    table lacks `name` (Drizzle 0.x's table) or holds rows without a name. `others`: migrakit's other files
    (consolidated, legacy), whose rows are named too. `read`: what the query that read `rows` saw of the table
    (db/run/probe.py); without it, the catalog is asked."""
    if folder.layout != V1:
        return None
    if not (read.exists if read is not None else tracking.table_exists(conn, table.schema, table.name)):
        return None
    table_v1 = read.has_name if read is not None else tracking.has_name_column(conn, table.schema, table.name)
    if table_v1 and all(r.name is not None for r in rows):
        return None
    return plan_tracking_upgrade(rows, folder.migrations, table_v1=table_v1, own_files=own_file_names(others))


def unmatched_error(up: TrackingUpgrade, folder: Folder) -> DriftError:
    return DriftError(
        f"{len(up.unmatched)} tracking row(s) match no migration folder in {folder.path.name}/, so the tracking "
        "table cannot be upgraded (Drizzle 1.0's migrator refuses the same way)",
        file=str(folder.path),
        state="nothing was changed",
        fix="restore the missing migration folders (e.g. from git; a journal folder converts with "
        "`inv db.upgrade-layout --yes`), or check --migrations-dir and the database",
        details=[f"row id {r.id}: hash {r.hash[:12]}, created_at {r.created_at}" for r in up.unmatched],
    )


def require_asked(
    conn: Any,
    table: TrackingTable,
    folder: Folder,
    others: Sequence[Migration],
    rows: list[TrackingRow],
    asked: bool,
    *,
    read: tracking.TableRead | None = None,
) -> TrackingUpgrade | None:
    """A v1 folder on Drizzle 0.x's table needs the table upgraded: refuse (exit 5) unless --upgrade-tracking
    asked for it; a deploy never alters the table unasked. Returns the upgrade to do."""
    up = needed(conn, table, folder, rows, others, read=read)
    if up is None or not up.add_columns:
        return None
    if not up.possible:
        raise unmatched_error(up, folder)
    if not asked:
        raise ConfirmationRequired(
            f"the tracking table {table.shown} has Drizzle 0.x's columns, but {folder.path.name}/ uses "
            f"Drizzle 1.0's folder layout: it needs `name` and `applied_at` ({len(up.matches)} row(s) to name)",
            file=str(folder.path),
            state="nothing was run",
            fix="upgrade the table: `inv db.upgrade-tracking` shows the plan, `--yes` applies it; "
            "or run `inv db.migrate --upgrade-tracking` to upgrade it and migrate in one go",
        )
    return up


def apply(conn: Any, table: TrackingTable, up: TrackingUpgrade) -> None:
    """Add the columns (0.x table) and write the names, in one transaction."""
    tracking.upgrade_to_v1(
        conn,
        table.schema,
        table.name,
        [(m.row.id, m.name) for m in up.matches],
        clear_applied_at=up.add_columns,
    )
