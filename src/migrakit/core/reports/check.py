"""What the checking commands return, as data for render/ (pure): one named check and its lines (env.check,
legacy.retire), env.check's report, and db.check's (the schema a shadow built compared with the target's)."""

from __future__ import annotations

from dataclasses import dataclass, field

from migrakit.core.attribution import LegacyProof
from migrakit.core.differences import SchemaDiff
from migrakit.core.plan.planner import Plan, Problem
from migrakit.errors import DriftError, MigrakitError


@dataclass(frozen=True)
class Check:
    """One named check (env.check, legacy.retire's preconditions): what was found, and the fix when it failed."""

    name: str
    ok: bool
    found: str
    fix: str | None = None
    error: MigrakitError | None = None


def check_lines(checks: list[Check]) -> list[str]:
    """`ok   name: found` / `FAIL name: found` and its fix, one check after the other."""
    lines = []
    for c in checks:
        lines.append(f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.found}")
        if not c.ok and c.fix:
            lines.append(f"     fix: {c.fix}")
    return lines


@dataclass
class EnvReport:
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    @property
    def exit_code(self) -> int:
        """0: a failed check raises the first failure's error (its code) instead of returning."""
        return 0


@dataclass
class CheckReport:
    target: str
    shadow: str
    plan: Plan
    diff: SchemaDiff
    legacy_files: list[str] = field(default_factory=list)
    legacy_unrecorded: list[str] = field(default_factory=list)  # legacy files whose hash no tracking row carries
    legacy_problems: tuple[Problem, ...] = ()  # e.g. a legacy file edited after db.bootstrap ran it
    notes: list[str] = field(default_factory=list)
    made_by: dict[str, str] = field(default_factory=dict)  # difference's object -> "file (what it does to it)"
    legacy_proofs: list[LegacyProof] = field(default_factory=list)  # per legacy file without a row
    next_step: str | None = None  # the db.bootstrap command that adopts the proven files and runs the rest

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self.plan.problems + self.legacy_problems

    @property
    def drifted(self) -> bool:
        return not self.diff.equal or any(p.blocking for p in self.problems)

    @property
    def exit_code(self) -> int:
        return DriftError.exit_code if self.drifted else 0
