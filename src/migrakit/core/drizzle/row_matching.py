"""Which Drizzle 1.0 folder each row of a tracking table stands for, matched as Drizzle 1.0's migrator matches them,
and so what upgrading the table to Drizzle 1.0's shape would change (`TrackingUpgrade`: columns to add, names to
write). Pure: reading the table and changing it is db/tracking_shape.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from migrakit.core.drizzle.naming import locale_key, v1_folder_name
from migrakit.core.migration import STANDARD, Migration, TrackingRow


class MatchedBy(StrEnum):
    """How a row was given its folder name (the value is what the upgrade's plan shows)."""

    TIME = "created_at"  # the only folder of the row's second, as Drizzle 1.0 matches
    TIME_AND_HASH = "created_at+hash"  # several folders of that second: the one with the row's hash
    HASH = "hash"  # no folder of that second: the folder with the row's hash
    OWN_FILE = "hash (migrakit file)"  # a consolidated or legacy file, or a migration a consolidation replaced


BY_TIME, BY_TIME_AND_HASH = MatchedBy.TIME, MatchedBy.TIME_AND_HASH
BY_HASH, BY_OWN_FILE = MatchedBy.HASH, MatchedBy.OWN_FILE


@dataclass(frozen=True)
class RowMatch:
    row: TrackingRow
    name: str  # the folder name written into `name`
    how: MatchedBy
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
    found: Migration | None
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
        add_columns=not table_v1,
        matches=tuple(matches),
        unmatched=tuple(unmatched),
        rows=tuple(sorted(rows, key=lambda r: r.id)),
    )
