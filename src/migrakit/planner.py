"""Decide what is applied and what is pending, and where Drizzle's own migrator would disagree. Pure.

migrakit's rule: a migration is applied when a tracking row carries its hash (rows are matched one to
one, preferring the row whose created_at equals the migration's `when`, so two files with identical
bytes still need two rows). Drizzle 0.x's rule is different: it reads only the newest created_at and
applies entries whose `when` is later. Drizzle 1.0 decides by `name`. Every disagreement is a Problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from .migration import Migration

# Problem kinds
EDITED = "edited"  # a row ran this migration, but the file changed since (hash differs)
SKIPPED_BY_DRIZZLE = "skipped-by-drizzle"  # pending, but `when` <= newest created_at: Drizzle never runs it
UNKNOWN_ROW = "unknown-row"  # a row that matches no migration file
REPLACED_PARTIAL = "replaced-partial"  # a consolidation whose replaced migrations ran only in part


@dataclass(frozen=True)
class TrackingRow:
    id: int
    hash: str
    created_at: int | None
    name: str | None = None


@dataclass(frozen=True)
class Problem:
    kind: str
    message: str
    migration: str | None = None
    file: str | None = None
    fix: str | None = None
    blocking: bool = True  # migrate refuses to run while a blocking problem stands


@dataclass(frozen=True)
class Plan:
    migrations: tuple[Migration, ...]
    applied: tuple[tuple[Migration, TrackingRow], ...]
    pending: tuple[Migration, ...]
    problems: tuple[Problem, ...] = ()
    unknown_rows: tuple[TrackingRow, ...] = ()
    drizzle_pending: tuple[str, ...] = ()  # tags Drizzle's own migrator would apply now
    recorded_without_running: tuple[Migration, ...] = field(default=())  # consolidations proven by hash

    @property
    def blocking(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.blocking)

    def state_of(self, migration: Migration) -> str:
        if any(m is migration for m, _ in self.applied):
            return "applied"
        if any(m is migration for m in self.recorded_without_running):
            return "replaced-applied"
        if any(p.migration == migration.tag and p.kind == EDITED for p in self.problems):
            return "edited"
        return "pending"


def _match_rows(migrations: Sequence[Migration], rows: Sequence[TrackingRow]) -> dict[int, TrackingRow]:
    """Pair each migration (by position) with at most one row: same hash and same created_at first,
    then same hash alone. Linear in rows + migrations."""
    by_hash: dict[str, list[TrackingRow]] = {}
    for row in rows:
        by_hash.setdefault(row.hash, []).append(row)
    matched: dict[int, TrackingRow] = {}
    used: set[int] = set()
    for exact in (True, False):
        for pos, m in enumerate(migrations):
            if pos in matched:
                continue
            for row in by_hash.get(m.hash, ()):
                if row.id in used or (exact and row.created_at != m.when):
                    continue
                matched[pos] = row
                used.add(row.id)
                break
    return matched


def plan(
    migrations: Sequence[Migration],
    rows: Sequence[TrackingRow],
    *,
    layout: str = "journal",
    out_of_order: bool = False,
) -> Plan:
    """Applied, pending and problems for `migrations` (in authoritative order) against tracking `rows`."""
    matched = _match_rows(migrations, rows)
    used_ids = {r.id for r in matched.values()}
    leftover = [r for r in rows if r.id not in used_ids]
    leftover_by_when: dict[int | None, TrackingRow] = {r.created_at: r for r in leftover}
    leftover_by_name: dict[str | None, TrackingRow] = {r.name: r for r in leftover if r.name}
    newest = _drizzle_newest(rows) if rows else None

    applied: list[tuple[Migration, TrackingRow]] = []
    pending: list[Migration] = []
    problems: list[Problem] = []
    edited_rows: set[int] = set()

    for pos, m in enumerate(migrations):
        row = matched.get(pos)
        if row is not None:
            applied.append((m, row))
            continue
        stale = leftover_by_name.get(m.name) if m.name else leftover_by_when.get(m.when)
        if stale is not None and stale.id not in edited_rows:
            edited_rows.add(stale.id)
            problems.append(
                Problem(
                    EDITED,
                    f"{m.tag} was applied (row id {stale.id}, hash {stale.hash[:12]}) but its file has changed "
                    f"since (hash now {m.hash[:12]})",
                    migration=m.tag,
                    file=m.path,
                    fix=f"restore {m.path} to what ran (`git log -p -- {m.path}`) and put the change in a new "
                    "migration (`inv db.generate --custom NAME`)",
                )
            )
            continue
        pending.append(m)
        if layout == "journal" and newest is not None and m.when <= newest and not out_of_order:
            problems.append(
                Problem(
                    SKIPPED_BY_DRIZZLE,
                    f"{m.tag} is pending but its `when` ({m.when}) is not after the newest applied created_at "
                    f"({newest}): Drizzle's migrator would skip it forever",
                    migration=m.tag,
                    file=m.path,
                    fix="usually a merge of branches: run `inv db.migrate --out-of-order` to apply it here, and "
                    "give it a later `when` in meta/_journal.json before other environments run Drizzle",
                )
            )

    unknown = tuple(r for r in leftover if r.id not in edited_rows)
    for r in unknown:
        problems.append(
            Problem(
                UNKNOWN_ROW,
                f"tracking row id {r.id} (hash {r.hash[:12]}, created_at {r.created_at}"
                + (f", name {r.name}" if r.name else "")
                + ") matches no migration file",
                fix="a migration file was deleted or renamed, or this database belongs to another branch; "
                "restore the file or check the --migrations-dir",
                blocking=False,
            )
        )

    return Plan(
        migrations=tuple(migrations),
        applied=tuple(applied),
        pending=tuple(pending),
        problems=tuple(problems),
        unknown_rows=unknown,
        drizzle_pending=drizzle_would_apply(migrations, rows, layout=layout),
    )


def drizzle_would_apply(migrations: Sequence[Migration], rows: Sequence[TrackingRow], *, layout: str) -> tuple[str, ...]:
    """Tags that Drizzle's own migrator would apply now (0.x: by newest created_at; 1.0: by name)."""
    if layout == "v1":
        names = {r.name for r in rows}
        return tuple(m.tag for m in migrations if m.name not in names)
    if not rows:
        return tuple(m.tag for m in migrations)
    newest = _drizzle_newest(rows)
    return tuple(m.tag for m in migrations if newest < m.when)


def _drizzle_newest(rows: Sequence[TrackingRow]) -> int:
    """Drizzle's `order by created_at desc limit 1`: NULL sorts first there, and Number(null) is 0."""
    if any(r.created_at is None for r in rows):
        return 0
    return max(r.created_at for r in rows if r.created_at is not None)
