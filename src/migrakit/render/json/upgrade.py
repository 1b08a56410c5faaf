"""db.upgrade-tracking and db.upgrade-layout as JSON; render/upgrade.py is their text."""

from __future__ import annotations

from migrakit.core.reports.upgrade import LayoutUpgrade, UpgradeTrackingReport
from migrakit.render.json.shapes import Data, serializes, tracking_upgrade


@serializes(UpgradeTrackingReport)
def upgrade_tracking(r: UpgradeTrackingReport) -> Data:
    """core.reports.upgrade.UpgradeTrackingReport (db.upgrade-tracking)."""
    return {
        "database": r.target,
        "tracking_table": r.table,
        "changed": r.applied,
        "upgrade": tracking_upgrade(r.upgrade),
        "notes": [r.note] if r.note else [],
    }


@serializes(LayoutUpgrade)
def upgrade_layout(up: LayoutUpgrade) -> Data:
    """core.reports.upgrade.LayoutUpgrade (db.upgrade-layout)."""
    return {
        "migrations_dir": str(up.path),
        "layout": up.layout,
        "changed": up.applied,
        "folders": [
            {"tag": mv.tag, "when": mv.when, "folder": mv.target, "hash": mv.hash, "snapshot": mv.snapshot is not None}
            for mv in up.moves
        ],
        "left_in_place": list(up.left_in_place),
        "removed": list(up.removed),
        "notes": list(up.notes),
    }
