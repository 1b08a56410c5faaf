"""Reading what is applied, pending, edited or unknown on the target: the one read db.status, db.check,
db.baseline and legacy.retire share. [I/O] Changes nothing (not even the tracking table)."""

from __future__ import annotations

from ..core.project import Sources, refuse_empty_folder, table_name
from ..core.reports import StatusReport
from ..core.settings import Settings
from . import pooler, tracking
from .session import open_target
from .table_upgrade import needed


def read_status(
    settings: Settings, src: Sources, *, out_of_order: bool = False, allow_empty: bool | None = False
) -> StatusReport:
    """The files (`src`, read by sources/load.py) planned against the target's tracking rows; an empty folder
    while the table has rows is refused unless `allow_empty` (None: the task has no --allow-empty)."""
    with open_target(settings) as (target, conn):
        rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)
        refuse_empty_folder(settings, src, rows, allow_empty)
        exists = bool(rows) or tracking.table_exists(conn, settings.migrations_schema, settings.migrations_table)
        up = needed(conn, settings, src.folder, rows, src.others)
        p = src.plan(rows, out_of_order=out_of_order, up=up)
        legacy = src.legacy_plan(rows) if src.legacy else None
        found = pooler.detect(conn, target.url)  # one query on a direct connection
        return StatusReport(target.display, src.folder, p, table_name(settings), exists, legacy, found)

