"""db.rollback and db.generate-down as JSON; render/rollback.py is their text."""

from __future__ import annotations

from typing import Any

from migrakit.core.rollback import DownResult, DownsReport, RollbackReport
from migrakit.render.json.shapes import Data, migration, row, serializes, statement


@serializes(RollbackReport)
def rollback_json(r: RollbackReport) -> Data:
    """core.rollback.RollbackReport (db.rollback): docs/json.md, "db.rollback"."""

    def step(s: Any) -> Data:
        stmts = s.down.statements
        return migration(
            s.migration,
            "rolled-back" if s.migration.tag in r.undone else "applied",
            row=row(s.row),
            down_file=s.down.path,
            statement_count=len(stmts),
            statements=[statement(i, st.text, st.line, st.col) for i, st in enumerate(stmts, 1)],
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


@serializes(DownsReport)
def downs_json(r: DownsReport) -> Data:
    """core.rollback.DownsReport (db.generate-down): docs/json.md, "db.generate-down"."""

    def one(d: DownResult) -> Data:
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
