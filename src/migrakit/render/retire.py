"""legacy.retire as text: the plan (or what was done), its checks and the next step (its JSON: render/json/retire.py's
`retire`). The record written to docs/legacy-migration-retirement.md is part of the workflow's work, not output:
workflows/retire/plan.py builds it."""

from __future__ import annotations

from migrakit.core.reports.check import check_lines
from migrakit.core.reports.retire import NOTHING, RETIRED, RetirePlan
from migrakit.render.json import retire as _json  # noqa: F401  (registers this command's JSON serializers)


def render_retire(plan: RetirePlan, fmt: str = "plain") -> str:
    """Text; JSON is render/json/retire.py's `retire`."""
    lines = [f"database: {plan.target}"]
    if plan.outcome == NOTHING:
        lines.append("nothing left to retire: no legacy files, no legacy scripts, no legacy tracking table")
        return "\n".join(lines)
    verb = "removed" if plan.outcome == RETIRED else "will remove"
    if plan.legacy:
        lines.append(f"{'folded' if plan.outcome == RETIRED else 'will fold'} {len(plan.legacy)} legacy file(s) "
                     f"into {plan.fold} (Mode 2; databases that ran them only record it)")  # fmt: skip
    for m in plan.legacy:
        lines.append(f"  {verb} (git rm) {m.path}  sha256 {m.hash[:16]}")
    for s in plan.scripts:
        lines.append(f"  {verb} (git rm) {s}")
    if plan.table:
        lines.append(
            f"{'dropped' if plan.outcome == RETIRED else 'will drop'} table {plan.table} ({plan.table_rows} row(s))"
        )
    for e in plan.build_edits:
        lines.append(
            f"{'switched' if plan.outcome == RETIRED else 'will switch'} {e.file} {e.where}: "
            f"{e.before!r} -> {e.after!r}"
        )
    if not plan.build_edits:
        lines.append("build command: no package.json script or [tool.migrakit.app] command calls a legacy script")
    lines += [f"still names a legacy script (edit it before committing): {m}" for m in plan.mentions]
    lines.append("checks:")
    lines += [f"  {line}" for line in check_lines(plan.checks)]
    if plan.outcome == RETIRED:
        lines.append(f"wrote {plan.record}; the change is staged, not committed: review `git diff --cached`, then")
        lines.append("  git commit -m 'Retire the legacy migration system'")
    else:
        lines.append(f"nothing was changed: run again with --yes to retire (and write {plan.record})")
    return "\n".join(lines)
