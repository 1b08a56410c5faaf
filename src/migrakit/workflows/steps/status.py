"""Reading what is applied, pending, edited or unknown on the target: the one read db.status, db.check,
db.baseline and legacy.retire share, in one round trip on a direct connection (db/run/probe.py). [I/O] Changes
nothing (not even the tracking table)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from migrakit.core.project import ProjectFiles, refuse_empty_folder, table_name
from migrakit.core.reports.run import StatusReport
from migrakit.core.settings import Settings
from migrakit.db.connect import pooler
from migrakit.db.connect.session import Target, open_target, open_target_reading
from migrakit.db.run import probe
from migrakit.db.tracking_shape import needed
from migrakit.workflows.steps.options import target_options, tracking_table


def read_status(
    settings: Settings, src: ProjectFiles | Callable[[], ProjectFiles], *, out_of_order: bool = False,
    allow_empty: bool | None = False,
) -> StatusReport:
    """The files (`src`, read by sources/load.py) planned against the target's tracking rows; an empty folder
    while the table has rows is refused unless `allow_empty` (None: the task has no --allow-empty).

    `src` may be the function that reads the files: it then runs on this thread while a second one connects and
    sends the one-message read (session.open_target_reading), so connecting and the server's work hide behind
    the file reading (db.status on 10,000 migrations). Its error comes first, as when the files were read first."""
    schema, table = settings.migrations_schema, settings.migrations_table

    def first(conn: Any) -> probe.Probe:
        return probe.read(conn, schema, table)  # one round trip

    if isinstance(src, ProjectFiles):
        with open_target(target_options(settings)) as (target, conn):
            return _planned(settings, src, target, conn, first(conn), out_of_order, allow_empty)
    with open_target_reading(target_options(settings), first, src) as (target, conn, read, loaded):
        return _planned(settings, loaded, target, conn, read, out_of_order, allow_empty)


def _planned(
    settings: Settings, src: ProjectFiles, target: Target, conn: Any, read: probe.Probe, out_of_order: bool,
    allow_empty: bool | None,
) -> StatusReport:
    rows = read.table.rows
    refuse_empty_folder(settings, src, rows, allow_empty)
    up = needed(conn, tracking_table(settings), src.folder, rows, src.others, read=read.table)
    p = src.plan(rows, out_of_order=out_of_order, up=up)
    legacy = src.legacy_plan(rows) if src.legacy else None
    found = pooler.detect(conn, target.url, server_pid=read.server_pid)  # no query on a direct connection
    return StatusReport(target.display, src.folder, p, table_name(settings), read.table.exists, legacy, found)
