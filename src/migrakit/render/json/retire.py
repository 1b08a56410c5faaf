"""legacy.retire as JSON; render/retire.py is its text."""

from __future__ import annotations

from migrakit.core.reports.retire import RetirePlan
from migrakit.render.json.shapes import Data, check, serializes


@serializes(RetirePlan)
def retire(p: RetirePlan) -> Data:
    """core.reports.retire.RetirePlan (legacy.retire)."""
    return {
        "database": p.target,
        "outcome": p.outcome,
        "changed": p.outcome == "retired",
        "legacy_records": [{"file": m.path, "hash": m.hash, "tracking_row": p.recorded.get(m.hash, (None,))[0]} for m in p.legacy],
        "scripts": list(p.scripts),
        "table": p.table,
        "fold": p.fold,
        "build_edits": [{"file": e.file, "where": e.where, "before": e.before, "after": e.after} for e in p.build_edits],
        "still_mentioned_in": list(p.mentions),
        "checks": [check(c) for c in p.checks],
        "record": p.record,
    }
