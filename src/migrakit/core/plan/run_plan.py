"""What one run does with a plan, decided before and after any SQL: cut it at `--to`, pick the modes a task
runs, check every pending file splits, refuse blocking problems, and say in an error what was done. Pure."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from migrakit.core.migration import STANDARD, UNTOUCHED_TEMPLATE, Migration
from migrakit.core.plan.planner import Plan
from migrakit.core.reports.run import BootstrapReport
from migrakit.errors import DriftError, MigrakitError


def up_to(p: Plan, to_tag: str | None) -> tuple[Plan, dict[str, Any]]:
    """The plan cut after `to_tag` (--to): its pending list ends with that migration, and what it held back.
    When `to_tag` is applied already, nothing is pending."""
    if to_tag is None:
        return p, {}
    target = next(m for m in p.migrations if m.tag == to_tag)
    if p.state_of(target) in ("applied", "replaced-applied"):
        return replace(p, pending=()), {
            "to": to_tag,
            "to_already_applied": True,
            "held_back": [m.tag for m in p.pending],
        }
    position = {id(m): i for i, m in enumerate(p.migrations)}
    limit = position[id(target)]
    keep = tuple(m for m in p.pending if position[id(m)] <= limit)
    held = [m.tag for m in p.pending if position[id(m)] > limit]
    return replace(p, pending=keep), {"to": to_tag, "held_back": held}


def refuse_blocking(p: Plan) -> None:
    if p.blocking:
        first = p.blocking[0]
        raise DriftError(
            first.message,
            file=first.file,
            migration=first.migration,
            state="nothing was run",
            fix=first.fix,
            details=[f"{q.kind}: {q.message}" for q in p.blocking[1:]],
        )


def runnable(p: Plan, only: tuple[str, ...] | None) -> list[Migration]:
    """The pending migrations this run executes: all, or those of the modes in `only`. Refuses when a pending
    migration of another mode comes first: running past it would leave an older migration pending behind a
    newer created_at, which Drizzle's migrator then skips."""
    if only is None:
        return list(p.pending)
    run = [m for m in p.pending if m.mode in only]
    if run:
        first = next(i for i, m in enumerate(p.pending) if m is run[0])
        earlier = [m for m in p.pending[:first] if m.mode not in only]
        if earlier:
            raise DriftError(
                f"{earlier[0].tag} ({earlier[0].mode}) is pending and comes before {run[0].tag}",
                file=earlier[0].path,
                migration=earlier[0].tag,
                state="nothing was run",
                fix="run `inv db.migrate` (both modes), or apply the Mode 1 migrations first, then run this again",
            )
    return run


def check_statements(p: Plan, *, single_transaction: bool = False, allow_empty: bool = False) -> None:
    """Split and check every pending migration now, so a bad file stops the run before any SQL. Not the Mode 1
    files of a --single-transaction run: they are sent as Drizzle sends them, and the server decides, as it
    would under Drizzle (the split then only names the failing statement).

    A pending migration without a statement is recorded as applied, as Drizzle records it (a deliberate no-op:
    "no DDL needed"), with a note. Only a forgotten `--custom` migration (Migration.forgotten: the untouched
    template, or SQL typed into its header's comment) is refused unless `allow_empty`: Drizzle would record it,
    and a later edit of the file would then be drift, its SQL never run. --single-transaction follows Drizzle
    exactly: it records both."""
    forgotten = [m for m in p.pending if m.mode == STANDARD and m.forgotten]
    if forgotten and not allow_empty and not single_transaction:
        m = forgotten[0]
        raise MigrakitError(
            f"migration {m.tag} holds no SQL statement: "
            + ("its SQL was never written below db.generate --custom's header" if m.no_statement == UNTOUCHED_TEMPLATE
               else "the text after db.generate --custom's header is on the header's comment line"),
            file=m.path,
            migration=m.tag,
            state="nothing was run",
            fix=f"write its SQL on the lines below the header in {m.path}, then run again; or pass --allow-empty "
            "to record it as applied without running anything, as Drizzle does",
            details=[f"also forgotten: {x.path}" for x in forgotten[1:]],
        )  # fmt: skip
    for m in p.pending:
        if single_transaction and m.mode == STANDARD:
            continue
        m.check_runnable()  # splits the file: raises SplitError or MigrakitError


def run_state(state: str | None, applied: list[str], recorded: list[str], *, single_transaction: bool) -> str:
    """An error's state, with what this run applied (not under --single-transaction: rolled back) and recorded."""
    if applied and not single_transaction:
        state = f"{state}; applied and tracked before it in this run: {', '.join(applied)}"
    if recorded:
        state = f"{state}; recorded without running: {', '.join(recorded)}"
    return state or ""


# ------------------------------------------------------------------------------------------ legacy files
def bootstrap_report(
    target: str, shown: str, p: Plan, run_sel: list[str], adopt_sel: list[str], *, named: bool, dry_run: bool = False
) -> BootstrapReport:
    """What db.bootstrap does with the legacy plan `p`: the files it runs, records (adopts), finds done, leaves."""
    pending = {m.tag for m in p.pending}
    report = BootstrapReport(target, shown, p, dry_run=dry_run)
    report.to_run = [t for t in run_sel if t in pending]
    report.adopt = [t for t in adopt_sel if t in pending]
    report.already = [t for t in [*run_sel, *adopt_sel] if t not in pending] if named else []
    report.left = [m.tag for m in p.pending if m.tag not in report.to_run and m.tag not in report.adopt]
    return report


def legacy_failure(err: MigrakitError, done: list[str]) -> None:
    """A legacy file failed (db.bootstrap, or a shadow database's legacy step): the error names the files done
    before it, and, when the server refused a CREATE because the object exists, how to find who made it."""
    err.fix = err.fix and err.fix.replace("inv db.migrate", "inv db.bootstrap")
    if done:
        err.state = f"{err.state}; done before it in this run: {', '.join(done)}"
    if _already_exists(err):
        err.fix = (
            f"the objects {err.migration} creates already exist here (another runner, or a person, ran "
            "it): run `inv db.check`; it names the file that creates each object, proves which legacy "
            "files already ran, and prints the command that records those and runs the rest"
        )


def _already_exists(err: MigrakitError) -> bool:
    """The server refused a CREATE because the object exists (duplicate table, object, function, schema)."""
    return getattr(err, "sqlstate", None) in ("42P07", "42710", "42723", "42P06")
