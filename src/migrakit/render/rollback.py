"""db.rollback's and db.generate-down's text, and db.rollback's progress; render/json/rollback.py is their JSON."""

from __future__ import annotations

import sys
from typing import TextIO

from migrakit.core.rollback import DownResult, DownsReport, RollbackReport, Undoing, Undone
from migrakit.render.json.rollback import rollback_json  # (its module registers both serializers)
from migrakit.render.text import fold


def render_downs(report: DownsReport, fmt: str = "plain") -> str:
    lines = []
    for d in report.results:
        lines.append(down_line(d, report.written.get(d.migration.tag)))
        lines += [f"  cannot restore: {n}" for n in d.cannot_restore]
        lines += [f"  {line}" for line in d.difference]
    if report.skipped:
        kept = fold(report.skipped)
        lines.append(f"kept {len(report.skipped)} existing down file(s) (--force rewrites them): {kept}")
    if not report.results and not report.skipped:
        lines.append("nothing to write")
    return "\n".join(lines)


def down_line(d: DownResult, written: str | None) -> str:
    """One migration's outcome, as db.generate-down prints it (also as progress)."""
    if d.proven:
        return f"{d.migration.tag}: wrote {written} ({len(d.statements)} statement(s), proven on a shadow)" if written \
            else f"{d.migration.tag}: proven on a shadow ({len(d.statements)} statement(s))"
    return (
        f"{d.migration.tag}: NOT written: on a shadow, {d.migration.tag} then the computed down does not give the "
        "schema before it (first: the schema before; second: after the down)"
    )


def render_rollback(report: RollbackReport, fmt: str = "plain") -> str:
    data = rollback_json(report)
    lines = [f"database: {data['database']}"]
    if not report.steps:
        lines.append("nothing to roll back")
        return "\n".join(lines)
    if not report.undone:
        for s in data["planned"]:
            lines.append(f"-- {s['tag']} (row {s['row']['id']}) would be undone by {s['down_file']}:")
            for st in s["statements"]:
                lines.append(f"-- [{st['number']}] line {st['line']}")
                lines.append(st["sql"].rstrip().rstrip(";") + ";")
            for x in s["data_loss"]:
                rows = f"about {x['rows_at_risk']} row(s)" if x["rows_at_risk"] else "no rows now"
                lines.append(f"-- data loss: {x['what']} on {x['table']} ({rows}), line {x['line']}")
        at_risk = {t: n for t, n in report.rows_at_risk.items() if n > 0}
        if at_risk:
            lines.append(
                "rows at risk (the target's estimates): " + ", ".join(f"{t} ~{n}" for t, n in sorted(at_risk.items()))
                + "; --yes needs --allow-data-loss"
            )
        if report.dry_run:
            lines.append("dry run: nothing was changed")
        else:
            tags = [s["tag"] for s in data["planned"]]
            lines.append(f"would roll back {len(tags)} migration(s), newest first: {fold(tags)}")
            lines.append("nothing was changed: run again with --yes to roll back")
        return "\n".join(lines)
    lines.append(f"rolled back {data['rolled_back_count']} migration(s), newest first: {fold(data['rolled_back'])}")
    lines.append(
        f"still applied: {data['still_applied_count']}"
        + (f" (newest {data['still_applied'][-1]})" if data["still_applied"] else "")
    )
    lines.append("next: `inv db.migrate` applies them again (so does Drizzle's migrator)")
    return "\n".join(lines)


class RollbackProgress:
    """db.rollback's events on stderr, one line each; nothing for JSON output."""

    def __init__(self, fmt: str, stream: TextIO | None = None) -> None:
        self.fmt = fmt
        self.stream = stream or sys.stderr

    def __call__(self, event: object) -> None:
        from migrakit.core import events as ev

        if self.fmt == "json":
            return
        text = None
        match event:
            case ev.LockWait(holder=holder):
                text = "waiting for the migration lock" + (f" (held by pid {holder[0]})" if holder else "") + " ..."
            case ev.LockAcquired():
                text = "got the migration lock; re-reading the tracking table"
            case Undoing(migration=m, statements=n):
                text = f"rolling back {m.tag} ({n} statement(s)) ..."
            case Undone(migration=m):
                text = f"rolled back {m.tag}"
            case ev.LockRetry(migration=tag, attempt=attempt, retries=retries):
                text = f"{tag}: lock_timeout hit in its down, retry {attempt} of {retries} (watching who blocks it)"
        if text is not None:
            print(text, file=self.stream, flush=True)
