"""Render reports and errors as rich tables or plain text; JSON is render/json.py's (one contract, docs/json.md).

`fmt` is "rich" (a terminal), "plain" (CI, pipes) or "json". NO_COLOR changes colour only: a terminal still
gets rich's tables and progress bar, without colour (rich reads NO_COLOR itself). rich is imported only when
a table is actually drawn. Long lists are folded and repeated notes grouped (render/text.py).
"""

from __future__ import annotations

import sys
from typing import Any, Iterable, Sequence, TextIO, assert_never

from ..core import events as ev
from ..errors import MigrakitError
from ..core.planner import DUPLICATE_ROWS
from . import json as as_json
from .text import fold, group_notes
from ..workflows.runner import MigrateReport, StatusReport


def choose_format(json_output: bool = False, stream: TextIO | None = None) -> str:
    if json_output:
        return "json"
    stream = stream or sys.stdout
    return "rich" if stream.isatty() else "plain"  # NO_COLOR: same layout, no colour (rich honours it)


def _subjects(migrations: Iterable[Any]) -> list[tuple[str, str]]:
    return [(m.path, m.tag) for m in migrations]


# ----------------------------------------------------------------------------------------- errors
def render_error(err: MigrakitError, fmt: str = "plain") -> str:
    """The error as text (JSON errors: render/json.py's error_document)."""
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
def _problem_lines(problems: Iterable[dict[str, Any]]) -> list[str]:
    """`problem:` (blocks db.migrate, or makes db.status exit 3) or `warning:`, each with its fix."""
    lines = []
    for p in problems:
        label = "problem" if p["blocking"] or p["kind"] == DUPLICATE_ROWS else "warning"
        lines.append(f"{label}: {p['message']}" + (f"\n  fix: {p['fix']}" if p["fix"] else ""))
    return lines


