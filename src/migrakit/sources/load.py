"""All of a project's migration files at once: the Mode 1 folder, the consolidated folder and the legacy
folder, in run order (`load_sources`), and the plans read against tracking rows. Every command that reads
the files starts here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..core.folder import Folder
from ..core.migration import STANDARD, Migration, TrackingRow
from ..core.planner import DEFAULT_TABLE, Plan, order_sequence, plan
from ..core.settings import Settings
from ..core.tracking_upgrade import TrackingUpgrade
from ..errors import ConfigError
from .consolidated import load_consolidated
from .folders import MIGRATIONS_EXPECTED, check_folders, display_path, folder_fix, load_folder, require_folder, said
from .legacy import load_legacy


@dataclass(frozen=True)
class Sources:
    """Everything on disk: the Mode 1 folder, Mode 1 + Mode 2 in run order, and the legacy files."""

    folder: Folder
    migrations: tuple[Migration, ...]
    legacy: tuple[Migration, ...] = ()
    table: str = DEFAULT_TABLE  # the tracking table, quoted (for the SQL in a problem's fix)

    @property
    def others(self) -> tuple[Migration, ...]:
        """Every file besides the Mode 1 folder's (consolidated, legacy): their rows need names too in a 1.0 table."""
        return (*(m for m in self.migrations if m.mode != STANDARD), *self.legacy)

    @property
    def sequence_hashes(self) -> frozenset[str]:
        """Hashes of rows the Mode 1 / Mode 2 sequence explains (its files and the migrations consolidations replaced)."""
        return frozenset({m.hash for m in self.migrations} | {r.hash for m in self.migrations for r in m.replaces})

    def plan(self, rows: Sequence[TrackingRow], *, out_of_order: bool = False, up: TrackingUpgrade | None = None) -> Plan:
        """Mode 1 and Mode 2 as one sequence; rows of legacy files (db.bootstrap's) are explained, not unknown."""
        legacy = frozenset(m.hash for m in self.legacy)
        return plan(self.migrations, rows, layout=self.folder.layout, out_of_order=out_of_order, upgrade=up,
                    known_hashes=legacy, table=self.table)  # fmt: skip

    def legacy_plan(self, rows: Sequence[TrackingRow]) -> Plan:
        """The legacy files against the rows; rows the Mode 1 / Mode 2 sequence explains are not unknown."""
        return plan(self.legacy, rows, layout="legacy", known_hashes=self.sequence_hashes, table=self.table)


def load_sources(settings: Settings, *, require_migrations: bool = True, require_legacy: bool = False) -> Sources:
    """Read the Mode 1 folder, the consolidated folder and (when configured) the legacy folder, after
    `check_folders` (a missing folder is a ConfigError, never an empty one).

    `require_legacy` (db.bootstrap): the legacy folder must be configured and exist, checked and read first.

    Run order: Mode 1 in journal order; each consolidation right before the first Mode 1 migration whose
    `when` is later than its own (see planner.order_sequence)."""
    legacy = _required_legacy(settings) if require_legacy else None
    check_folders(settings, migrations=require_migrations)
    folder = load_folder(settings.migrations_dir, settings.root)
    consolidated = load_consolidated(settings.consolidated_dir, settings.root, [m.tag for m in folder.migrations])
    if legacy is None:
        legacy = load_legacy(settings.legacy_dir, settings.root, required=False)
    table = ".".join('"' + part.replace('"', '""') + '"' for part in (settings.migrations_schema, settings.migrations_table))
    return Sources(folder, order_sequence(folder.migrations, consolidated), legacy, table)


def _required_legacy(settings: Settings) -> tuple[Migration, ...]:
    if settings.legacy_dir is not None:
        key = "legacy_dir"
        require_folder(
            settings.legacy_dir, settings.root, key=key, origin=settings.origin(key),
            expected="the old runner's journal-less .sql files (e.g. 022_add_accounts.sql)",
            fix=folder_fix(settings, key, "the folder of the legacy .sql files"),
        )
    return load_legacy(settings.legacy_dir, settings.root)


def table_name(settings: Settings) -> str:
    """The tracking table as messages name it: `"drizzle"."__drizzle_migrations"`."""
    return f'"{settings.migrations_schema}"."{settings.migrations_table}"'


def refuse_empty_folder(
    settings: Settings, src: Sources, rows: list[TrackingRow], allow_empty: bool | None
) -> None:
    """No Mode 1 or Mode 2 migration on disk while the tracking table has rows of migrations (not only legacy
    files'): most likely the wrong folder, so exit 2 unless `--allow-empty` says the empty folder is meant.
    `allow_empty=None`: the task has no --allow-empty (db.check, db.baseline): refuse without offering it."""
    if allow_empty or src.migrations:
        return
    legacy = {m.hash for m in src.legacy}
    tracked = [r for r in rows if r.hash not in legacy]
    if not tracked:
        return
    key = "migrations_dir"
    shown = display_path(settings.migrations_dir, settings.root)
    origin = settings.origin(key)
    raise ConfigError(
        f"{key} {shown}/ holds no migration, but the tracking table {table_name(settings)} has {len(tracked)} row(s)",
        cause=f"{key} = {shown!r} ({'the default' if origin == 'the default' else 'set by ' + said(origin)}); "
        f"expected {MIGRATIONS_EXPECTED}",
        state="nothing was run",
        fix=folder_fix(settings, key, "the folder these migrations came from")
        + ("; if the folder is meant to be empty, pass --allow-empty" if allow_empty is not None else ""),
    )
