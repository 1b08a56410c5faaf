"""Upgrade Drizzle 0.x's tracking table to Drizzle 1.0's, as Drizzle 1.0's migrator does it, but only on request.

Drizzle 1.0 (`drizzle-orm/up-migrations/pg.ts`) upgrades a table without a `name` column on its first run: it
matches every row to a local migration folder, then adds `name` and `applied_at` and writes each row's folder
name (applied_at NULL: the time is unknown) in one transaction. migrakit does the same matching
(`plan_tracking_upgrade`, pure) and shows it first; the table changes only with `--yes`
(`inv db.upgrade-tracking --yes`, or `inv db.migrate --upgrade-tracking` in a deploy). Nothing is re-run.

Matching, per row in id order (Drizzle's rule, kept quirk for quirk):
  1. created_at truncated to whole seconds (its decimal text minus the last 3 digits, plus "000") is
     compared with each folder's `when` (the Date.UTC of its 14-digit prefix);
  2. one folder with that second -> that folder (even when the hash differs: the file was edited since);
     several -> the one with the row's hash, or none;
  3. no folder with that second -> the folder with the row's hash (the last one, in folder order).
A row that matches nothing makes Drizzle refuse the whole upgrade; migrakit reports those rows. Rows of
migrakit's own files that are not Drizzle folders (consolidated and legacy files, and the journal migrations a
consolidation replaced) are matched by hash after that and get the name migrakit writes for them in a 1.0
table, so that an upgrade Drizzle 1.0 would refuse goes through, and Drizzle 1.0 then sees a 1.0 table.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

from . import server, tracking
from .config import Settings
from .errors import DriftError, MigrakitError
from .executor import migration_lock
from .layout import v1_folder_name
from .migration import STANDARD, Migration
from .planner import TrackingRow
from .sources import V1, Folder, locale_key

BY_TIME = "created_at"
BY_TIME_AND_HASH = "created_at+hash"
BY_HASH = "hash"
BY_OWN_FILE = "hash (migrakit file)"  # a consolidated or legacy file, or a migration a consolidation replaced


@dataclass(frozen=True)
class RowMatch:
    row: TrackingRow
    name: str  # the folder name written into `name`
    how: str  # BY_TIME, BY_TIME_AND_HASH or BY_HASH
    hash_differs: bool = False  # matched by time alone, but the folder's file has another hash now


@dataclass(frozen=True)
class TrackingUpgrade:
    """What upgrading the tracking table would do. `add_columns` is False when the table already has
    Drizzle 1.0's columns and only rows without a name (written by Drizzle 0.x meanwhile) are to be named."""

    add_columns: bool
    matches: tuple[RowMatch, ...] = ()
    unmatched: tuple[TrackingRow, ...] = ()
    rows: tuple[TrackingRow, ...] = field(default=(), repr=False)  # every row of the table, by id

    @property
    def possible(self) -> bool:
        return not self.unmatched

    @property
    def changes(self) -> bool:
        return self.add_columns or bool(self.matches)

    def rows_after(self) -> tuple[TrackingRow, ...]:
        """The table's rows as they would read after the upgrade."""
        names = {m.row.id: m.name for m in self.matches}
        return tuple(replace(r, name=names.get(r.id, r.name)) for r in self.rows)


def _second_of(created_at: int | None) -> int | None:
    """Drizzle's `Number(String(created_at)` minus its last 3 characters `+ "000")`; None is its NaN."""
    if created_at is None:
        return None
    text = str(created_at)
    return int(text[: max(len(text) - 3, 0)] + "000")


def own_file_names(migrations: Sequence[Migration]) -> dict[str, str]:
    """hash -> the name migrakit writes in a 1.0 table, for migrakit's files that are not Drizzle folders:
    consolidated and legacy files (their tag), and the journal migrations a consolidation replaced (named as
    `drizzle-kit up` would have named their folders)."""
    names: dict[str, str] = {}
    for m in migrations:
        if m.mode != STANDARD:
            names.setdefault(m.hash, m.name or m.tag)
        for r in m.replaces:
            names.setdefault(r.hash, v1_folder_name(r.when, r.tag))
    return names


