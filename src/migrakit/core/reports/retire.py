"""What legacy.retire found or did (`RetirePlan`, its outcome), as data for render/ (pure); the build commands it
switches (`BuildEdit`), and the record it appends to docs/legacy-migration-retirement.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePath

from migrakit.core.migration import Migration
from migrakit.core.reports.check import Check
from migrakit.errors import ConfirmationRequired

RECORD = PurePath("docs") / "legacy-migration-retirement.md"


@dataclass(frozen=True)
class BuildEdit:
    """A build command that calls a legacy script, and what it becomes (sources/build_commands.py finds them)."""

    file: str  # relative to the project root
    where: str  # e.g. `scripts.build`
    before: str
    after: str


class RetireOutcome(StrEnum):
    """What legacy.retire found or did (JSON `outcome`: the value)."""

    NOTHING = "nothing-to-retire"
    PLANNED = "planned"
    RETIRED = "retired"


NOTHING, PLANNED, RETIRED = RetireOutcome.NOTHING, RetireOutcome.PLANNED, RetireOutcome.RETIRED


@dataclass
class RetirePlan:
    target: str
    outcome: RetireOutcome = PLANNED
    legacy: list[Migration] = field(default_factory=list)
    recorded: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # hash -> (row id, created_at)
    scripts: list[str] = field(default_factory=list)  # relative to the project root
    script_hashes: dict[str, str] = field(default_factory=dict)
    table: str | None = None  # "schema"."table" to drop, when it exists
    table_rows: int | None = None
    fold: str | None = None  # consolidated file, relative to the project root
    fold_when: int | None = None
    build_edits: list[BuildEdit] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)  # "file:line" still naming a legacy script
    checks: list[Check] = field(default_factory=list)
    record: str = str(RECORD)
    head: str | None = None

    @property
    def done(self) -> bool:
        return self.outcome != PLANNED

    @property
    def exit_code(self) -> int:
        return 0 if self.done else ConfirmationRequired.exit_code


# ------------------------------------------------------------------------------------------ the record
def render_record(plan: RetirePlan, *, new_file: bool, now: str, version: str) -> str:
    """The section written to docs/legacy-migration-retirement.md (`new_file`: the file's title first), retired at
    `now` (`2026-12-06 18:03:00 UTC`) by migrakit `version`."""
    lines = ["# Legacy migration retirement", ""] if new_file else [""]
    lines += [
        f"## Retired on {now}",
        "",
        f"By `inv legacy.retire --yes` (migrakit {version}) against {plan.target}"
        + (f", from commit {plan.head[:12]}." if plan.head else "."),
        "",
        "**Why.** Two migration systems owned one schema, and the legacy runner's own table could say a file was "
        "applied when it never ran. migrakit now runs and tracks every migration in Drizzle's tracking table, "
        "where a row exists only after its SQL ran. Before retiring, each file below was proven run (a tracking "
        "row carries its sha256) and `db.check` found no drift, so the legacy runner is no longer needed.",
        "",
    ]
    if plan.legacy:
        lines += [
            f"**Legacy files** (removed; their SQL lives on byte for byte in `{plan.fold}`, which fresh databases "
            "run and databases that ran these files only record):",
            "",
            "| file | sha256 | tracking row id | created_at |",
            "|---|---|---|---|",
        ]
        for m in plan.legacy:
            row_id, created = plan.recorded.get(m.hash, (None, None))
            lines.append(f"| `{m.path}` | `{m.hash}` | {row_id} | {created} |")
        lines.append("")
    if plan.scripts:
        lines += ["**Legacy scripts** (removed):", ""]
        lines += [f"- `{s}` (sha256 `{plan.script_hashes.get(s, '?')}`)" for s in plan.scripts]
        lines.append("")
    if plan.table:
        lines += [f"**Legacy tracking table** `{plan.table}` ({plan.table_rows} row(s)) dropped.", ""]
    if plan.build_edits:
        lines += ["**Build command** switched to migrakit:", ""]
        lines += [f"- `{e.file}` {e.where}: `{e.before}` -> `{e.after}`" for e in plan.build_edits]
        lines.append("")
    lines += ["**Checks:**", ""] + [f"- {c.name}: {c.found}" for c in plan.checks] + [""]
    return "\n".join(lines)
