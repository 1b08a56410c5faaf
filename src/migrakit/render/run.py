"""db.status, db.migrate(-consolidated) and db.bootstrap as rich tables or plain text, and the progress of a run
(`Progress`); JSON is render/json/run.py's (one contract, docs/json.md). Every other task's text is in its own module
of render/ (errors: render/error_text.py).

`fmt` is "rich" (a terminal), "plain" (CI, pipes) or "json". NO_COLOR changes colour only: a terminal still
gets rich's tables and progress bar, without colour (rich reads NO_COLOR itself). rich is imported only when
a table is actually drawn (a table over render/text.RICH_MAX_ROWS rows is drawn as plain columns). Long lists are
folded and repeated notes grouped (render/text.py).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO, assert_never

from migrakit.core.migration import STANDARD
from migrakit.core.plan.planner import DUPLICATE_ROWS
from migrakit.core.reports.run import BootstrapReport, MigrateReport, StatusReport
from migrakit.render.json import run as as_json
from migrakit.render.json.shapes import problem
from migrakit.render.text import fold, group_notes, subjects, table
from migrakit.render.upgrade import upgrade_lines

if TYPE_CHECKING:
    from migrakit.core import events as ev


def choose_format(json_output: bool = False, stream: TextIO | None = None) -> str:
    if json_output:
        return "json"
    stream = stream or sys.stdout
    return "rich" if stream.isatty() else "plain"  # NO_COLOR: same layout, no colour (rich honours it)


# ----------------------------------------------------------------------------------------- status
def _problem_lines(problems: Iterable[dict[str, Any]]) -> list[str]:
    """`problem:` (blocks db.migrate, or makes db.status exit 3) or `warning:`, each with its fix."""
    lines = []
    for p in problems:
        label = "problem" if p["blocking"] or p["kind"] == DUPLICATE_ROWS else "warning"
        lines.append(f"{label}: {p['message']}" + (f"\n  fix: {p['fix']}" if p["fix"] else ""))
    return lines


# The words of db.status's count line for the states besides applied and pending (core/plan/planner.STATES).
_COUNTED = {
    "replaced-applied": "recorded from what it replaced (replaced-applied)",
    "edited": "edited since it ran (edited)",
    "replaced-partial": "replaced only in part (replaced-partial)",
}


def _count_line(counts: dict[str, int]) -> str:
    """`3 applied, 1 pending`; a migration in another state is counted by its name between them, so the counts
    always add up to the migrations listed above."""
    others = [f"{n} {_COUNTED[state]}" for state, n in counts.items() if state in _COUNTED]
    return ", ".join([f"{counts.get('applied', 0)} applied", *others, f"{counts.get('pending', 0)} pending"])


def render_status(report: StatusReport, fmt: str = "plain") -> str:
    """The same facts as render/json/run.py's `status`, read from the report itself: 10,000 migrations are not
    made into JSON objects first (db.status on 10,000 migrations: ~25 ms)."""
    plan, folder = report.plan, report.folder
    head = [
        f"database:   {report.target}",
        *([f"connection: {report.connection.describe()}"] if report.connection.present else []),
        f"migrations: {folder.path} ({folder.layout} layout)",
        f"tracking:   {report.table}" + ("" if report.table_exists else " (not created yet)"),
    ]
    drizzle = set(plan.drizzle_pending)
    rows = table(
        ["tag", "when", "state", "hash", "drizzle"],
        [
            [m.tag, str(m.when), plan.state_of(m), m.hash[:12],
             "would apply" if m.tag in drizzle else ("never (Mode 2)" if m.mode != STANDARD else "")]
            for m in plan.migrations
        ],
        fmt,
    )
    tail = [_count_line(plan.state_counts())]
    orphans = list(folder.orphans)
    if orphans:
        tail.append(f"{len(orphans)} file(s) not in the journal (ignored, as Drizzle does): {fold(orphans)}")
    tail += _problem_lines(problem(p) for p in plan.problems)
    notes = [w for w in folder.warnings if "not in the journal" not in w]
    notes += [_recorded_note(m) for m in plan.recorded_without_running]
    tail += [f"note: {n}" for n in group_notes(notes, subjects(plan.migrations))]
    tail += _legacy_lines(as_json.legacy(report.legacy))
    if plan.tracking_upgrade is not None and plan.tracking_upgrade.changes:
        tail += [
            "tracking table upgrade (`inv db.upgrade-tracking --yes`) would:",
            *upgrade_lines(plan.tracking_upgrade, fmt),
        ]
    return "\n".join([*head, rows, *tail])


# ---------------------------------------------------------------------------------------- migrate
def render_migrate(report: MigrateReport, fmt: str = "plain") -> str:
    data = as_json.migrate(report)
    lines = [f"database: {data['database']}"]
    if data["tracking_upgraded"]:
        lines.append(
            f"upgraded the tracking table to Drizzle 1.0's columns ({data['tracking_upgraded_count']} row(s) named)"
        )
    if report.to_already_applied:
        lines.append(f"nothing to do: {report.to} (--to) is already applied")
    if report.dry_run:
        if not data["planned"] and not report.to_already_applied:
            lines.append("dry run: nothing to apply")
        for m in data["planned"]:
            lines.append(f"-- {m['tag']} ({m['file']}, {m['statement_count']} statement(s)) would apply:")
            for s in m["statements"]:
                lines.append(f"-- [{s['number']}] line {s['line']}")
                lines.append(s["sql"].rstrip() + ";")
        lines.append("dry run: nothing was changed")
    elif data["applied"]:
        lines.append(f"applied {data['applied_count']} migration(s): {fold(data['applied'])}")
    elif not report.to_already_applied:
        lines.append(f"nothing to apply ({data['already_applied_count']} already applied)")
    lines += [f"note: {n}" for n in group_notes(data["notes"], subjects(report.plan.pending))]
    if report.held_back:
        verb = "would stay" if report.dry_run else "stay"
        lines.append(f"stopped at {report.to} (--to): {len(report.held_back)} later migration(s) {verb} pending: "
                     + fold(list(report.held_back)))  # fmt: skip
    if data["recorded_without_running"]:
        lines.append(
            ("would record" if report.dry_run else "recorded")
            + " without running (every migration it replaces already ran here): "
            + fold(data["recorded_without_running"])
        )
    for p in data["problems"]:
        if p["blocking"]:
            continue
        lines.append(f"warning: {p['message']}")
        if p["kind"] == DUPLICATE_ROWS:  # migrate goes on (nothing runs differently); the fix needs a human
            lines.append(f"  fix: {p['fix']}")
    lines += [f"warning: {w}" for w in group_notes(data["warnings"], subjects(report.plan.migrations))]
    return "\n".join(lines)


class Progress:
    """Shows migrate events on stderr: a rich progress bar (one step per migration, with its statement count)
    on a TTY, one plain line per event otherwise; nothing for JSON output."""

    def __init__(self, fmt: str, stream: TextIO | None = None, *, github: bool = False) -> None:
        self.fmt = fmt
        self.stream = stream or sys.stderr
        self.github = github and fmt == "plain"  # GitHub Actions: a collapsible ::group:: per migration
        self._group = False
        self.planned: tuple[str, ...] = ()  # the migrations the run planned (for the step summary)
        self._bar: Any = None
        self._task: Any = None
        self._began: dict[str, float] = {}  # tag -> when its Started arrived (time.monotonic)
        self.seconds: dict[str, float] = {}  # tag -> how long it ran, Started to Done (as seen here)

    def _say(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text)
        else:
            print(text, file=self.stream, flush=True)

    def _end_group(self) -> None:
        if self._group:
            self._group = False
            self._say("::endgroup::")

    def step_summary(self, report: Any, error: Any = None, linted: Iterable[Any] = ()) -> str:
        """GitHub Actions' job summary (markdown, appended to $GITHUB_STEP_SUMMARY): the plan, what was applied
        and how long each took, the failure if any (then `report` is None), and `linted` reports' findings."""
        applied = report.applied if report is not None else getattr(error, "applied_in_run", [])
        lines = ["### migrakit db.migrate", ""]
        if not self.planned:
            lines.append("Nothing to apply: the database is up to date.")
        else:
            lines += ["| migration | result | seconds |", "|---|---|---|"]
            for tag in self.planned:
                seconds = self.seconds.get(tag)
                failed = error is not None and tag == error.migration
                result = "applied" if tag in applied else "failed" if failed else "not applied"
                lines.append(f"| `{tag}` | {result} | {'' if seconds is None else f'{seconds:.2f}'} |")
        if error is not None:
            lines += ["", f"**Failed** (exit {error.exit_code}): {_md(error.message)}"]
            if error.state:
                lines.append(f"- state: {_md(error.state)}")
            if error.fix:
                lines.append(f"- fix: {_md(error.fix)}")
        found = [f for lint in linted for f in lint.findings]
        if found:
            lines += ["", "Lint findings:", ""]
            lines += [f"- **{f.severity}** `{f.rule}`: {_md(f.message)}" for f in found]
        return "\n".join(lines) + "\n"

    def __call__(self, event: ev.Event) -> None:
        if self.fmt == "json":
            return
        from migrakit.core import events as ev  # here: db.status never imports the events (25 dataclasses, ~15 ms)

        match event:
            case ev.Planned(tags=planned) if self.fmt != "rich" or not event.count:
                self.planned = planned  # plain output: no bar to start
            case ev.Planned(count=count, tags=planned):
                self.planned = planned
                from rich.console import Console
                from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
                from rich.progress import Progress as Bar

                self._bar = Bar(
                    TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(file=self.stream), transient=False,
                )
                self._task = self._bar.add_task("migrating", total=count)
                self._bar.start()
            case ev.LockWait(holder=holder):
                self._say("waiting for the migration lock" + (f" (held by pid {holder[0]})" if holder else "") + " ...")
            case ev.TrackingUpgraded(rows=rows):
                self._say(f"upgraded the tracking table to Drizzle 1.0's columns ({rows} row(s) named)")
            case ev.Recorded(migration=m):
                self._say(f"recorded {m.tag} without running it: every migration it replaces already ran here")
            case ev.LockAcquired():
                self._say("got the migration lock; re-reading the tracking table")
            case ev.AppliedElsewhereSeen(migration=tag, busy=busy):
                self._say(
                    f"{tag}: another migrator's migration transaction was open; rolled back, re-planning"
                    if busy
                    else f"{tag}: another migrator applied it first; rolled back, re-reading the tracking table"
                )
            case ev.LockRetry(migration=tag, attempt=attempt, retries=retries):
                self._say(f"{tag}: lock_timeout hit, retry {attempt} of {retries} (watching who blocks it)")
            case ev.DroppedInvalidIndex(migration=m, index=index):
                self._say(f"{m.tag}: dropped the INVALID index {index} an earlier failed or interrupted run left")
            case ev.IndexAlreadyBuilt(migration=m, index=index):
                self._say(f"{m.tag}: the index {index} was built by an interrupted run; recorded as done")
            case ev.Resumed(migration=m, done=done, statements=statements):
                self._say(
                    f"{m.tag}: resuming at statement {done + 1} of {statements} "
                    f"(statements 1-{done} completed in an earlier run and are unchanged)"
                )
            case ev.DrizzleTransactionEnded(migration=m, committed=committed):
                how = "committed" if committed else "rolled back"
                self._say(
                    f"{m.tag}: the file itself {how} the run's single transaction; what follows runs as "
                    "under Drizzle (each query its own transaction, or the file's own BEGIN ... COMMIT)"
                )
            case ev.Queued(migrations=batch) if self._bar is None:
                tags = [m.tag for m in batch]
                self._say(
                    f"sending {len(tags)} migration(s) in one pipelined batch: {fold(tags)}; "
                    "each is shown below as the server starts it"
                )
            case ev.Started(migration=m, statements=statements):
                self._began[m.tag] = time.monotonic()
                text = f"{m.tag} ({statements} statement(s))"
                if self._bar is not None:
                    self._bar.update(self._task, description=text)
                else:
                    self._end_group()
                    self._group = self.github
                    self._say(("::group::" if self.github else "") + f"applying {text} ...")
            case ev.Done(migration=m):
                began = self._began.pop(m.tag, None)
                if began is not None:
                    self.seconds[m.tag] = time.monotonic() - began
                if self._bar is not None:
                    self._bar.advance(self._task)
                else:
                    self._say(f"applied {m.tag}" + (f" in {self.seconds[m.tag]:.2f} s" if began is not None else ""))
                    self._end_group()
            case ev.Finished() if self._bar is not None:
                self._bar.stop()
                self._bar = None
            case ev.Finished():
                self._end_group()  # a failed migration's group ends before the error is printed
            case ev.Queued():
                pass  # plain output: no bar to start, advance or stop; a batch is announced only without a bar
            case ev.TargetChosen():
                pass  # deliberately silent: the report names the database once, at the end
            case ev.StatementDone():
                pass  # deliberately silent: a line per statement would drown the output; Started shows the count
            case _:
                assert_never(event)


