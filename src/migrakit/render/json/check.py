"""db.check as JSON; render/check.py is its text."""

from __future__ import annotations

from migrakit.core.reports.check import CheckReport
from migrakit.render.json.shapes import Data, difference, problem, serializes, tags


@serializes(CheckReport)
def drift_check(r: CheckReport) -> Data:
    """core.reports.check.CheckReport (db.check)."""
    return {
        "database": r.target,
        "drift": not r.diff.equal,
        "shadow_server": r.shadow,
        "differences": [difference(d) for d in r.diff.differences],
        "difference_count": len(r.diff.differences),
        "reconcile_sql": list(r.diff.statements),
        "pending": tags(r.plan.pending),
        "pending_count": len(r.plan.pending),
        "problems": [problem(p) for p in r.problems],
        "legacy_files": list(r.legacy_files),
        "legacy_unrecorded": list(r.legacy_unrecorded),
        "made_by": r.made_by,
        "legacy_files_ran_here": [p.migration.tag for p in r.legacy_proofs if p.verdict == "present"],
        "legacy_files_never_ran": [p.migration.tag for p in r.legacy_proofs if p.verdict == "absent"],
        "legacy_files_undecided": [
            {"tag": p.migration.tag, "verdict": p.verdict, "differences": p.differing_lines()}
            for p in r.legacy_proofs if p.verdict not in ("present", "absent")
        ],
        "next_step": r.next_step,
        "notes": list(r.notes),
    }
