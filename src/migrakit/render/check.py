"""db.check as text: each difference with the file that makes it, the reconciling SQL, the tracking table's
problems and the fix (its JSON: render/json/check.py's `drift_check`)."""

from __future__ import annotations

from migrakit.core.differences import difference_lines
from migrakit.core.plan.planner import DUPLICATE_ROWS
from migrakit.core.reports.check import CheckReport
from migrakit.render.json import check as _json  # noqa: F401  (registers this command's JSON serializers)


def render_check(report: CheckReport, fmt: str = "plain") -> str:
    """Text; JSON is render/json/check.py's `drift_check`."""
    counted = f"{len(report.plan.migrations)} migration(s)" + (
        f" and {len(report.legacy_files)} legacy file(s)" if report.legacy_files else ""
    )
    lines = [
        f"database: {report.target}",
        f"expected: {counted} applied to a shadow database on {report.shadow}",
    ]
    diff = report.diff
    if diff.equal:
        lines.append("schema:   no drift: the database schema is exactly what the migrations produce")
    else:
        lines.append(f"schema:   DRIFT: {len(diff.differences) or len(diff.statements)} difference(s)")
        for d in diff.differences:
            rendered = difference_lines(d)
            lines += ["  " + rendered[0]]
            if d.object in report.made_by:
                lines.append(f"    made by: {report.made_by[d.object]}")
            lines += ["  " + line for line in rendered[1:]]
        lines.append("to make the database match the migrations, this would run (review it; migrakit never runs it):")
        lines += ["  " + s.replace("\n", "\n  ") for s in diff.statements]
    for p in report.problems:
        lines.append(f"{'problem' if p.blocking or p.kind == DUPLICATE_ROWS else 'warning'}: {p.message}")
        if p.fix:
            lines.append(f"  fix: {p.fix}")
    lines += [f"note: {n}" for n in report.notes]
    if report.next_step:
        lines.append(f"fix: `{report.next_step}`, then `inv db.check` again")
    elif report.drifted:
        lines.append(
            "fix: put the change into a migration (`inv db.generate`), or undo the manual change on the database; "
            "objects the database has and no migration produces can be adopted with `inv db.baseline`"
        )
    return "\n".join(lines)
