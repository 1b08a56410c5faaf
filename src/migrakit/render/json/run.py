"""db.status, db.migrate (and db.migrate-consolidated), db.bootstrap as JSON; render/run.py is their text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from migrakit.core.reports.run import BootstrapReport, MigrateReport, StatusReport
from migrakit.render.json.shapes import Data, migration, problem, row, serializes, statement, tags, tracking_upgrade

if TYPE_CHECKING:
    from migrakit.core.plan.planner import Plan


@serializes(StatusReport)
def status(r: StatusReport) -> Data:
    """core.reports.run.StatusReport (db.status)."""
    plan = r.plan
    drizzle = set(plan.drizzle_pending)
    return {
        "database": r.target,
        "connection": {
            "pooler": r.connection.present,
            "transaction_pooling": r.connection.transaction,
            "name": r.connection.name,
            "evidence": r.connection.evidence,
            "meaning": r.connection.describe(),
        },
        "migrations_dir": str(r.folder.path),
        "layout": r.folder.layout,
        "tracking_table": r.table,
        "tracking_table_exists": r.table_exists,
        "migrations": [
            migration(m, plan.state_of(m), drizzle_would_apply=m.tag in drizzle) for m in plan.migrations
        ],
        "applied": [m.tag for m, _ in plan.applied],
        "applied_count": len(plan.applied),
        "pending": tags(plan.pending),
        "pending_count": len(plan.pending),
        "state_counts": [{"state": state, "count": n} for state, n in plan.state_counts().items()],
        "recorded_without_running": tags(plan.recorded_without_running),
        "consolidations": [{"tag": m.tag, "replaces": [x.tag for x in m.replaces]} for m in plan.recorded_without_running],
        "unknown_rows": [row(x) for x in plan.unknown_rows],
        "duplicate_rows": [{"migration": tag, **row(x)} for tag, x in plan.duplicate_rows],
        "files_not_in_journal": list(r.folder.orphans),
        "problems": [problem(p) for p in plan.problems],
        "warnings": list(r.folder.warnings),
        "tracking_upgrade": tracking_upgrade(plan.tracking_upgrade),
        "legacy": legacy(r.legacy),
    }


def legacy(plan: Plan | None, legacy_dir: str | None = None) -> Data | None:
    """The legacy folder's plan (db.status, db.bootstrap): {legacy_dir, migrations, applied, pending, problems}."""
    if plan is None:
        return None
    return {
        "legacy_dir": legacy_dir,
        "migrations": [migration(m, plan.state_of(m)) for m in plan.migrations],
        "applied": [m.tag for m, _ in plan.applied],
        "pending": tags(plan.pending),
        "problems": [problem(p) for p in plan.problems if p.kind != "unknown-row"],
    }


@serializes(MigrateReport)
def migrate(r: MigrateReport) -> Data:
    """core.reports.run.MigrateReport (db.migrate, db.migrate-consolidated)."""
    plan = r.plan
    recorded = r.recorded if not r.dry_run else tags(plan.recorded_without_running)

    def planned(m: Any) -> Data:
        stmts = m.statements
        extra: Data = {"statement_count": len(stmts)}
        if r.dry_run:
            extra["statements"] = [statement(i, s.text, s.line, s.col) for i, s in enumerate(stmts, 1)]
        return migration(m, plan.state_of(m), **extra)

    done = r.tracking_upgraded is not None
    ran = set(r.applied)
    return {
        "database": r.target,
        "dry_run": r.dry_run,
        "changed": bool(r.applied or (r.recorded and not r.dry_run) or done),
        "applied": list(r.applied),
        "applied_count": len(r.applied),
        "already_applied": [m.tag for m, _ in plan.applied],
        "already_applied_count": len(plan.applied),
        "pending": [*(m.tag for m in plan.pending if m.tag not in ran), *r.held_back],  # still pending after it
        "pending_count": len(plan.pending) - len(ran) + len(r.held_back),
        "planned": [planned(m) for m in plan.pending],  # what was pending when this run started
        "notes": [
            f"{m.tag}: {m.no_statement}: {'would be ' if r.dry_run else ''}recorded as applied without running "
            "anything, as Drizzle does"
            for m in plan.pending
            if m.no_statement
        ],
        "recorded_without_running": list(recorded),
        "tracking_upgraded": done,
        "tracking_upgraded_count": r.tracking_upgraded or 0,
        "duplicate_rows": [{"migration": tag, **row(x)} for tag, x in plan.duplicate_rows],
        "problems": [problem(p) for p in plan.problems if not (done and p.kind == "tracking-upgrade")],
        "warnings": list(r.folder.warnings),
        "to": r.to,
        "held_back": list(r.held_back),
    }


@serializes(BootstrapReport)
def bootstrap(r: BootstrapReport) -> Data:
    """core.reports.run.BootstrapReport (db.bootstrap)."""
    data = legacy(r.plan, r.legacy_dir) or {}
    return {
        "database": r.target,
        "dry_run": r.dry_run,
        "changed": bool(r.applied),
        **data,
        "already_applied": data.get("applied", []),
        "already_applied_count": len(data.get("applied", [])),
        "applied": list(r.applied),
        "applied_count": len(r.applied),
        "recorded": list(r.recorded),
        "to_run": list(r.to_run),
        "to_adopt": list(r.adopt),
        "left_pending": list(r.left),
        "pending_count": len(data.get("pending", [])),
    }
