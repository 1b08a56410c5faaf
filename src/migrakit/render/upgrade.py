"""Drizzle 1.0 upgrades as text: db.upgrade-tracking (the tracking table) and db.upgrade-layout (the folder)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from migrakit.core.reports.upgrade import LayoutUpgrade, UpgradeTrackingReport
from migrakit.render.json import upgrade as _json  # noqa: F401  (registers this command's JSON serializers)
from migrakit.render.text import table

if TYPE_CHECKING:
    from migrakit.core.drizzle.row_matching import TrackingUpgrade


def upgrade_lines(up: TrackingUpgrade, fmt: str) -> list[str]:
    """What a tracking-table upgrade does (db.upgrade-tracking, and db.status when one is due)."""
    lines = (
        ["  add columns name (text) and applied_at (timestamptz DEFAULT now()) if missing"] if up.add_columns else []
    )
    if up.matches:
        lines.append(
            f"  name {len(up.matches)} row(s)" + (" (applied_at NULL: the time is unknown):" if up.add_columns else ":")
        )
        drawn = table(
            ["id", "created_at", "name", "matched by"],
            [
                [
                    str(m.row.id),
                    str(m.row.created_at),
                    m.name,
                    m.how + (" (file edited since: hash differs)" if m.hash_differs else ""),
                ]
                for m in up.matches
            ],
            fmt,
        )
        lines += ["    " + line for line in drawn.splitlines()]
    lines += [
        f"  row id {r.id} (hash {r.hash[:12]}, created_at {r.created_at}) matches no folder" for r in up.unmatched
    ]
    return lines


def render_upgrade_tracking(report: UpgradeTrackingReport, fmt: str = "plain") -> str:
    """db.upgrade-tracking; JSON is render/json/upgrade.py's `upgrade_tracking`."""
    up = report.upgrade
    lines = [f"database: {report.target}", f"tracking: {report.table}"]
    if up is None or not up.changes:
        return "\n".join([*lines, f"nothing to do: {report.note or 'the table is up to date'}"])
    lines.append("upgraded the tracking table:" if report.applied else "upgrading the tracking table would:")
    lines += upgrade_lines(up, fmt)
    lines.append("nothing was re-run" if report.applied else "nothing was changed: run again with --yes to apply")
    return "\n".join(lines)


def render_upgrade_layout(up: LayoutUpgrade, fmt: str = "plain") -> str:
    """db.upgrade-layout; JSON is render/json/upgrade.py's `upgrade_layout`."""
    if not up.moves:
        return (
            f"nothing to do: {up.path} is already in Drizzle 1.0's layout"
            if up.layout == "v1"
            else f"nothing to convert in {up.path}"
        )
    lines = [
        f"migrations: {up.path}",
        "converted to Drizzle 1.0's layout:" if up.applied else "converting to Drizzle 1.0's layout would:",
    ]
    drawn = table(
        ["journal tag", "new folder", "snapshot"],
        [[mv.tag, mv.target + "/", "snapshot.json" if mv.snapshot else "(none)"] for mv in up.moves],
        fmt,
    )
    lines += ["  " + line for line in drawn.splitlines()]
    lines.append(f"  {'deleted' if up.applied else 'delete'} the old .sql files and meta/ ({len(up.removed)} file(s))")
    lines += [f"  left in place (not in the journal, ignored by Drizzle): {o}" for o in up.left_in_place]
    lines += [f"note: {n}" for n in up.notes]
    lines.append(
        "file bytes unchanged, so hashes stay; next: `inv db.migrate --upgrade-tracking` on each database "
        "(or `inv db.upgrade-tracking --yes`)"
        if up.applied
        else "nothing was changed: run again with --yes to convert"
    )
    return "\n".join(lines)
