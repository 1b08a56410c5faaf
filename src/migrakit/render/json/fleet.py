"""A fleet's report (db.migrate / status / check / lint with --targets) as JSON; render/fleet.py is its text."""

from __future__ import annotations

from typing import Any

from migrakit.core.reports.fleet import FleetReport
from migrakit.render.json.shapes import Data, difference, error, problem, serializes


@serializes(FleetReport)
def fleet(r: FleetReport) -> Data:
    """core.reports.fleet.FleetReport (db.migrate / status / check / lint with --targets or --targets-query): one entry per
    target in the targets' order, its URL redacted."""
    def target(t: Any) -> Data:
        entry: Data = {
            "name": t.target.name,
            "database_url": t.shown_url,
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
        if r.command == "rollback":
            entry["rolled_back"] = list(t.undone)
            entry["rolled_back_count"] = len(t.undone)
        if r.command == "lint":
            entry["linted"] = list(t.pending)
            entry["findings"] = findings(t.report) if t.report is not None else []
            entry["failing_count"] = len(t.report.failing) if t.report is not None else 0
        entry["seconds"] = round(t.seconds, 3)
        entry["error"] = error(t.error) if t.error is not None else None
        return entry

    extra = {"status": ("pending", "drift"), "check": ("no-drift", "drift"), "lint": ("clean", "findings"),
             "rollback": ("rolled-back",)}.get(r.command, ())
    counts = {s: len(r.of(s)) for s in ("applied", "up-to-date", "failed", "interrupted", "skipped", *extra)}
    return {
        "changed": any(t.applied or t.undone for t in r.results),
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


def findings(report: Any) -> list[dict[str, Any]]:
    from migrakit.render.lint import findings  # only when a lint report is serialized: db.status never loads it

    return findings(report)
