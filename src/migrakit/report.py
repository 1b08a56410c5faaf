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
    }


def render_status(report: StatusReport, fmt: str = "plain") -> str:
    data = status_data(report)
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
            [r["tag"], str(r["when"]), r["state"], r["hash"][:12], "would apply" if r["drizzle_would_apply"] else ""]
            for r in data["migrations"]
        ],
        fmt,
    )
    tail = [f"{data['applied']} applied, {len(data['pending'])} pending"]
    tail += [f"file not in the journal (ignored, as Drizzle does): {o}" for o in data["files_not_in_journal"]]
    tail += [f"{'problem' if p['blocking'] else 'warning'}: {p['message']}\n  fix: {p['fix']}" for p in data["problems"]]
    tail += [f"note: {w}" for w in data["warnings"] if "not in the journal" not in w]
    return "\n".join([*head, table, *tail])


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
        "problems": [{"kind": p.kind, "message": p.message, "fix": p.fix, "blocking": p.blocking} for p in plan.problems],
    }


def render_migrate(report: MigrateReport, fmt: str = "plain") -> str:
    data = migrate_data(report)
    if fmt == "json":
        return json.dumps(data, indent=2)
    lines = [f"database: {data['database']}"]
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
    lines += [f"warning: {p['message']}" for p in data["problems"] if not p["blocking"]]
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
        elif event == "lock-acquired":
            self._say("got the migration lock; re-reading the tracking table")
        elif event == "lock-retry":
            self._say(f"{info['migration'].tag}: lock_timeout hit, retry {info['attempt']}")
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
