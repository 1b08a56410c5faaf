"""db.baseline as JSON; render/baseline.py is its text."""

from __future__ import annotations

from migrakit.core.reports.write import BaselineReport
from migrakit.render.json.shapes import Data, serializes, statement


@serializes(BaselineReport)
def baseline(r: BaselineReport) -> Data:
    """core.reports.write.BaselineReport (db.baseline)."""
    tracked = r.outcome in ("written", "adopted", "legacy-recorded")
    return {
        "database": r.target,
        "outcome": r.outcome,
        "changed": tracked,
        "tag": r.tag,
        "files": list(r.files),
        "statements": [statement(i, sql) for i, sql in enumerate(r.statements, 1)],
        "statement_count": len(r.statements),
        "destructive": list(r.destructive),
        "tracked": tracked,
        "legacy_files": list(r.legacy),
        "notes": list(r.notes),
        "tags": list(r.tags),
        "fixes": list(r.fixes),
        "lint": list(r.lint),
    }
