"""Consolidation as text: db.count-branch-migrations (how many the branch added) and db.consolidate (the plan,
and what was written)."""

from __future__ import annotations

from migrakit.core.reports.write import BranchCount, ConsolidationReport
from migrakit.render.json import consolidate as as_json
from migrakit.render.text import group_notes, subjects, table


def render_consolidation(report: ConsolidationReport, fmt: str = "plain") -> str:
    """db.consolidate: the plan, and what was written; JSON is render/json/consolidate.py's `consolidation`."""
    plan = report.plan
    data = as_json.consolidation(report)
    lines = [
        f"consolidation {plan.stem} (Mode 2, when {plan.when}) of {len(plan.replaced)} migration(s): {plan.selection}",
        table(["tag", "when", "hash"], [[m.tag, str(m.when), m.hash[:12]] for m in plan.replaced], fmt),
        ("wrote" if report.written else "would write")
        + f": {data['file_changes']['write'][0]}, {data['file_changes']['write'][1]}",
        ("updated" if report.written else "would update")
        + f": {data['file_changes']['update'][0]} (the entries above removed)",
        ("deleted" if report.written else "would delete") + f": the {len(plan.replaced)} .sql file(s) above"
        + (
            f" and {len(snaps)} snapshot(s) ({snaps[0]} .. {snaps[-1]})"
            if (snaps := [p.name for p in plan.delete if p.suffix == ".json"])
            else ""
        ),
    ]
    lines += [f"note: {n}" for n in group_notes(plan.notes, subjects(plan.replaced))]
    if report.proof:
        lines.append(f"proof: {report.proof}")
    lines += [f"lint: {line}" for line in report.lint]
    lines.append(
        "done: commit the files; `inv db.migrate` records the consolidation on databases that ran the originals"
        if report.written
        else "nothing was changed: run again with --yes to prove equivalence on two shadow databases "
        "and write the files"
    )
    return "\n".join(lines)


def render_branch_count(report: BranchCount, fmt: str = "plain") -> str:
    """db.count-branch-migrations; JSON is render/json/consolidate.py's `branch_count`."""
    b = report.branch
    lines = [f"{b.head}: {len(b.tags)} new Mode 1 migration(s) in {b.migrations_dir}/ since it left {b.base} "
             f"(merge base {b.merge_base[:7]}; base from {b.base_source})"]
    lines += [f"  {t}" for t in b.tags]
    if not report.ok:
        lines.append(
            f"error: more than --max {report.max}: consolidate them into one Mode 2 file before merging: "
            "`inv db.consolidate` shows the plan, `inv db.consolidate --yes` proves and writes it"
        )
    return "\n".join(lines)
