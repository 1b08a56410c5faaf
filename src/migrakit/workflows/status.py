"""`db.status`: what is applied, pending, edited or unknown. Changes nothing (not even the tracking table)."""

from __future__ import annotations

from migrakit.core.project import ProjectFiles
from migrakit.core.reports.run import StatusReport
from migrakit.core.settings import Settings
from migrakit.sources.folders import check_folders
from migrakit.sources.load import load_sources
from migrakit.workflows.steps.status import read_status


def status(
    settings: Settings,
    *,
    out_of_order: bool = False,
    allow_empty: bool | None = False,
    require_migrations: bool = True,
    sources: ProjectFiles | None = None,
) -> StatusReport:
    """What is applied, pending, edited or unknown. Changes nothing (not even the tracking table).
    `require_migrations=False`: a missing migrations folder reads as empty (db.baseline starts one).
    `sources`: the files already read (a fleet reads them once for all its targets); else they are read while a
    second thread connects and reads the tracking rows (db/status.read_status), after the folders were checked
    (a missing folder is exit 2 before any connection)."""
    if sources is None:
        check_folders(settings, migrations=require_migrations)
    src = sources if sources is not None else (lambda: load_sources(settings, require_migrations=require_migrations))
    return read_status(settings, src, out_of_order=out_of_order, allow_empty=allow_empty)
