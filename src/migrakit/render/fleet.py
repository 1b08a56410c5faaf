"""A fleet run (`--targets`) as text: the live view while it runs (stderr), the summary after it (stdout).

Live view: on a terminal, a rich panel redrawn a few times a second (targets done / failed / running, the
running ones with their current migration, the slowest so far); elsewhere one plain line per finished target;
nothing for JSON. Summary: a table of every target, then the failed ones with their error and fix, last, so
the end of a CI log says what to do.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from migrakit.core.events import (
    FleetEvent,
    FleetFinished,
    FleetInterrupted,
    FleetStarted,
    TargetFinished,
    TargetRunning,
    TargetStarted,
    TargetWaits,
)
from migrakit.core.plan.planner import DUPLICATE_ROWS
from migrakit.render import lint
from migrakit.render.json import fleet as _json  # noqa: F401  (registers this command's JSON serializers)
from migrakit.render.text import fold

_STATUS_WORD = {"applied": "applied", "up-to-date": "up to date", "failed": "FAILED",
                "skipped": "skipped (not started)", "interrupted": "INTERRUPTED", "pending": "pending",
                "drift": "DRIFT", "no-drift": "no drift", "clean": "clean", "findings": "FINDINGS",
                "rolled-back": "rolled back"}  # fmt: skip


DONE = ("applied", "rolled-back", "up-to-date")  # a target whose work is done


class FleetView:
    """The on_event sink of a fleet run. Thread-safe: events come from the pool's threads."""

    def __init__(self, fmt: str, stream: TextIO | None = None) -> None:
        self.fmt = fmt
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()
        self._total = 0
        self._done: dict[str, Any] = {}  # name -> TargetResult
        self._running: dict[str, tuple[float, str]] = {}  # name -> (started, what it does now)
        self._live: Any = None

    def __call__(self, event: FleetEvent) -> None:
        """Record the event under the lock; start and stop the live view outside it (its refresh thread takes
        the lock to draw, and stopping waits for that thread)."""
        if self.fmt == "json":
            return
        if isinstance(event, FleetStarted):
            self._total = len(event.targets)
            if self.fmt == "rich":
                self._start_live()
            else:
                self._say(f"{self._total} target(s), {event.concurrency} at a time")
            return
        if isinstance(event, FleetFinished):
            live, self._live = self._live, None
            if live is not None:
                live.refresh()
                live.stop()
            return
        with self._lock:
            if isinstance(event, TargetStarted):
                self._running[event.target] = (time.monotonic(), "connecting")
            elif isinstance(event, TargetRunning) and event.target in self._running:
                shown = f"{event.migration.tag} ({len(event.migration.statements)} statement(s))"
                self._running[event.target] = (self._running[event.target][0], shown)
            elif isinstance(event, TargetWaits) and event.target in self._running:
                self._running[event.target] = (self._running[event.target][0], "waiting for the migration lock")
            elif isinstance(event, FleetInterrupted) and self._live is None:
                self._say(f"interrupted: starting no other target; stopping the {len(event.running)} running "
                          "(their statement cancelled, their migration rolled back)")  # fmt: skip
            elif isinstance(event, TargetFinished):
                self._running.pop(event.target, None)
                self._done[event.target] = event.result
                if self._live is None:
                    self._say(_line(event.result) + f"  [{len(self._done)}/{self._total}]")

    def _say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def _start_live(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self._live = Live(
            get_renderable=self._locked_panel, console=Console(file=self.stream), refresh_per_second=4, transient=False
        )
        self._live.start()

    def _locked_panel(self) -> Any:
        with self._lock:
            return self._panel()

    def _panel(self) -> Any:
        from rich.table import Table

        now = time.monotonic()
        failed = [r for r in self._done.values() if r.status == "failed"]
        grid = Table.grid(padding=(0, 2))
        grid.add_row(
            f"[bold]{len(self._done)}/{self._total}[/] done",
            f"[red]{len(failed)} failed[/]" if failed else "0 failed",
            f"{len(self._running)} running",
        )
        for name, (started, what) in sorted(self._running.items(), key=lambda kv: kv[1][0])[:8]:
            grid.add_row(f"  {name}", what, f"{now - started:.1f} s")
        if len(self._running) > 8:
            grid.add_row(f"  … {len(self._running) - 8} more running", "", "")
        slowest = max(self._done.values(), key=lambda r: r.seconds, default=None)
        if slowest is not None:
            grid.add_row("slowest", slowest.target.name, f"{slowest.seconds:.2f} s")
        for r in failed[-3:]:
            grid.add_row(f"[red]failed[/] {r.target.name}", (r.error.migration or "") if r.error else "", "")
        return grid


def _line(r: Any) -> str:
    text = f"{r.target.name}: {_STATUS_WORD.get(r.status, r.status)}"
    if r.error is not None:
        text += f" at {r.error.migration}" if r.error.migration else f": {r.error.message}"
        if r.applied:
            text += f" ({len(r.applied)} migration(s) applied before it)"
    elif r.applied:
        text += f" {len(r.applied)} migration(s)"
    if r.pending:
        text += f" ({len(r.pending)} pending)"
    return text + f" ({r.seconds:.2f} s)"


def _what(r: Any) -> str:
    """The summary table's migrations column."""
    if r.error is not None:
        where = f"at {r.error.migration}" if r.error.migration else r.error.kind
        return where + (f" (applied before it: {fold(r.applied)})" if r.applied else "")
    return fold(r.applied) if r.applied else fold(r.undone) if r.undone else fold(r.pending) if r.pending else ""


def render_fleet(report: Any, fmt: str = "plain") -> str:
    """The summary: counts, one row per target, then why targets were skipped, then each failure with its fix."""
    from migrakit.render.error_text import render_error
    from migrakit.render.text import table as _table

    counts = {s: len(report.of(s)) for s in ("applied", "rolled-back", "up-to-date", "pending", "no-drift", "drift",
                                             "clean", "findings", "failed", "interrupted", "skipped")}  # fmt: skip
    said = ", ".join(f"{n} {_STATUS_WORD[s] if s != 'skipped' else 'skipped'}" for s, n in counts.items() if n)
    lines = [f"{len(report.results)} target(s) from {report.source} in {report.seconds:.2f} s, "
             f"{report.concurrency} at a time: {said}"]  # fmt: skip
    rows = []
    for r in report.results:
        rows.append([
            r.target.name, _STATUS_WORD.get(r.status, r.status), _what(r),
            f"{r.seconds:.2f} s" if r.status != "skipped" else "",
        ])
    header = ["target", "status", {"migrate": "migrations", "rollback": "rolled back"}.get(report.command, "pending"),
              "time"]  # fmt: skip
    if report.command == "check":
        rows = [[*row[:2], str(len(r.report.diff.differences)) if r.report is not None else "", row[3]]
                for row, r in zip(rows, report.results, strict=True)]  # fmt: skip
        header[2] = "differences"
    if report.command == "lint":
        rows = [[*row[:2],
                 f"{len(r.report.failing)} of {len(r.report.findings)}" if r.report is not None else "",
                 row[3]]
                for row, r in zip(rows, report.results, strict=True)]  # fmt: skip
        header[2] = "findings (failing of all)"
    lines += ["", _table(header, rows, fmt)]
    if report.stopped:
        lines += ["", f"stopped: {report.stopped}"]
    failed = report.of("failed")
    drift = report.of("drift")
    for r in drift if report.command == "check" else ():
        diffs = r.report.diff.differences
        lines += ["", f"target {r.target.name} ({r.target.display}) has drift: {len(diffs)} difference(s)"]
        lines += [f"  {d.object}: {d.kind}" for d in diffs[:10]] + (
            [f"  … {len(diffs) - 10} more"] if len(diffs) > 10 else []
        )
        lines += [f"  {p.message}" for p in r.report.problems if p.blocking]
        lines.append(
            "  fix: `inv db.check --database-url <its url>` shows each difference, the file behind it and the SQL"
        )
    for r in report.of("findings"):
        failing = r.report.failing
        lines += [
            "",
            f"target {r.target.name} ({r.target.display}): {len(failing)} finding(s) at --fail-on {r.report.fail_on}",
        ]
        lines += [f"  {f['rule']} ({f['severity']}) in {f['migration']}: {f['message']}"
                  for f in lint.findings(r.report) if f["failing"]][:10]  # fmt: skip
        lines += [f"  … {len(failing) - 10} more"] if len(failing) > 10 else []
        lines.append("  fix: `inv db.lint --database-url <its url>` shows each statement's locks and the safe rewrite")
    for r in drift if report.command == "status" else ():
        lines += ["", f"target {r.target.name} ({r.target.display}) has drift:"]
        shown = [p for p in r.report.plan.problems if p.blocking or p.kind == DUPLICATE_ROWS]
        lines += [f"  {p.message}" + (f"\n    fix: {p.fix}" if p.fix else "") for p in shown]
    if failed:
        lines += ["", f"{len(failed)} target(s) failed; each error below, with its fix:"]
        for r in failed:
            lines += ["", f"target {r.target.name} ({r.target.display}):", _indent(render_error(r.error, fmt))]
        lines += ["", f"fix the targets above, then run the same command again: only their work is left "
                      f"({sum(len(report.of(s)) for s in DONE)} target(s) are done)"]  # fmt: skip
    stopped = report.of("interrupted")
    if stopped:
        lines += ["", f"{len(stopped)} target(s) interrupted; what each kept and rolled back:"]
        for r in stopped:
            lines += ["", f"target {r.target.name} ({r.target.display}):", _indent(render_error(r.error, fmt))]
    if report.stopped and not failed:
        lines += ["", "run the same command again to " + ("roll back" if report.command == "rollback" else "migrate")
                  + " the targets interrupted or skipped"]  # fmt: skip
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