def plan_tracking_upgrade(
    rows: Sequence[TrackingRow],
    migrations: Sequence[Migration],
    *,
    table_v1: bool = False,
    own_files: Mapping[str, str] | None = None,
) -> TrackingUpgrade:
    """Match tracking rows to Drizzle 1.0 folders as Drizzle 1.0 does. Pure.

    `table_v1` False: a 0.x table, every row is matched and the columns are to be added. True: the table has
    Drizzle 1.0's columns; only rows whose `name` is NULL are matched (a repair Drizzle itself never does).
    `own_files` (see own_file_names): rows of those files are matched there by hash, when Drizzle's rule
    finds no folder or a folder with another hash."""
    own_files = own_files or {}
    ordered = sorted(migrations, key=lambda m: (m.when, locale_key(m.name or m.tag)))
    by_second: dict[int, list[Migration]] = {}
    by_hash: dict[str, Migration] = {}
    for m in ordered:
        by_second.setdefault(m.when, []).append(m)
        by_hash[m.hash] = m  # later folders win, as Map.set does
    matches: list[RowMatch] = []
    unmatched: list[TrackingRow] = []
    for row in sorted(rows, key=lambda r: r.id):
        if table_v1 and row.name is not None:
            continue
        second = _second_of(row.created_at)
        candidates = by_second.get(second, []) if second is not None else []
        if len(candidates) == 1:
            found, how = candidates[0], BY_TIME
        elif candidates:
            found, how = next((c for c in candidates if c.hash == row.hash), None), BY_TIME_AND_HASH
        else:
            found, how = by_hash.get(row.hash), BY_HASH
        if (found is None or found.hash != row.hash) and row.hash in own_files:
            # Drizzle would refuse the row, or give it a folder of that second whose file it is not
            matches.append(RowMatch(row, own_files[row.hash], BY_OWN_FILE))
        elif found is None:
            unmatched.append(row)
        else:
            matches.append(RowMatch(row, found.name or found.tag, how, found.hash != row.hash))
    return TrackingUpgrade(
        add_columns=not table_v1, matches=tuple(matches), unmatched=tuple(unmatched), rows=tuple(sorted(rows, key=lambda r: r.id))
    )


# ---------------------------------------------------------------------------------------------- acting
def needed(
    conn: Any, settings: Settings, folder: Folder, rows: Sequence[TrackingRow], others: Sequence[Migration] = ()
) -> TrackingUpgrade | None:
    """The upgrade this database needs for `folder`, or None: only a Drizzle 1.0 folder needs one, when the
    table lacks `name` (Drizzle 0.x's table) or holds rows without a name. `others`: migrakit's other files
    (consolidated, legacy), whose rows are named too."""
    schema, table = settings.migrations_schema, settings.migrations_table
    if folder.layout != V1 or not tracking.table_exists(conn, schema, table):
        return None
    table_v1 = tracking.has_name_column(conn, schema, table)
    if table_v1 and all(r.name is not None for r in rows):
        return None
    return plan_tracking_upgrade(rows, folder.migrations, table_v1=table_v1, own_files=own_file_names(others))


def unmatched_error(up: TrackingUpgrade, settings: Settings, folder: Folder) -> DriftError:
    return DriftError(
        f"{len(up.unmatched)} tracking row(s) match no migration folder in {folder.path.name}/, so the tracking "
        "table cannot be upgraded (Drizzle 1.0's migrator refuses the same way)",
        file=str(folder.path),
        state="nothing was changed",
        fix="restore the missing migration folders (e.g. from git; a journal folder converts with "
        "`inv db.upgrade-layout --yes`), or check --migrations-dir and the database",
        details=[f"row id {r.id}: hash {r.hash[:12]}, created_at {r.created_at}" for r in up.unmatched],
    )


def apply(conn: Any, settings: Settings, up: TrackingUpgrade) -> None:
    """Add the columns (0.x table) and write the names, in one transaction."""
    tracking.upgrade_to_v1(
        conn,
        settings.migrations_schema,
        settings.migrations_table,
        [(m.row.id, m.name) for m in up.matches],
        clear_applied_at=up.add_columns,
    )


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


def upgrade_tracking(settings: Settings, *, yes: bool = False) -> UpgradeTrackingReport:
    """Show, and with `yes` do, the upgrade of the tracking table to Drizzle 1.0's columns and names."""
    from .runner import load_sources  # runner uses this module for db.migrate --upgrade-tracking

    src = load_sources(settings)
    folder, others = src.folder, src.others
    schema, table = settings.migrations_schema, settings.migrations_table
    shown_table = f'"{schema}"."{table}"'
    if folder.layout != V1:
        raise MigrakitError(
            f"{folder.path.name}/ is not in Drizzle 1.0's folder layout: the names to write come from its folders",
            file=str(folder.path),
            state="nothing was changed",
            fix="convert the folder first: `inv db.upgrade-layout` shows the plan, `--yes` converts it",
        )
    target = server.resolve_target(settings)
    conn = server.connect(target.url, autocommit=True)
    try:
        with migration_lock(conn, schema, table, timeout=settings.lock_wait_timeout):
            rows = tracking.read_rows(conn, schema, table)
            up = needed(conn, settings, folder, rows, others)
            report = UpgradeTrackingReport(target.display, folder, shown_table, up)
            if up is None:
                report.note = (
                    "the tracking table already has Drizzle 1.0's columns and every row has a name"
                    if tracking.table_exists(conn, schema, table)
                    else "there is no tracking table yet: `inv db.migrate` creates Drizzle 1.0's table"
                )
                return report
            if not up.possible:
                raise unmatched_error(up, settings, folder)
            if yes and up.changes:
                apply(conn, settings, up)
                report.applied = True
            return report
    finally:
        conn.close()
