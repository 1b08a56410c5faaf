"""Every task's `--json` output, built by one set of typed serializers: the contract in docs/json.md.

Every document is one JSON object with `schema_version` (SCHEMA_VERSION), `task`, `ok`, `exit_code`,
`database` (display text, or null), `database_url` (the URL with its password redacted, or null), `changed`,
`problems`, `warnings`, `notes` and `error` (null, or the error object), then the task's own fields. A field
has one type everywhere: lists of migrations are lists of tags (`applied`, `pending`, ...), counts are
separate `*_count` integers, a problem is always a Problem object, a migration always a Migration object.
Nothing here prints; `tasks/_run.py` prints what `document` and `error_document` return.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from migrakit.errors import MigrakitError

SCHEMA_VERSION = 1
EMBEDDED_MARK = " (embedded, data in "  # session.resolve_target's display of the embedded server: "<url> (embedded, …)"

Data = dict[str, Any]


def dumps(data: Data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


# ------------------------------------------------------------------------------------------ shared shapes
def problem(p: Any) -> Data:
    """A planner.Problem: {kind, message, migration, file, fix, blocking}."""
    return {"kind": p.kind, "message": p.message, "migration": p.migration, "file": p.file, "fix": p.fix, "blocking": p.blocking}


def row(r: Any) -> Data:
    """A planner.TrackingRow: {id, hash, created_at, name}."""
    return {"id": r.id, "hash": r.hash, "created_at": r.created_at, "name": r.name}


def migration(m: Any, state: str | None = None, **extra: Any) -> Data:
    """A migration.Migration: {tag, when, hash, file, mode, state} plus the caller's extra fields."""
    return {"tag": m.tag, "when": m.when, "hash": m.hash, "file": m.path, "mode": m.mode, "state": state, **extra}


def statement(number: int, sql: str, line: int | None = None, col: int | None = None) -> Data:
    """A statement: {number, line, col, sql} (line and col null for generated SQL)."""
    return {"number": number, "line": line, "col": col, "sql": sql}


def difference(d: Any) -> Data:
    """A schema.Difference (db.check)."""
    return {
        "object": d.object,
        "category": d.category,
        "kind": d.kind,
        "migrations_produce": d.expected,
        "database_has": d.actual,
        "reconcile_sql": list(d.sql),
    }


def tags(ms: Iterable[Any]) -> list[str]:
    return [m if isinstance(m, str) else m.tag for m in ms]


def check(c: Any) -> Data:
    """An envcheck.Check: {name, ok, found, fix}."""
    return {"name": c.name, "ok": c.ok, "found": c.found, "fix": c.fix}


def error(err: MigrakitError) -> Data:
    """The error object: the same fields for every error of every task."""
    return {
        "kind": err.kind,
        "exit_code": err.exit_code,
        "message": err.message,
        "file": err.file,
        "migration": err.migration,
        "statement": err.statement_no,
        "statement_count": err.statement_count,
        "line": err.line,
        "col": err.col,
        "cause": err.cause,
        "state": err.state,
        "fix": err.fix,
        "details": list(err.details),
    }


def url_of(display: str | None, database_url: str | None) -> str | None:
    """The redacted URL: the configured one, else the embedded server's (the display text before its mark)."""
    from migrakit.db.connect.server import redact_url

    if database_url:
        return redact_url(database_url)
    if display and EMBEDDED_MARK in display:
        return display.split(EMBEDDED_MARK, 1)[0]
    return None


def _envelope(task: str, *, exit_code: int, display: str | None, database_url: str | None) -> Data:
    return {
        "schema_version": SCHEMA_VERSION,
        "task": task,
        "ok": exit_code == 0,
        "exit_code": exit_code,
        "database": display,
        "database_url": url_of(display, database_url) if display or database_url else None,
    }


def document(task: str, result: Any, *, exit_code: int, database_url: str | None = None) -> Data:
    """The whole document for a task's result."""
    body = serialize(result)
    display = body.pop("database", None)
    base = _envelope(task, exit_code=exit_code, display=display, database_url=database_url if display else None)
    doc = {**base, "changed": False, "problems": [], "warnings": [], "notes": [], "error": None}
    doc.update(body)
    return doc


def error_document(task: str, err: MigrakitError, *, database_url: str | None = None) -> Data:
    from migrakit.db.connect.server import redact_url

    display = redact_url(database_url) if database_url else None
    return {**_envelope(task, exit_code=err.exit_code, display=display, database_url=database_url), "error": error(err)}


# ------------------------------------------------------------------------------------------ per report
def status(r: Any) -> Data:
    """runner.StatusReport (db.status)."""
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


