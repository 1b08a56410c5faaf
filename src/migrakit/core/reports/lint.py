"""What db.lint and db.lint --fix return, as data for render/ (pure): each statement's measurement and findings,
the report (its exit code: --fail-on), the findings as lines (also an error's details: db.migrate --lint,
db.generate); db.lint --fix's plan."""

from __future__ import annotations

from dataclasses import dataclass, field

from migrakit.core.lint.rule import Finding, Measured, severity_rank
from migrakit.errors import ConfirmationRequired, LintFindings


@dataclass
class LintStatement:
    index: int
    line: int
    sql: str
    locks: list[tuple[str, str]] = field(default_factory=list)
    held: list[tuple[str, str]] = field(default_factory=list)  # all the transaction holds after the statement
    rewrites: list[str] = field(default_factory=list)  # tables, then indexes rebuilt
    scans: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)  # relations created earlier in this migration (or by this statement)
    duration_ms: float | None = None
    in_transaction: bool = True
    ran: bool = True
    error: str | None = None
    findings: list[Finding] = field(default_factory=list)
    suppressed: list[Finding] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)  # the indexes among `rewrites`
    writes: dict[str, int] = field(default_factory=dict)  # rows written per table (on the shadow)
    not_measured: str | None = None  # why its measurement does not count (an earlier failure), or None
    facts: Measured = field(default_factory=Measured)  # all the probe measured, as the rules read it


@dataclass
class LintMigration:
    tag: str
    path: str
    statements: list[LintStatement]
    error: str | None = None


@dataclass
class LintReport:
    target: str
    shadow: str
    server_version: int
    migrations: list[LintMigration]
    sizes: dict[str, tuple[float, int]]  # the target's schema.relation -> (row estimate, bytes)
    fail_on: str = "error"
    notes: list[str] = field(default_factory=list)
    nothing: str = "no pending migration (use --all or --migration TAG)"  # why nothing was linted, when so

    @property
    def findings(self) -> list[Finding]:
        return [f for m in self.migrations for s in m.statements for f in s.findings]

    @property
    def failing(self) -> list[Finding]:
        floor = severity_rank(self.fail_on)
        return [f for f in self.findings if severity_rank(f.severity) >= floor]

    @property
    def ok(self) -> bool:
        return not self.failing

    @property
    def exit_code(self) -> int:
        """0, or 7 (LintFindings) when a finding reaches --fail-on."""
        return 0 if self.ok else LintFindings.exit_code


def finding_lines(report: LintReport) -> list[str]:
    """One line per finding, `file:line [rule] severity: message (fix: ...)`; a line saying none when clean."""
    lines = [f"{m.path}:{s.line} [{f.rule}] {f.severity}: {f.message} (fix: {f.fix})"
             for m in report.migrations for s in m.statements for f in s.findings]
    count = sum(len(m.statements) for m in report.migrations)
    return lines or [f"no finding in {count} statement(s), measured on a shadow database"]


# ------------------------------------------------------------------------------------------ db.lint --fix
@dataclass
class FixedMigration:
    """One pending migration db.lint --fix rewrites: its tag, what it becomes, and why."""

    tag: str
    tags: list[str]  # the migrations it becomes (its own tag first)
    changes: list[str]  # core/fix.py's summaries
    bodies: list[str]  # each new migration's SQL


@dataclass
class LintFixReport:
    """db.lint --fix: the plan (printed; exit 5 without --yes), the renames it brings, and the proof."""

    target: str
    fixed: list[FixedMigration] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)  # later migrations whose tags move (old, new)
    proof: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    written: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """5 while only the plan was printed (it needs --yes); 0 once written or when nothing needs a fix."""
        return ConfirmationRequired.exit_code if self.fixed and not self.written else 0
