"""`db.status`: what is applied, pending, edited or unknown. Changes nothing (not even the tracking table)."""

from __future__ import annotations

from ..core.reports import StatusReport
from ..core.settings import Settings
from ..db.status import read_status


def status(
    settings: Settings, *, out_of_order: bool = False, allow_empty: bool | None = False, require_migrations: bool = True
) -> StatusReport:
    """What is applied, pending, edited or unknown. Changes nothing (not even the tracking table).
    `require_migrations=False`: a missing migrations folder reads as empty (db.baseline starts one)."""
    return read_status(settings, out_of_order=out_of_order, allow_empty=allow_empty, require_migrations=require_migrations)
