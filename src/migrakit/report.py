"""Render reports and errors as rich tables, plain text or JSON. The only module that formats output.

`fmt` is "rich" (a TTY without NO_COLOR), "plain" (CI, pipes, NO_COLOR) or "json". rich is imported only
when a table is actually drawn.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Sequence, TextIO

from .errors import MigrakitError
from .planner import Plan
from .runner import MigrateReport, StatusReport


def choose_format(json_output: bool = False, stream: TextIO | None = None) -> str:
    if json_output:
        return "json"
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR") or not stream.isatty():
        return "plain"
    return "rich"


# ----------------------------------------------------------------------------------------- errors
def render_error(err: MigrakitError, fmt: str = "plain") -> str:
    if fmt == "json":
        return json.dumps({"ok": False, "error": err.as_dict()}, indent=2)
    where = err.file or ""
    if err.file and err.line:
        where += f":{err.line}:{err.col}"
    lines = [f"error: {err.message}"]
    for label, value in (
        ("file", where),
        ("migration", err.migration if err.migration and err.migration not in err.message else None),
        ("cause", err.cause),
        ("state", err.state),
    ):
        if value:
            lines.append(f"  {label + ':':<7}{' ' if len(label) < 7 else ' '}{value}")
    lines.extend(f"  {d}" for d in err.details)
    if err.fix:
        lines.append(f"  fix:    {err.fix}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- status
def _rows(plan: Plan) -> list[dict[str, Any]]:
    drizzle = set(plan.drizzle_pending)
    out = []
    for m in plan.migrations:
        state = plan.state_of(m)
        out.append(
            {
                "tag": m.tag,
                "when": m.when,
                "state": state,
                "hash": m.hash,
                "file": m.path,
                "mode": m.mode,
                "drizzle_would_apply": m.tag in drizzle,
            }
        )
    return out


def status_data(report: StatusReport) -> dict[str, Any]:
    plan = report.plan
    return {
        "ok": not plan.blocking,
        "database": report.target,
        "migrations_dir": str(report.folder.path),
        "layout": report.folder.layout,
        "tracking_table": report.table,
        "tracking_table_exists": report.table_exists,
        "migrations": _rows(plan),
        "applied": len(plan.applied),
        "pending": [m.tag for m in plan.pending],
        "unknown_rows": [
            {"id": r.id, "hash": r.hash, "created_at": r.created_at, "name": r.name} for r in plan.unknown_rows
        ],
        "files_not_in_journal": list(report.folder.orphans),
        "problems": [
            {"kind": p.kind, "message": p.message, "migration": p.migration, "fix": p.fix, "blocking": p.blocking}
            for p in plan.problems
        ],
        "warnings": list(report.folder.warnings),
        "tracking_upgrade": tracking_upgrade_data(plan.tracking_upgrade),
        "recorded_without_running": [_recorded_data(m) for m in plan.recorded_without_running],
        "legacy": _legacy_data(report.legacy),
    }


def render_status(report: StatusReport, fmt: str = "plain") -> str:
    data = status_data(report)
    plan = report.plan
    if fmt == "json":
        return json.dumps(data, indent=2)
    head = [
        f"database:   {data['database']}",
        f"migrations: {data['migrations_dir']} ({data['layout']} layout)",
        f"tracking:   {data['tracking_table']}" + ("" if data["tracking_table_exists"] else " (not created yet)"),
    ]
    table = _table(
        ["tag", "when", "state", "hash", "drizzle"],
        [
            [r["tag"], str(r["when"]), r["state"], r["hash"][:12],
             "would apply" if r["drizzle_would_apply"] else ("never (Mode 2)" if r["mode"] != "standard" else "")]
            for r in data["migrations"]
        ],
        fmt,
    )
    tail = [f"{data['applied']} applied, {len(data['pending'])} pending"]
    tail += [f"file not in the journal (ignored, as Drizzle does): {o}" for o in data["files_not_in_journal"]]
    tail += [f"{'problem' if p['blocking'] else 'warning'}: {p['message']}\n  fix: {p['fix']}" for p in data["problems"]]
    tail += [f"note: {w}" for w in data["warnings"] if "not in the journal" not in w]
    tail += [f"note: {r['reason']}" for r in data["recorded_without_running"]]
    tail += _legacy_lines(data["legacy"])
    if plan.tracking_upgrade is not None and plan.tracking_upgrade.changes:
        tail += ["tracking table upgrade (`inv db.upgrade-tracking --yes`) would:", *_upgrade_lines(plan.tracking_upgrade, fmt)]
    return "\n".join([*head, table, *tail])


# -------------------------------------------------------------------------- Drizzle 1.0 upgrades
def tracking_upgrade_data(up: Any) -> dict[str, Any] | None:
    """An upgrade.TrackingUpgrade as data (None stays None)."""
    if up is None:
        return None
    return {
        "add_columns": up.add_columns,
        "possible": up.possible,
        "rows": [
            {"id": m.row.id, "hash": m.row.hash, "created_at": m.row.created_at, "name": m.name, "matched_by": m.how,
             "hash_differs": m.hash_differs}
            for m in up.matches
        ],
        "unmatched": [{"id": r.id, "hash": r.hash, "created_at": r.created_at} for r in up.unmatched],
    }


def _upgrade_lines(up: Any, fmt: str) -> list[str]:
    lines = ["  add columns name (text) and applied_at (timestamptz DEFAULT now()) if missing"] if up.add_columns else []
    if up.matches:
        lines.append(f"  name {len(up.matches)} row(s)" + (" (applied_at NULL: the time is unknown):" if up.add_columns else ":"))
        table = _table(
            ["id", "created_at", "name", "matched by"],
            [
                [str(m.row.id), str(m.row.created_at), m.name, m.how + (" (file edited since: hash differs)" if m.hash_differs else "")]
                for m in up.matches
            ],
            fmt,
        )
        lines += ["    " + line for line in table.splitlines()]
    lines += [f"  row id {r.id} (hash {r.hash[:12]}, created_at {r.created_at}) matches no folder" for r in up.unmatched]
    return lines


def render_upgrade_tracking(report: Any, fmt: str = "plain") -> str:
    """An upgrade.UpgradeTrackingReport."""
    up = report.upgrade
    if fmt == "json":
        return json.dumps(
            {"ok": report.done, "database": report.target, "tracking_table": report.table, "applied": report.applied,
             "note": report.note or None, "upgrade": tracking_upgrade_data(up)},
            indent=2,
        )
    lines = [f"database: {report.target}", f"tracking: {report.table}"]
    if up is None or not up.changes:
        return "\n".join([*lines, f"nothing to do: {report.note or 'the table is up to date'}"])
    lines.append("upgraded the tracking table:" if report.applied else "upgrading the tracking table would:")
    lines += _upgrade_lines(up, fmt)
    lines.append("nothing was re-run" if report.applied else "nothing was changed: run again with --yes to apply")
    return "\n".join(lines)


def render_upgrade_layout(up: Any, fmt: str = "plain") -> str:
    """A layout.LayoutUpgrade."""
    data = {
        "ok": up.done,
        "migrations_dir": str(up.path),
        "layout": up.layout,
        "applied": up.applied,
        "folders": [
            {"tag": mv.tag, "when": mv.when, "folder": mv.target, "hash": mv.hash, "snapshot": mv.snapshot is not None}
            for mv in up.moves
        ],
        "left_in_place": list(up.left_in_place),
        "removed": list(up.removed),
        "notes": list(up.notes),
    }
    if fmt == "json":
        return json.dumps(data, indent=2)
    if not up.moves:
        return f"nothing to do: {up.path} is already in Drizzle 1.0's layout" if up.layout == "v1" else f"nothing to convert in {up.path}"
    lines = [f"migrations: {up.path}", "converted to Drizzle 1.0's layout:" if up.applied else "converting to Drizzle 1.0's layout would:"]
    table = _table(
        ["journal tag", "new folder", "snapshot"],
        [[mv.tag, mv.target + "/", "snapshot.json" if mv.snapshot else "(none)"] for mv in up.moves],
        fmt,
    )
    lines += ["  " + line for line in table.splitlines()]
    lines.append(f"  {'deleted' if up.applied else 'delete'} the old .sql files and meta/ ({len(up.removed)} file(s))")
    lines += [f"  left in place (not in the journal, ignored by Drizzle): {o}" for o in up.left_in_place]
    lines += [f"note: {n}" for n in up.notes]
    lines.append(
        "file bytes unchanged, so hashes stay; next: `inv db.migrate --upgrade-tracking` on each database "
        "(or `inv db.upgrade-tracking --yes`)"
        if up.applied
        else "nothing was changed: run again with --yes to convert"
    )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- migrate
def migrate_data(report: MigrateReport) -> dict[str, Any]:
    plan = report.plan
    pending = [
        {
            "tag": m.tag,
            "when": m.when,
            "hash": m.hash,
            "file": m.path,
            "statements": [{"line": s.line, "col": s.col, "sql": s.text} for s in m.statements]
            if report.dry_run
            else len(m.statements),
        }
        for m in plan.pending
    ]
    return {
        "ok": True,
        "database": report.target,
        "dry_run": report.dry_run,
        "pending": pending,
        "applied": report.applied,
        "already_applied": len(plan.applied),
        "tracking_upgraded": report.tracking_upgraded,
        "recorded_without_running": report.recorded
        if not report.dry_run
        else [m.tag for m in plan.recorded_without_running],
        "problems": [{"kind": p.kind, "message": p.message, "fix": p.fix, "blocking": p.blocking} for p in plan.problems],
        "warnings": list(report.folder.warnings),
    }


def render_migrate(report: MigrateReport, fmt: str = "plain") -> str:
    data = migrate_data(report)
    if fmt == "json":
        return json.dumps(data, indent=2)
    lines = [f"database: {data['database']}"]
    if data["tracking_upgraded"] is not None:
        lines.append(f"upgraded the tracking table to Drizzle 1.0's columns ({data['tracking_upgraded']} row(s) named)")
    if report.dry_run:
        if not data["pending"]:
            lines.append("dry run: nothing to apply")
        for m in data["pending"]:
            lines.append(f"-- {m['tag']} ({m['file']}, {len(m['statements'])} statement(s)) would apply:")
            for i, s in enumerate(m["statements"], 1):
                lines.append(f"-- [{i}] line {s['line']}")
                lines.append(s["sql"].rstrip() + ";")
        lines.append("dry run: nothing was changed")
    elif data["applied"]:
        lines.append(f"applied {len(data['applied'])} migration(s): {', '.join(data['applied'])}")
    else:
        lines.append(f"nothing to apply ({data['already_applied']} already applied)")
    if data["recorded_without_running"]:
        lines.append(
            ("would record" if report.dry_run else "recorded")
            + f" without running (every migration it replaces already ran here): {', '.join(data['recorded_without_running'])}"
        )
    done = data["tracking_upgraded"] is not None
    lines += [f"warning: {p['message']}" for p in data["problems"] if not p["blocking"] and not (done and p["kind"] == "tracking-upgrade")]
    lines += [f"warning: {w}" for w in data["warnings"]]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ table
def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], fmt: str) -> str:
    if fmt == "rich":
        from rich.console import Console
        from rich.table import Table

        t = Table(*headers)
        for r in rows:
            t.add_row(*r)
        console = Console(record=True, width=max(100, Console().width))
        with console.capture() as cap:
            console.print(t)
        return cap.get().rstrip("\n")
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    fmt_row = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt_row.format(*r).rstrip() for r in [list(headers), *rows])


class Progress:
    """Shows migrate events on stderr: a rich progress bar (one step per migration, with its statement count)
    on a TTY, one plain line per event otherwise; nothing for JSON output."""

    def __init__(self, fmt: str, stream: TextIO | None = None) -> None:
        self.fmt = fmt
        self.stream = stream or sys.stderr
        self._bar: Any = None
        self._task: Any = None

    def _say(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text)
        else:
            print(text, file=self.stream, flush=True)

    def __call__(self, event: str, **info: Any) -> None:
        if self.fmt == "json":
            return
        if event == "plan" and self.fmt == "rich" and info["count"]:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn

            self._bar = Bar(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(file=self.stream), transient=False,
            )
            self._task = self._bar.add_task("migrating", total=info["count"])
            self._bar.start()
        elif event == "lock-wait":
            holder = info.get("holder")
            self._say("waiting for the migration lock" + (f" (held by pid {holder[0]})" if holder else "") + " ...")
        elif event == "tracking-upgraded":
            self._say(f"upgraded the tracking table to Drizzle 1.0's columns ({info['rows']} row(s) named)")
        elif event == "recorded":
            self._say(f"recorded {info['migration'].tag} without running it: every migration it replaces already ran here")
        elif event == "lock-acquired":
            self._say("got the migration lock; re-reading the tracking table")
        elif event == "lock-retry":
            tag = getattr(info["migration"], "tag", info["migration"])
            self._say(f"{tag}: lock_timeout hit, retry {info['attempt']} of {info.get('retries', '?')} (watching who blocks it)")
        elif event == "dropped-invalid-index":
            self._say(f"{info['migration'].tag}: dropped the INVALID index {info['index']} an earlier failed or interrupted run left")
        elif event == "index-already-built":
            self._say(f"{info['migration'].tag}: the index {info['index']} was built by an interrupted run; recorded as done")
        elif event == "resume":
            self._say(
                f"{info['migration'].tag}: resuming at statement {info['done'] + 1} of {info['statements']} "
                f"(statements 1-{info['done']} completed in an earlier run and are unchanged)"
            )
        elif event == "start":
            text = f"{info['migration'].tag} ({info['statements']} statement(s))"
            if self._bar is not None:
                self._bar.update(self._task, description=text)
            else:
                self._say(f"applying {text} ...")
        elif event == "done" and self._bar is not None:
            self._bar.advance(self._task)
        elif event == "finished" and self._bar is not None:
            self._bar.stop()
            self._bar = None


# ---------------------------------------------------------------------- Mode 2, bootstrap, branches
def _recorded_data(m: Any) -> dict[str, Any]:
    tags = [r.tag for r in m.replaces]
    return {
        "tag": m.tag,
        "replaces": tags,
        "reason": f"{m.tag} (Mode 2) will be recorded without running: every migration it replaces already ran "
        f"on this database, proven by hash ({tags[0]} .. {tags[-1]}, {len(tags)} in all); `inv db.migrate` writes its row",
    }


def _legacy_data(plan: Plan | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    return {
        "files": [{"tag": m.tag, "created_at": m.when, "state": plan.state_of(m), "hash": m.hash, "file": m.path} for m in plan.migrations],
        "pending": [m.tag for m in plan.pending],
        "problems": [
            {"kind": p.kind, "message": p.message, "migration": p.migration, "fix": p.fix, "blocking": p.blocking}
            for p in plan.problems
            if p.kind != "unknown-row"
        ],
    }


def _legacy_lines(data: dict[str, Any] | None) -> list[str]:
    if data is None:
        return []
    ran = sum(1 for f in data["files"] if f["state"] == "applied")
    lines = [f"legacy folder (db.bootstrap): {ran} of {len(data['files'])} file(s) tracked as run here"]
    if data["pending"]:
        lines.append(
            f"  no tracking row yet: {', '.join(data['pending'])} (`inv db.check` proves which ran here, to record with "
            "`inv db.bootstrap --adopt`, and which never did, to run with `inv db.bootstrap`)"
        )
    lines += [f"  problem: {p['message']}\n    fix: {p['fix']}" for p in data["problems"]]
    return lines


def render_bootstrap(report: Any, fmt: str = "plain") -> str:
    """A runner.BootstrapReport."""
    plan = report.plan
    data = {
        "ok": True,
        "database": report.target,
        "legacy_dir": report.legacy_dir,
        "dry_run": report.dry_run,
        "applied": report.applied,
        "recorded": report.recorded,
        "to_run": report.to_run,
        "to_adopt": report.adopt,
        "left_pending": report.left,
        **(_legacy_data(plan) or {}),
    }
    if fmt == "json":
        return json.dumps(data, indent=2)
    lines = [f"database: {report.target}", f"legacy:   {report.legacy_dir}"]

    def state(f: dict[str, Any]) -> str:
        if f["tag"] in report.applied:
            return "ran now"
        if f["tag"] in report.recorded:
            return "recorded now (proven, not run)"
        return str(f["state"])

    lines.append(_table(["file", "created_at", "state", "hash"], [[f["tag"], str(f["created_at"]), state(f), f["hash"][:12]] for f in data["files"]], fmt))
    lines += [f"note: {t} already has a tracking row here: nothing to do for it" for t in report.already]
    for proof in report.proofs:
        lines.append(f"proven: {proof.migration.tag}: all {len(proof.objects)} object(s) it creates or changes are here, as it leaves them")
    if report.dry_run:
        if report.adopt:
            lines.append(f"dry run: proven on a shadow database, would record without running: {', '.join(report.adopt)}")
        lines.append(f"dry run: would run {', '.join(report.to_run)}" if report.to_run else "dry run: nothing to run")
        lines.append("dry run: nothing was changed")
    if not report.dry_run:
        if report.recorded:
            lines.append(f"recorded {len(report.recorded)} legacy file(s) as run, without running them: {', '.join(report.recorded)}")
        if report.applied:
            lines.append(f"ran {len(report.applied)} legacy file(s), each in one transaction: {', '.join(report.applied)}")
        if not report.applied and not report.recorded:
            lines.append(f"nothing to run: all {len(plan.applied)} legacy file(s) already ran here" if not report.left else "nothing was run")
    if report.left:
        lines.append(f"still pending (not named by --only/--adopt): {', '.join(report.left)}")
        lines.append("next: `inv db.check` tells which of them ran here (adopt) and which never did (run)")
    elif not report.dry_run and (report.applied or report.recorded):
        lines.append("next: `inv db.check` (the schema should now be exactly what the migrations and legacy files produce)")
    return "\n".join(lines)


def render_consolidation(report: Any, fmt: str = "plain") -> str:
    """A consolidate.ConsolidationReport: the plan, and what was written."""
    plan = report.plan
    data = {
        "ok": report.written,
        "written": report.written,
        "consolidation": plan.stem,
        "when": plan.when,
        "selection": plan.selection,
        "replaces": [{"tag": m.tag, "when": m.when, "hash": m.hash} for m in plan.replaced],
        "files": {
            "write": [report.shown(plan.sql_path), report.shown(plan.manifest_path)],
            "update": [report.shown(plan.journal_path)],
            "delete": [report.shown(p) for p in plan.delete],
            "snapshot_kept_as": [report.shown(p) for p in plan.snapshot_move] if plan.snapshot_move else None,
        },
        "proof": report.proof,
        "notes": list(plan.notes),
    }
    if fmt == "json":
        return json.dumps(data, indent=2)
    lines = [
        f"consolidation {plan.stem} (Mode 2, when {plan.when}) of {len(plan.replaced)} migration(s): {plan.selection}",
        _table(["tag", "when", "hash"], [[m.tag, str(m.when), m.hash[:12]] for m in plan.replaced], fmt),
        ("wrote" if report.written else "would write") + f": {data['files']['write'][0]}, {data['files']['write'][1]}",
        ("updated" if report.written else "would update") + f": {data['files']['update'][0]} (the entries above removed)",
        ("deleted" if report.written else "would delete") + f": the {len(plan.replaced)} .sql file(s) above"
        + (f" and {len(snaps)} snapshot(s) ({snaps[0]} .. {snaps[-1]})" if (snaps := [p.name for p in plan.delete if p.suffix == ".json"]) else ""),
    ]
    lines += [f"note: {n}" for n in plan.notes]
    if report.proof:
        lines.append(f"proof: {report.proof}")
    lines.append(
        "done: commit the files; `inv db.migrate` records the consolidation on databases that ran the originals"
        if report.written
        else "nothing was changed: run again with --yes to prove equivalence on two shadow databases and write the files"
    )
    return "\n".join(lines)


def render_branch_count(report: Any, fmt: str = "plain") -> str:
    """A branch.BranchCount."""
    b = report.branch
    data = {
        "ok": report.ok,
        "head": b.head,
        "base": b.base,
        "base_from": b.base_source,
        "merge_base": b.merge_base,
        "migrations_dir": b.migrations_dir,
        "count": len(b.tags),
        "max": report.max,
        "tags": list(b.tags),
    }
    if fmt == "json":
        return json.dumps(data, indent=2)
    lines = [f"{b.head}: {len(b.tags)} new Mode 1 migration(s) in {b.migrations_dir}/ since it left {b.base} "
             f"(merge base {b.merge_base[:7]}; base from {b.base_source})"]
    lines += [f"  {t}" for t in b.tags]
    if not report.ok:
        lines.append(
            f"error: more than --max {report.max}: consolidate them into one Mode 2 file before merging: "
            "`inv db.consolidate` shows the plan, `inv db.consolidate --yes` proves and writes it"
        )
    return "\n".join(lines)
