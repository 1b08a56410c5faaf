"""db.rollback's and db.generate-down's output: their JSON fields (registered in render/json.py's serializers),
their text, db.rollback's progress."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from migrakit.core.rollback import DownResult, DownsReport, RollbackReport, Undoing, Undone
from migrakit.render import json as as_json
from migrakit.render.text import fold


def rollback_json(r: RollbackReport) -> as_json.Data:
    """core.rollback.RollbackReport (db.rollback): docs/json.md, "db.rollback"."""

    def step(s: Any) -> as_json.Data:
        stmts = s.down.statements
        return as_json.migration(
            s.migration,
            "rolled-back" if s.migration.tag in r.undone else "applied",
            row=as_json.row(s.row),
            down_file=s.down.path,
            statement_count=len(stmts),
            statements=[as_json.statement(i, st.text, st.line, st.col) for i, st in enumerate(stmts, 1)],
            data_loss=[
                {"statement": x.number, "line": x.line, "col": x.col, "what": x.what, "table": x.table,
                 "rows_at_risk": r.rows_at_risk.get(x.table, 0)}
                for x in s.losses
            ],  # fmt: skip
        )

    return {
        "database": r.target,
        "dry_run": r.dry_run,
        "confirmed": r.yes,
        "single_transaction": r.single_transaction,
        "changed": bool(r.undone),
        "planned": [step(s) for s in r.steps],  # newest first: the order they are undone in
        "rolled_back": list(r.undone),
        "rolled_back_count": len(r.undone),
        "still_applied": list(r.remaining),
        "still_applied_count": len(r.remaining),
        "rows_at_risk_by_table": dict(r.rows_at_risk),
    }


# render/json.py's registry is keyed by report class name; this module adds its own entry (json.py stays at its
# size cap until stage 2 of issue 22 gives the registry a home), and every caller of db.rollback imports it.
as_json._SERIALIZERS["RollbackReport"] = rollback_json


def downs_json(r: DownsReport) -> as_json.Data:
    """core.rollback.DownsReport (db.generate-down): docs/json.md, "db.generate-down"."""

    def one(d: DownResult) -> as_json.Data:
        return {
            "tag": d.migration.tag,
            "file": r.written.get(d.migration.tag),
            "proven": d.proven,
            "down_sql": list(d.statements),
            "cannot_restore": list(d.cannot_restore),
            "schema_difference": list(d.difference),
        }

    return {
        "changed": bool(r.written),
        "downs": [one(d) for d in r.results],
        "written_files": list(r.written.values()),
        "written_count": len(r.written),
        "unproven": [d.migration.tag for d in r.results if not d.proven],
        "skipped": list(r.skipped),
    }


as_json._SERIALIZERS["DownsReport"] = downs_json


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
        if text is not None:
            print(text, file=self.stream, flush=True)
