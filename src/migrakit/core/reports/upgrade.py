"""What db.upgrade-layout (a journal folder moved into Drizzle 1.0's layout) and db.upgrade-tracking (the tracking
table given Drizzle 1.0's columns and names) plan or did, as data for render/ (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from migrakit.core.drizzle.folder import Folder
from migrakit.core.drizzle.row_matching import TrackingUpgrade
from migrakit.errors import ConfirmationRequired

if TYPE_CHECKING:
    from pathlib import Path


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
