"""What a fleet run (`--targets`: db.migrate, db.status, db.check, db.lint, db.rollback on many databases) returns,
as data for render/ (pure): each target's status and result, and the fleet's report with its exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migrakit.core.fleet_targets import Target
from migrakit.errors import LintFindings, MigrakitError

# statuses of a target in a fleet run
APPLIED, UP_TO_DATE, FAILED, SKIPPED = "applied", "up-to-date", "failed", "skipped"
INTERRUPTED = "interrupted"  # stopped by SIGINT/SIGTERM: its statement cancelled, its migration rolled back
PENDING, DRIFT = "pending", "drift"  # db.status --targets (and db.check: drift)
NO_DRIFT = "no-drift"  # db.check --targets
CLEAN, FINDINGS = "clean", "findings"  # db.lint --targets
ROLLED_BACK = "rolled-back"  # db.rollback --targets (up-to-date: nothing after --to TAG is applied)


@dataclass
class TargetResult:
    target: Target
    status: str
    applied: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    undone: list[str] = field(default_factory=list)  # db.rollback: the migrations rolled back, newest first
    error: MigrakitError | None = None
    seconds: float = 0.0
    report: Any = None  # the target's MigrateReport / StatusReport, when it ran to the end
    shown_url: str = ""  # the target's URL as it may be printed: redacted by the pool (workflows/fleet/pool.py)


@dataclass
class FleetReport:
    command: str  # "migrate", "status", "check", "lint" or "rollback"
    source: str  # the targets file, or "--targets-query"
    results: list[TargetResult]
    concurrency: int
    fail_fast: bool = False
    canary: int = 0
    stopped: str | None = None  # why targets were skipped
    seconds: float = 0.0
    signum: int = 0  # the signal that stopped the run (SIGINT 2, SIGTERM 15), 0: none

    def of(self, status: str) -> list[TargetResult]:
        return [r for r in self.results if r.status == status]

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def exit_code(self) -> int:
        """The shell's code for the signal that stopped the run (130 SIGINT, 143 SIGTERM); else the exit code
        of the first failed target in the targets' order (its error's own code); for db.lint, 7 when a target
        has a finding at --fail-on; for db.status and db.check, 3 when a target has drift; 0 when every target
        succeeded."""
        if self.signum:
            return 128 + self.signum
        failed = self.of(FAILED)
        if failed:
            return failed[0].error.exit_code if failed[0].error is not None else 1
        if self.of(SKIPPED):  # interrupted: never green while targets were left out
            return 1
        if self.of(FINDINGS):
            return LintFindings.exit_code
        return 3 if self.of(DRIFT) else 0