def _md(text: str) -> str:
    """Text for one markdown line: no line breaks, table pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


# ---------------------------------------------------------------------- Mode 2, bootstrap, branches
def _recorded_note(m: Any) -> str:
    tags = [r.tag for r in m.replaces]
    return (
        f"{m.tag} (Mode 2) will be recorded without running: every migration it replaces already ran "
        f"on this database, proven by hash ({tags[0]} .. {tags[-1]}, {len(tags)} in all); "
        "`inv db.migrate` writes its row"
    )


def _legacy_lines(data: dict[str, Any] | None) -> list[str]:
    if data is None:
        return []
    ran = sum(1 for f in data["migrations"] if f["state"] == "applied")
    lines = [f"legacy folder (db.bootstrap): {ran} of {len(data['migrations'])} file(s) tracked as run here"]
    if data["pending"]:
        lines.append(
            f"  no tracking row yet: {fold(data['pending'])} (`inv db.check` proves which ran here, to record with "
            "`inv db.bootstrap --adopt`, and which never did, to run with `inv db.bootstrap`)"
        )
    lines += [f"  problem: {p['message']}\n    fix: {p['fix']}" for p in data["problems"]]
    return lines


def render_bootstrap(report: BootstrapReport, fmt: str = "plain") -> str:
    """db.bootstrap; JSON is render/json/run.py's `bootstrap`."""
    plan = report.plan
    data = as_json.bootstrap(report)
    lines = [f"database: {report.target}", f"legacy:   {report.legacy_dir}"]

    def state(f: dict[str, Any]) -> str:
        if f["tag"] in report.applied:
            return "ran now"
        if f["tag"] in report.recorded:
            return "recorded now (proven, not run)"
        return str(f["state"])

    lines.append(
        table(
            ["file", "created_at", "state", "hash"],
            [[f["tag"], str(f["when"]), state(f), f["hash"][:12]] for f in data["migrations"]],
            fmt,
        )
    )
    lines += [f"note: {t} already has a tracking row here: nothing to do for it" for t in report.already]
    for proof in report.proofs:
        lines.append(
            f"proven: {proof.migration.tag}: all {len(proof.objects)} object(s) it creates or changes are here, "
            "as it leaves them"
        )
    if report.dry_run:
        if report.adopt:
            lines.append(f"dry run: proven on a shadow database, would record without running: {fold(report.adopt)}")
        lines.append(f"dry run: would run {fold(report.to_run)}" if report.to_run else "dry run: nothing to run")
        lines.append("dry run: nothing was changed")
    if not report.dry_run:
        if report.recorded:
            lines.append(
                f"recorded {len(report.recorded)} legacy file(s) as run, without running them: {fold(report.recorded)}"
            )
        if report.applied:
            lines.append(f"ran {len(report.applied)} legacy file(s), each in one transaction: {fold(report.applied)}")
        if not report.applied and not report.recorded:
            lines.append(
                f"nothing to run: all {len(plan.applied)} legacy file(s) already ran here"
                if not report.left
                else "nothing was run"
            )
    if report.left:
        lines.append(f"still pending (not named by --only/--adopt): {fold(report.left)}")
        lines.append("next: `inv db.check` tells which of them ran here (adopt) and which never did (run)")
    elif not report.dry_run and (report.applied or report.recorded):
        lines.append(
            "next: `inv db.check` (the schema should now be exactly what the migrations and legacy files produce)"
        )
    return "\n".join(lines)
