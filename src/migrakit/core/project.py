"""Every migration file of a project as data: the Mode 1 folder, Mode 1 + Mode 2 in run order, the legacy
files (`ProjectFiles`, read by sources/load.py), their plans against tracking rows, and the refusal of an empty
folder while the tracking table has rows. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from migrakit.core.drizzle.folder import Folder
from migrakit.core.drizzle.naming import quoted_table
from migrakit.core.drizzle.row_matching import TrackingUpgrade
from migrakit.core.migration import STANDARD, Migration, TrackingRow
from migrakit.core.plan.planner import DEFAULT_TABLE, Plan, plan
from migrakit.core.settings import Settings
from migrakit.errors import ConfigError


@dataclass(frozen=True)
class EmptyFolder:
    """The words of the refusal of an empty migrations folder, decided where the folder was read."""

    key: str  # the setting: migrations_dir
    shown: str  # the folder as the user sees it
    cause: str  # which value, set where, and what belongs there
    fix: str  # where to point it


@dataclass(frozen=True)
class ProjectFiles:
    """Everything on disk: the Mode 1 folder, Mode 1 + Mode 2 in run order, and the legacy files."""

    folder: Folder
    migrations: tuple[Migration, ...]
    legacy: tuple[Migration, ...] = ()
    table: str = DEFAULT_TABLE  # the tracking table, quoted (for the SQL in a problem's fix)
    empty: EmptyFolder | None = None  # how to refuse an empty migrations folder (sources/load.py words it)

    @property
    def others(self) -> tuple[Migration, ...]:
        """Every file besides the Mode 1 folder's (consolidated, legacy): their rows need names too in a 1.0 table."""
        return (*(m for m in self.migrations if m.mode != STANDARD), *self.legacy)

    @property
    def sequence_hashes(self) -> frozenset[str]:
        """Hashes of rows the Mode 1 / Mode 2 sequence explains (its files and the migrations consolidations
        replaced)."""
        return frozenset({m.hash for m in self.migrations} | {r.hash for m in self.migrations for r in m.replaces})

    def plan(
        self, rows: Sequence[TrackingRow], *, out_of_order: bool = False, up: TrackingUpgrade | None = None
    ) -> Plan:
        """Mode 1 and Mode 2 as one sequence; rows of legacy files (db.bootstrap's) are explained, not unknown."""
        legacy = frozenset(m.hash for m in self.legacy)
        return plan(self.migrations, rows, layout=self.folder.layout, out_of_order=out_of_order, upgrade=up,
                    known_hashes=legacy, table=self.table)  # fmt: skip

    def legacy_plan(self, rows: Sequence[TrackingRow]) -> Plan:
        """The legacy files against the rows; rows the Mode 1 / Mode 2 sequence explains are not unknown."""
        return plan(self.legacy, rows, layout=None, known_hashes=self.sequence_hashes, table=self.table)


def table_name(settings: Settings) -> str:
    """The tracking table as messages name it: `"drizzle"."__drizzle_migrations"`."""
    return quoted_table(settings.migrations_schema, settings.migrations_table)


def refuse_empty_folder(
    settings: Settings, src: ProjectFiles, rows: Sequence[TrackingRow], allow_empty: bool | None
) -> None:
    """No Mode 1 or Mode 2 migration on disk while the tracking table has rows of migrations (not only legacy
    files'): most likely the wrong folder, so exit 2 unless `--allow-empty` says the empty folder is meant.
    `allow_empty=None`: the task has no --allow-empty (db.check, db.baseline): refuse without offering it."""
    if allow_empty or src.migrations or src.empty is None:
        return
    legacy = {m.hash for m in src.legacy}
    tracked = [r for r in rows if r.hash not in legacy]
    if not tracked:
        return
    e = src.empty
    raise ConfigError(
        f"{e.key} {e.shown}/ holds no migration, but the tracking table {table_name(settings)} "
        f"has {len(tracked)} row(s)",
        cause=e.cause,
        state="nothing was run",
        fix=e.fix + ("; if the folder is meant to be empty, pass --allow-empty" if allow_empty is not None else ""),
    )