def legacy(plan: Any, legacy_dir: str | None = None) -> Data | None:
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


def tracking_upgrade(up: Any) -> Data | None:
    """upgrade.TrackingUpgrade: what db.upgrade-tracking does (null: nothing to do)."""
    if up is None:
        return None
    return {
        "add_columns": up.add_columns,
        "possible": up.possible,
        "rows": [
            {**row(m.row), "name": m.name, "matched_by": m.how, "hash_differs": m.hash_differs} for m in up.matches
        ],
        "unmatched": [row(x) for x in up.unmatched],
    }


def migrate(r: Any) -> Data:
    """runner.MigrateReport (db.migrate, db.migrate-consolidated)."""
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
        "pending": [m.tag for m in plan.pending if m.tag not in ran],  # still pending after this run
        "pending_count": len(plan.pending) - len(ran),
        "planned": [planned(m) for m in plan.pending],  # what was pending when this run started
        "recorded_without_running": list(recorded),
        "tracking_upgraded": done,
        "tracking_upgraded_count": r.tracking_upgraded or 0,
        "duplicate_rows": [{"migration": tag, **row(x)} for tag, x in plan.duplicate_rows],
        "problems": [problem(p) for p in plan.problems if not (done and p.kind == "tracking-upgrade")],
        "warnings": list(r.folder.warnings),
        "to": r.to,
        "held_back": list(r.held_back),
    }


def bootstrap(r: Any) -> Data:
    """runner.BootstrapReport (db.bootstrap)."""
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


def upgrade_tracking(r: Any) -> Data:
    """upgrade.UpgradeTrackingReport (db.upgrade-tracking)."""
    return {
        "database": r.target,
        "tracking_table": r.table,
        "changed": r.applied,
        "upgrade": tracking_upgrade(r.upgrade),
        "notes": [r.note] if r.note else [],
    }


def upgrade_layout(up: Any) -> Data:
    """layout.LayoutUpgrade (db.upgrade-layout)."""
    return {
        "migrations_dir": str(up.path),
        "layout": up.layout,
        "changed": up.applied,
        "folders": [
            {"tag": mv.tag, "when": mv.when, "folder": mv.target, "hash": mv.hash, "snapshot": mv.snapshot is not None}
            for mv in up.moves
        ],
        "left_in_place": list(up.left_in_place),
        "removed": list(up.removed),
        "notes": list(up.notes),
    }


def drift_check(r: Any) -> Data:
    """drift.CheckReport (db.check)."""
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


def baseline(r: Any) -> Data:
    """baseline.BaselineReport (db.baseline)."""
    tracked = r.outcome in ("written", "adopted", "legacy-recorded")
    return {
        "database": r.target,
        "outcome": r.outcome,
        "changed": tracked,
        "tag": r.tag,
        "files": list(r.files),
        "statements": [statement(i, sql) for i, sql in enumerate(r.statements, 1)],
        "statement_count": len(r.statements),
        "destructive": list(r.destructive),
        "tracked": tracked,
        "legacy_files": list(r.legacy),
        "notes": list(r.notes),
    }


def consolidation(r: Any) -> Data:
    """consolidate.ConsolidationReport (db.consolidate)."""
    plan = r.plan
    return {
        "changed": r.written,
        "written": r.written,
        "consolidation": plan.stem,
        "when": plan.when,
        "selection": plan.selection,
        "replaces": tags(plan.replaced),
        "replaces_count": len(plan.replaced),
        "replaced_migrations": [migration(m) for m in plan.replaced],
        "file_changes": {
            "write": [r.shown(plan.sql_path), r.shown(plan.manifest_path)],
            "update": [r.shown(plan.journal_path)],
            "delete": [r.shown(p) for p in plan.delete],
            "snapshot_kept_as": [r.shown(p) for p in plan.snapshot_move] if plan.snapshot_move else [],
        },
        "proof": r.proof,
        "lint": list(r.lint),
        "notes": list(plan.notes),
    }


def branch_count(r: Any) -> Data:
    """branch.BranchCount (db.count-branch-migrations)."""
    b = r.branch
    return {
        "head": b.head,
        "base": b.base,
        "base_from": b.base_source,
        "merge_base": b.merge_base,
        "migrations_dir": b.migrations_dir,
        "added": list(b.tags),
        "added_count": len(b.tags),
        "max": r.max,
    }


def generated(g: Any) -> Data:
    """generate.Generated (db.generate)."""
    return {
        "changed": g.tag is not None,
        "tag": g.tag,
        "files": list(g.files),
        "statements": [statement(i, sql) for i, sql in enumerate(g.statements, 1)],
        "statement_count": len(g.statements),
        "destructive": list(g.destructive),
        "notes": [g.note] if g.note else [],
    }


