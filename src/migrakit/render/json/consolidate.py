"""db.consolidate and db.count-branch-migrations as JSON; render/consolidate.py is their text."""

from __future__ import annotations

from migrakit.core.reports.write import BranchCount, ConsolidationReport
from migrakit.render.json.shapes import Data, migration, serializes, tags


@serializes(ConsolidationReport)
def consolidation(r: ConsolidationReport) -> Data:
    """core.reports.write.ConsolidationReport (db.consolidate)."""
    plan = r.plan
    return {
        "changed": r.written,
        "written": r.written,
        "consolidation": plan.stem,
        "when": plan.when,
        "selection": plan.selection,
        "replaces": tags(plan.replaced),
        "replaces_count": len(plan.replaced),
        "replaced_migrations": [migration(m) for m in plan.replaced],
        "file_changes": {
            "write": [r.shown(plan.sql_path), r.shown(plan.manifest_path)],
            "update": [r.shown(plan.journal_path)],
            "delete": [r.shown(p) for p in plan.delete],
            "snapshot_kept_as": [r.shown(p) for p in plan.snapshot_move] if plan.snapshot_move else [],
        },
        "proof": r.proof,
        "lint": list(r.lint),
        "notes": list(plan.notes),
    }


@serializes(BranchCount)
def branch_count(r: BranchCount) -> Data:
    """core.reports.write.BranchCount (db.count-branch-migrations)."""
    b = r.branch
    return {
        "head": b.head,
        "base": b.base,
        "base_from": b.base_source,
        "merge_base": b.merge_base,
        "migrations_dir": b.migrations_dir,
        "added": list(b.tags),
        "added_count": len(b.tags),
        "max": r.max,
    }
