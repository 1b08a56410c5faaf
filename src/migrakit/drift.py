"""`db.check`: is the live schema what the migrations produce? [I/O]

All migrations go to a shadow database (see `shadow`), whose schema is compared with the target's
(bookkeeping schemas and the legacy tracking table left out). The tracking table is checked too: the
planner's problems (edited files, rows no file explains, migrations Drizzle would skip). Nothing on the
target is changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import runner, schema, server, shadow
from .config import Settings
from .planner import DUPLICATE_ROWS, Plan, Problem


@dataclass
class CheckReport:
    target: str
    shadow: str
    plan: Plan
    diff: schema.SchemaDiff
    legacy_files: list[str] = field(default_factory=list)
    legacy_unrecorded: list[str] = field(default_factory=list)  # legacy files whose hash no tracking row carries
    legacy_problems: tuple[Problem, ...] = ()  # e.g. a legacy file edited after db.bootstrap ran it
    notes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self.plan.problems + self.legacy_problems

    @property
    def drifted(self) -> bool:
        return not self.diff.equal or any(p.blocking for p in self.problems)


def ignored_tables(settings: Settings) -> tuple[str, ...]:
    """Tables that are bookkeeping, not schema: the legacy runner's tracking table."""
    return (settings.legacy_table,) if settings.legacy_table else ()


def check(settings: Settings) -> CheckReport:
    """Build the migrations' schema on a shadow database and compare it with the target's."""
    status = runner.status(settings)
    target = server.resolve_target(settings)
    plan = status.plan
    legacy = list(status.legacy.migrations) if status.legacy else []
    unrecorded = {m.tag for m in status.legacy.pending} if status.legacy else set()
    with shadow.shadow(settings) as url:
        shadow.build(settings, url)
        diff = schema.compare(url, target.url, ignore_tables=ignored_tables(settings))
        note = shadow.version_note(target.url, url)
    report = CheckReport(
        target=target.display,
        shadow=server.redact_url(settings.shadow_url) if settings.shadow_url else "the embedded server",
        plan=plan,
        diff=diff,
        legacy_files=[m.path for m in legacy],
        legacy_unrecorded=[m.path for m in legacy if m.tag in unrecorded],
        legacy_problems=status.legacy.problems if status.legacy else (),
    )
    if note:
        report.notes.append(note)
    if plan.pending and not diff.equal:
        report.notes.append(
            f"{len(plan.pending)} migration(s) are pending here ({', '.join(m.tag for m in plan.pending[:5])}"
            f"{', ...' if len(plan.pending) > 5 else ''}): the differences they account for go away after `inv db.migrate`"
        )
    if report.legacy_unrecorded:
        report.notes.append(
            f"{len(report.legacy_unrecorded)} legacy file(s) have no row in the tracking table (a legacy runner's own "
            "table is not proof): "
            + (
                "the schema shows they ran; `inv db.baseline --yes` records them"
                if diff.equal
                else "`inv db.bootstrap` runs and records those that never ran here"
            )
        )
    return report


# ------------------------------------------------------------------------------------------ output
def render_check(report: CheckReport, fmt: str = "plain") -> str:
    """Text; JSON is render/json.py's `drift_check`."""
    counted = f"{len(report.plan.migrations)} migration(s)" + (
        f" and {len(report.legacy_files)} legacy file(s)" if report.legacy_files else ""
    )
    lines = [
        f"database: {report.target}",
        f"expected: {counted} applied to a shadow database on {report.shadow}",
    ]
    diff = report.diff
    if diff.equal:
        lines.append("schema:   no drift: the database schema is exactly what the migrations produce")
    else:
        lines.append(f"schema:   DRIFT: {len(diff.differences) or len(diff.statements)} difference(s)")
        for d in diff.differences:
            lines += ["  " + line for line in schema.render_difference(d)]
        lines.append("to make the database match the migrations, this would run (review it; migrakit never runs it):")
        lines += ["  " + s.replace("\n", "\n  ") for s in diff.statements]
    for p in report.problems:
        lines.append(f"{'problem' if p.blocking or p.kind == DUPLICATE_ROWS else 'warning'}: {p.message}")
        if p.fix:
            lines.append(f"  fix: {p.fix}")
    lines += [f"note: {n}" for n in report.notes]
    if report.drifted:
        lines.append(
            "fix: put the change into a migration (`inv db.generate`), or undo the manual change on the database; "
            "objects the database has and no migration produces can be adopted with `inv db.baseline`"
        )
    return "\n".join(lines)