def retire(p: Any) -> Data:
    """retire.RetirePlan (legacy.retire)."""
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


def env_check(r: Any) -> Data:
    """envcheck.EnvReport (env.check)."""
    database = next((c.found for c in r.checks if c.name == "database reachable" and c.ok), None)
    return {"database": database, "checks": [check(c) for c in r.checks], "notes": list(r.notes)}


def server_status(st: Any) -> Data:
    """db.connect.embedded.ServerStatus (db.server-status): `database_url` is the embedded server's own URL, redacted."""
    from migrakit.db.connect.embedded import PACKAGE
    from migrakit.db.connect.server import redact_url

    return {
        "database_url": redact_url(st.url) if st.url else None,
        "running": st.running,
        "pid": st.pid,
        "data_dir": str(st.data_dir),
        "initialized": st.initialized,
        "data_version": st.data_version,
        "server_version": st.server_version,
        "started_at": st.started_at,
        "package": PACKAGE,
        "package_version": st.package_version,
        "stale_pidfile": st.stale_pidfile,
        "database_url_set": st.database_url_set,
        "notes": [st.note] if st.note else [],
    }


def server_stop(r: Any) -> Data:
    """db.connect.embedded.StopResult (db.server-stop)."""
    return {"changed": r.was_running, "stopped": r.was_running, "pid": r.pid, "data_dir": str(r.data_dir), "seconds": r.seconds}



def fleet(r: Any) -> Data:
    """workflows.fleet.FleetReport (db.migrate / status / check / lint with --targets or --targets-query): one entry per
    target in the targets' order, its URL redacted."""
    from migrakit.db.connect.server import redact_url

    def target(t: Any) -> Data:
        entry: Data = {
            "name": t.target.name,
            "database_url": redact_url(t.target.url),
            "schema": t.target.schema,
            "status": t.status,
            "applied": list(t.applied),
            "applied_count": len(t.applied),
        }
        if r.command == "status":
            entry["pending"] = list(t.pending)
            entry["pending_count"] = len(t.pending)
            entry["problems"] = [problem(p) for p in t.report.plan.problems] if t.report is not None else []
        if r.command == "check":
            entry["pending"] = list(t.pending)
            entry["differences"] = [difference(d) for d in t.report.diff.differences] if t.report is not None else []
            entry["difference_count"] = len(entry["differences"])
            entry["problems"] = [problem(p) for p in t.report.problems] if t.report is not None else []
        if r.command == "lint":
            entry["linted"] = list(t.pending)
            entry["findings"] = _lint().findings(t.report) if t.report is not None else []
            entry["failing_count"] = len(t.report.failing) if t.report is not None else 0
        entry["seconds"] = round(t.seconds, 3)
        entry["error"] = error(t.error) if t.error is not None else None
        return entry

    extra = {"status": ("pending", "drift"), "check": ("no-drift", "drift"), "lint": ("clean", "findings")}.get(r.command, ())
    counts = {s: len(r.of(s)) for s in ("applied", "up-to-date", "failed", "skipped", *extra)}
    return {
        "changed": any(t.applied for t in r.results),
        "targets_from": r.source,
        "target_count": len(r.results),
        "counts": counts,
        "concurrency": r.concurrency,
        "fail_fast": r.fail_fast,
        "canary": r.canary,
        "stopped_because": r.stopped,
        "seconds": round(r.seconds, 3),
        "targets": [target(t) for t in r.results],
    }


def _lint() -> Any:
    from migrakit.render import lint  # when a lint report is serialized: db.status and db.migrate never load it

    return lint


_SERIALIZERS: dict[str, Callable[[Any], Data]] = {
    "FleetReport": fleet,
    "StatusReport": status,
    "MigrateReport": migrate,
    "BootstrapReport": bootstrap,
    "UpgradeTrackingReport": upgrade_tracking,
    "LayoutUpgrade": upgrade_layout,
    "CheckReport": drift_check,
    "BaselineReport": baseline,
    "ConsolidationReport": consolidation,
    "BranchCount": branch_count,
    "Generated": generated,
    "RetirePlan": retire,
    "EnvReport": env_check,
    "ServerStatus": server_status,
    "StopResult": server_stop,
    "LintReport": lambda r: _lint().lint_json(r),
}


def serialize(result: Any) -> Data:
    """The task's own fields for a report (see _SERIALIZERS); a report type without one is a bug."""
    return _SERIALIZERS[type(result).__name__](result)