def render_status(report: StatusReport, fmt: str = "plain") -> str:
    data = as_json.status(report)
    plan = report.plan
    head = [
        f"database:   {data['database']}",
        *([f"connection: {report.connection.describe()}"] if report.connection.present else []),
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
    tail = [f"{data['applied_count']} applied, {data['pending_count']} pending"]
    orphans = data["files_not_in_journal"]
    if orphans:
        tail.append(f"{len(orphans)} file(s) not in the journal (ignored, as Drizzle does): {fold(orphans)}")
    tail += _problem_lines(data["problems"])
    notes = [w for w in data["warnings"] if "not in the journal" not in w]
    notes += [_recorded_note(m) for m in plan.recorded_without_running]
    tail += [f"note: {n}" for n in group_notes(notes, _subjects(plan.migrations))]
    tail += _legacy_lines(data["legacy"])
    if plan.tracking_upgrade is not None and plan.tracking_upgrade.changes:
        tail += ["tracking table upgrade (`inv db.upgrade-tracking --yes`) would:", *_upgrade_lines(plan.tracking_upgrade, fmt)]
    return "\n".join([*head, table, *tail])


# -------------------------------------------------------------------------- Drizzle 1.0 upgrades
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
    lines = [f"database: {report.target}", f"tracking: {report.table}"]
    if up is None or not up.changes:
        return "\n".join([*lines, f"nothing to do: {report.note or 'the table is up to date'}"])
    lines.append("upgraded the tracking table:" if report.applied else "upgrading the tracking table would:")
    lines += _upgrade_lines(up, fmt)
    lines.append("nothing was re-run" if report.applied else "nothing was changed: run again with --yes to apply")
    return "\n".join(lines)


def render_upgrade_layout(up: Any, fmt: str = "plain") -> str:
    """A layout.LayoutUpgrade."""
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
def render_migrate(report: MigrateReport, fmt: str = "plain") -> str:
    data = as_json.migrate(report)
    lines = [f"database: {data['database']}"]
    if data["tracking_upgraded"]:
        lines.append(f"upgraded the tracking table to Drizzle 1.0's columns ({data['tracking_upgraded_count']} row(s) named)")
    if report.to_already_applied:
        lines.append(f"nothing to do: {report.to} (--to) is already applied")
    if report.dry_run:
        if not data["pending"] and not report.to_already_applied:
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
    if report.held_back:
        verb = "would stay" if report.dry_run else "stay"
        lines.append(f"stopped at {report.to} (--to): {len(report.held_back)} later migration(s) {verb} pending: "
                     + fold(list(report.held_back)))  # fmt: skip
    if data["recorded_without_running"]:
        lines.append(
            ("would record" if report.dry_run else "recorded")
            + f" without running (every migration it replaces already ran here): {fold(data['recorded_without_running'])}"
        )
    for p in data["problems"]:
        if p["blocking"]:
            continue
        lines.append(f"warning: {p['message']}")
        if p["kind"] == DUPLICATE_ROWS:  # migrate goes on (nothing runs differently); the fix needs a human
            lines.append(f"  fix: {p['fix']}")
    lines += [f"warning: {w}" for w in group_notes(data["warnings"], _subjects(report.plan.migrations))]
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

    def __call__(self, event: ev.Event) -> None:
        if self.fmt == "json":
            return
        match event:
            case ev.Planned(count=count) if self.fmt == "rich" and count:
                from rich.console import Console
                from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn

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
                self._say(f"sending {len(tags)} migration(s) in one pipelined batch: {fold(tags)}; each is shown below once it has run")
            case ev.Started(migration=m, statements=statements):
                text = f"{m.tag} ({statements} statement(s))"
                if self._bar is not None:
                    self._bar.update(self._task, description=text)
                else:
                    self._say(f"applying {text} ...")
            case ev.Done() if self._bar is not None:
                self._bar.advance(self._task)
            case ev.Finished() if self._bar is not None:
                self._bar.stop()
                self._bar = None
            case ev.Planned() | ev.Queued() | ev.Done() | ev.Finished():
                pass  # plain output: no bar to start, advance or stop; a batch is announced only without a bar
            case ev.TargetChosen():
                pass  # deliberately silent: the report names the database once, at the end
            case ev.StatementDone():
                pass  # deliberately silent: a line per statement would drown the output; Started shows the count
            case _:
                assert_never(event)


# ---------------------------------------------------------------------- Mode 2, bootstrap, branches
def _recorded_note(m: Any) -> str:
    tags = [r.tag for r in m.replaces]
    return (
        f"{m.tag} (Mode 2) will be recorded without running: every migration it replaces already ran "
        f"on this database, proven by hash ({tags[0]} .. {tags[-1]}, {len(tags)} in all); `inv db.migrate` writes its row"
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


def render_bootstrap(report: Any, fmt: str = "plain") -> str:
    """A runner.BootstrapReport."""
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
        _table(
            ["file", "created_at", "state", "hash"],
            [[f["tag"], str(f["when"]), state(f), f["hash"][:12]] for f in data["migrations"]],
            fmt,
        )
    )
    lines += [f"note: {t} already has a tracking row here: nothing to do for it" for t in report.already]
    for proof in report.proofs:
        lines.append(f"proven: {proof.migration.tag}: all {len(proof.objects)} object(s) it creates or changes are here, as it leaves them")
    if report.dry_run:
        if report.adopt:
            lines.append(f"dry run: proven on a shadow database, would record without running: {fold(report.adopt)}")
        lines.append(f"dry run: would run {fold(report.to_run)}" if report.to_run else "dry run: nothing to run")
        lines.append("dry run: nothing was changed")
    if not report.dry_run:
        if report.recorded:
            lines.append(f"recorded {len(report.recorded)} legacy file(s) as run, without running them: {fold(report.recorded)}")
        if report.applied:
            lines.append(f"ran {len(report.applied)} legacy file(s), each in one transaction: {fold(report.applied)}")
        if not report.applied and not report.recorded:
            lines.append(f"nothing to run: all {len(plan.applied)} legacy file(s) already ran here" if not report.left else "nothing was run")
    if report.left:
        lines.append(f"still pending (not named by --only/--adopt): {fold(report.left)}")
        lines.append("next: `inv db.check` tells which of them ran here (adopt) and which never did (run)")
    elif not report.dry_run and (report.applied or report.recorded):
        lines.append("next: `inv db.check` (the schema should now be exactly what the migrations and legacy files produce)")
    return "\n".join(lines)


def render_consolidation(report: Any, fmt: str = "plain") -> str:
    """A consolidate.ConsolidationReport: the plan, and what was written."""
    plan = report.plan
    data = as_json.consolidation(report)
    lines = [
        f"consolidation {plan.stem} (Mode 2, when {plan.when}) of {len(plan.replaced)} migration(s): {plan.selection}",
        _table(["tag", "when", "hash"], [[m.tag, str(m.when), m.hash[:12]] for m in plan.replaced], fmt),
        ("wrote" if report.written else "would write") + f": {data['file_changes']['write'][0]}, {data['file_changes']['write'][1]}",
        ("updated" if report.written else "would update") + f": {data['file_changes']['update'][0]} (the entries above removed)",
        ("deleted" if report.written else "would delete") + f": the {len(plan.replaced)} .sql file(s) above"
        + (f" and {len(snaps)} snapshot(s) ({snaps[0]} .. {snaps[-1]})" if (snaps := [p.name for p in plan.delete if p.suffix == ".json"]) else ""),
    ]
    lines += [f"note: {n}" for n in group_notes(plan.notes, _subjects(plan.replaced))]
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
    lines = [f"{b.head}: {len(b.tags)} new Mode 1 migration(s) in {b.migrations_dir}/ since it left {b.base} "
             f"(merge base {b.merge_base[:7]}; base from {b.base_source})"]
    lines += [f"  {t}" for t in b.tags]
    if not report.ok:
        lines.append(
            f"error: more than --max {report.max}: consolidate them into one Mode 2 file before merging: "
            "`inv db.consolidate` shows the plan, `inv db.consolidate --yes` proves and writes it"
        )
    return "\n".join(lines)
