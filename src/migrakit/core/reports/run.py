"""What db.status, db.migrate (and db.migrate-consolidated) and db.bootstrap return, as data for render/ (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from migrakit.core.attribution import LegacyProof
from migrakit.core.connection import DIRECT, Pooler
from migrakit.core.drizzle.folder import Folder
from migrakit.core.plan.planner import Plan
from migrakit.errors import DriftError


@dataclass
class StatusReport:
    target: str
    folder: Folder
    plan: Plan
    table: str
    table_exists: bool
    legacy: Plan | None = None  # the legacy folder's files (db.bootstrap), when one is configured
    connection: Pooler = DIRECT  # a pooler between migrakit and the server, if one was seen

    @property
    def ok(self) -> bool:
        """False (exit 3) on a blocking problem or on duplicated tracking rows: a migration that ran twice
        needs a human even though nothing blocks the next deploy."""
        plans = [self.plan, *([self.legacy] if self.legacy is not None else [])]
        return not self.plan.blocking and not any(p.duplicate_rows for p in plans)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else DriftError.exit_code


@dataclass
class MigrateReport:
    target: str
    folder: Folder
    plan: Plan
    applied: list[str] = field(default_factory=list)
    dry_run: bool = False
    recorded: list[str] = field(default_factory=list)  # consolidations recorded without running (proven by hash)
    tracking_upgraded: int | None = None  # rows named by --upgrade-tracking in this run
    to: str | None = None  # --to: the last migration this run may apply (resolved tag)
    to_already_applied: bool = False  # --to named a migration that is already applied: nothing to do
    held_back: list[str] = field(default_factory=list)  # pending migrations after --to, left pending

    @property
    def exit_code(self) -> int:
        """0: a run that returns did what it was asked (every failure raises a MigrakitError with its own code)."""
        return 0


@dataclass
class BootstrapReport:
    target: str
    legacy_dir: str
    plan: Plan
    applied: list[str] = field(default_factory=list)
    dry_run: bool = False
    to_run: list[str] = field(default_factory=list)  # pending files this run executes
    adopt: list[str] = field(default_factory=list)  # pending files this run records without running (proven)
    recorded: list[str] = field(default_factory=list)  # ... and those it recorded
    already: list[str] = field(default_factory=list)  # files named by --only/--adopt that already have a row
    left: list[str] = field(default_factory=list)  # pending files this run leaves pending
    proofs: list[LegacyProof] = field(default_factory=list)  # the proof of each adopted file

    @property
    def exit_code(self) -> int:
        """0: a run that returns did what it was asked (every failure raises a MigrakitError with its own code)."""
        return 0
