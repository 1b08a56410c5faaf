"""Reading what is applied, pending, edited or unknown on the target: the one read db.status, db.check,
db.baseline and legacy.retire share, in one round trip on a direct connection (db/probe.py). [I/O] Changes
nothing (not even the tracking table)."""

from __future__ import annotations

from ..core.project import Sources, refuse_empty_folder, table_name
from ..core.reports import StatusReport
from ..core.settings import Settings
from . import pooler, probe
from .session import open_target
from .table_upgrade import needed


def read_status(
    settings: Settings, src: Sources, *, out_of_order: bool = False, allow_empty: bool | None = False
) -> StatusReport:
    """The files (`src`, read by sources/load.py) planned against the target's tracking rows; an empty folder
    while the table has rows is refused unless `allow_empty` (None: the task has no --allow-empty)."""
    with open_target(settings) as (target, conn):
        read = probe.read(conn, settings.migrations_schema, settings.migrations_table)  # one round trip
        rows = read.table.rows
        refuse_empty_folder(settings, src, rows, allow_empty)
        up = needed(conn, settings, src.folder, rows, src.others, read=read.table)
        p = src.plan(rows, out_of_order=out_of_order, up=up)
        legacy = src.legacy_plan(rows) if src.legacy else None
        found = pooler.detect(conn, target.url, server_pid=read.server_pid)  # no query on a direct connection
        return StatusReport(target.display, src.folder, p, table_name(settings), read.table.exists, legacy, found)

