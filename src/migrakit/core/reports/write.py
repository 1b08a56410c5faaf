"""What the commands that write migrations return, as data for render/ (pure): db.generate's files,
db.count-branch-migrations' count, db.consolidate's plan and report, db.baseline's outcome."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from migrakit.core.migration import CONSOLIDATED, Migration, Replaced, drizzle_hash
from migrakit.errors import ConfirmationRequired, MigrakitError

if TYPE_CHECKING:
    from pathlib import Path


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


# ------------------------------------------------------------------------------------------ db.consolidate
@dataclass(frozen=True)
class ConsolidationPlan:
    stem: str
    when: int
    selection: str  # how the migrations were chosen, for the user
    replaced: tuple[Migration, ...]
    sql_path: Path
    sql_text: str
    manifest_path: Path
    manifest_text: str
    journal_path: Path
    journal_text: str
    delete: tuple[Path, ...]  # replaced .sql files and snapshots
    snapshot_move: tuple[Path, Path] | None = None  # (latest snapshot, the name it is kept under)
    notes: tuple[str, ...] = ()

    @property
    def migration(self) -> Migration:
        """The consolidation as the planner and executor will see it."""
        return Migration(
            tag=self.stem,
            when=self.when,
            path=str(self.sql_path),
            text=self.sql_text,
            hash=drizzle_hash(self.sql_text.encode("utf-8")),
            mode=CONSOLIDATED,
            replaces=tuple(Replaced(m.tag, m.when, m.hash) for m in self.replaced),
        )


@dataclass
class ConsolidationReport:
    plan: ConsolidationPlan
    written: bool = False
    proof: str | None = None
    lint: list[str] = field(default_factory=list)  # db.lint's findings on the written file (tasks/db/write.py)
    shown_paths: Mapping[Path, str] = field(default_factory=dict)  # each of the plan's paths as messages show it

    def shown(self, path: Path) -> str:
        return self.shown_paths.get(path, str(path))

    @property
    def exit_code(self) -> int:
        """5 while only the plan was printed (it needs --yes)."""
        return 0 if self.written else ConfirmationRequired.exit_code


# ------------------------------------------------------------------------------------------ db.baseline
class BaselineOutcome(StrEnum):
    """What db.baseline found or did (JSON `outcome`: the value)."""

    EMPTY = "empty"  # the database holds no schema: nothing to adopt
    IN_SYNC = "in-sync"  # the migrations already produce the live schema
    PLANNED = "planned"  # proven; written and tracked only with --yes
    WRITTEN = "written"  # written, proven, tracked
    ADOPT_PLANNED = "adopt-planned"  # an existing baseline file matches this database; tracked only with --yes
    ADOPTED = "adopted"  # an existing baseline file was proven here and tracked
    LEGACY_PLANNED = "legacy-planned"  # the schema is exactly migrations + legacy files; their rows only with --yes
    LEGACY_RECORDED = "legacy-recorded"  # ... and the legacy files' rows were recorded


EMPTY, IN_SYNC, PLANNED, WRITTEN, ADOPT_PLANNED, ADOPTED, LEGACY_PLANNED, LEGACY_RECORDED = (
    BaselineOutcome.EMPTY, BaselineOutcome.IN_SYNC, BaselineOutcome.PLANNED, BaselineOutcome.WRITTEN,
    BaselineOutcome.ADOPT_PLANNED, BaselineOutcome.ADOPTED, BaselineOutcome.LEGACY_PLANNED,
    BaselineOutcome.LEGACY_RECORDED,
)


@dataclass
class BaselineReport:
    target: str
    outcome: BaselineOutcome
    tag: str | None = None
    files: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    destructive: list[str] = field(default_factory=list)
    legacy: list[str] = field(default_factory=list)  # legacy files recorded (or to record) with the proof
    notes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # every migration of the baseline (its lock-safe sequence)
    fixes: list[str] = field(default_factory=list)  # what core/fix changed to make them lock-safe
    lint: list[str] = field(default_factory=list)  # db.lint's findings on them, measured before they were written

    @property
    def done(self) -> bool:
        """False when the plan was only printed (it needs --yes)."""
        return self.outcome not in (PLANNED, ADOPT_PLANNED, LEGACY_PLANNED)

    @property
    def exit_code(self) -> int:
        return 0 if self.done else ConfirmationRequired.exit_code
