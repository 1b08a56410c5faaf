"""db.generate as JSON; render/generate.py is its text."""

from __future__ import annotations

from migrakit.core.reports.write import Generated
from migrakit.render.json.shapes import Data, serializes, statement


@serializes(Generated)
def generated(g: Generated) -> Data:
    """core.reports.write.Generated (db.generate)."""
    return {
        "changed": g.tag is not None,
        "tag": g.tag,
        "files": list(g.files),
        "statements": [statement(i, sql) for i, sql in enumerate(g.statements, 1)],
        "statement_count": len(g.statements),
        "destructive": list(g.destructive),
        "notes": [g.note] if g.note else [],
        "tags": list(g.tags),
        "fixes": list(g.fixes),
        "lint": list(g.lint),
    }
