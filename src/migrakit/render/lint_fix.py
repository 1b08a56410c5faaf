"""`db.lint --fix` as text and JSON (`fix_json`, registered in render/json/lint.py; docs/json.md)."""

from __future__ import annotations

from typing import Any

from migrakit.core.reports.lint import LintFixReport


def render_fix(report: LintFixReport, fmt: str = "plain") -> str:
    """The plan: each migration rewritten, what it becomes and why, the renames it brings, the proof."""
    if not report.fixed:
        return "\n".join(report.notes or ["nothing to fix"])
    lines = [f"db.lint --fix on {report.target}:"]
    for m in report.fixed:
        lines.append(f"{m.tag} -> {', '.join(m.tags)}")
        lines += [f"  {c}" for c in m.changes]
        for tag, body in zip(m.tags, m.bodies, strict=True):
            lines.append(f"  -- {tag}")
            lines += [f"    {line}" for line in body.rstrip().splitlines()]
    if report.renamed:
        lines.append("renumbered after them: " + ", ".join(f"{old} -> {new}" for old, new in report.renamed))
    lines += [f"proved: {p}" for p in report.proof]
    lines += report.notes
    if report.written:
        lines.append(f"wrote {len(report.files)} file(s); next: review them, commit, then `inv db.migrate`")
    else:
        lines.append("nothing was written: run again with --yes to write this plan")
    return "\n".join(lines)


def fix_json(r: LintFixReport) -> dict[str, Any]:
    return {
        "target": r.target,
        "fixed": [{"tag": m.tag, "tags": list(m.tags), "changes": list(m.changes), "migration_sql": list(m.bodies)}
                  for m in r.fixed],
        "renamed": [{"from": old, "to": new} for old, new in r.renamed],
        "proved": list(r.proof),
        "written": r.written,
        "files": list(r.files),
        "notes": list(r.notes),
    }  # fmt: skip
