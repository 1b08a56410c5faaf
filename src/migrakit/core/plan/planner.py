"""Decide what is applied and what is pending, and where Drizzle's own migrator would disagree. Pure.

migrakit's rule: a migration is applied when a tracking row carries its hash (rows are matched one to
one, preferring the row whose created_at equals the migration's `when`, so two files with identical
bytes still need two rows). Drizzle 0.x's rule is different: it reads only the newest created_at and
applies entries whose `when` is later. Drizzle 1.0 decides by `name`. Every disagreement is a Problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from migrakit.core.drizzle.row_matching import TrackingUpgrade
from migrakit.core.migration import STANDARD, Layout, Migration, TrackingRow


class ProblemKind(StrEnum):
    """Where the tracking table and the files disagree (the value is what status and --json show)."""

    EDITED = "edited"  # a row ran this migration, but the file changed since (hash differs)
    SKIPPED_BY_DRIZZLE = "skipped-by-drizzle"  # pending, but `when` <= newest created_at: Drizzle never runs it
    UNKNOWN_ROW = "unknown-row"  # a row that matches no migration file
    REPLACED_PARTIAL = "replaced-partial"  # a consolidation whose replaced migrations ran only in part
    TRACKING_UPGRADE = "tracking-upgrade"  # Drizzle 0.x's table with a Drizzle 1.0 folder: upgrade it first
    DRIZZLE_WOULD_RERUN = "drizzle-would-rerun"  # v1: applied by hash, but no row carries its folder name
    DUPLICATE_ROWS = "duplicate-rows"  # more rows carry a migration's hash than files do (it ran or was written twice)


EDITED, SKIPPED_BY_DRIZZLE, UNKNOWN_ROW = ProblemKind.EDITED, ProblemKind.SKIPPED_BY_DRIZZLE, ProblemKind.UNKNOWN_ROW
REPLACED_PARTIAL, TRACKING_UPGRADE = ProblemKind.REPLACED_PARTIAL, ProblemKind.TRACKING_UPGRADE
DRIZZLE_WOULD_RERUN, DUPLICATE_ROWS = ProblemKind.DRIZZLE_WOULD_RERUN, ProblemKind.DUPLICATE_ROWS

DEFAULT_TABLE = '"drizzle"."__drizzle_migrations"'


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    message: str
    migration: str | None = None
    file: str | None = None
    fix: str | None = None
    blocking: bool = True  # migrate refuses to run while a blocking problem stands


# Every state a migration of a plan can be in (Plan.state_of), in the order db.status counts them.
STATES = ("applied", "replaced-applied", "edited", "replaced-partial", "pending")


@dataclass(frozen=True)
class Plan:
    migrations: tuple[Migration, ...]
    applied: tuple[tuple[Migration, TrackingRow], ...]
    pending: tuple[Migration, ...]
    problems: tuple[Problem, ...] = ()
    unknown_rows: tuple[TrackingRow, ...] = ()
    drizzle_pending: tuple[str, ...] = ()  # tags Drizzle's own migrator would apply now
    recorded_without_running: tuple[Migration, ...] = field(default=())  # consolidations proven by hash
    tracking_upgrade: TrackingUpgrade | None = None  # what `inv db.upgrade-tracking --yes` would do
    duplicate_rows: tuple[tuple[str, TrackingRow], ...] = ()  # (tag of the migration it duplicates, the extra row)

    @property
    def blocking(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.blocking)

    @cached_property
    def _states(self) -> dict[int, str]:
        """State of each migration by identity, computed once: status on 10,000 migrations stays linear."""
        states = {id(m): "pending" for m in self.migrations}
        by_tag = {m.tag: id(m) for m in self.migrations}
        for p in self.problems:
            if p.kind in (EDITED, REPLACED_PARTIAL) and p.migration in by_tag:
                states[by_tag[p.migration]] = "edited" if p.kind == EDITED else "replaced-partial"
        states.update((id(m), "replaced-applied") for m in self.recorded_without_running)
        states.update((id(m), "applied") for m, _ in self.applied)
        return states

    def state_of(self, migration: Migration) -> str:
        return self._states.get(id(migration), "pending")

    def state_counts(self) -> dict[str, int]:
        """How many migrations are in each state, every migration counted once, in STATES' order (a state no
        migration is in is left out): what db.status's count line and its JSON `state_counts` say."""
        counts = dict.fromkeys(STATES, 0)
        for state in self._states.values():
            counts[state] += 1
        return {state: n for state, n in counts.items() if n}


def _match_rows(migrations: Sequence[Migration], rows: Sequence[TrackingRow]) -> dict[int, TrackingRow]:
    """Pair each migration (by position) with at most one row: same hash and same created_at first,
    then same hash alone. Linear in rows + migrations."""
    by_hash: dict[str, list[TrackingRow]] = {}
    for row in rows:
        by_hash.setdefault(row.hash, []).append(row)
    matched: dict[int, TrackingRow] = {}
    used: set[int] = set()
    for exact in (True, False):
        if len(matched) == len(migrations) or len(used) == len(rows):  # nothing left to pair (the usual case)
            break
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
    layout: Layout | None = Layout.JOURNAL,
    out_of_order: bool = False,
    upgrade: TrackingUpgrade | None = None,
    known_hashes: frozenset[str] | set[str] = frozenset(),
    table: str = DEFAULT_TABLE,
) -> Plan:
    """Applied, pending and problems for `migrations` (in authoritative order) against tracking `rows`.

    `layout`: the Mode 1 folder's, which decides Drizzle's own rules; None for files that are no Drizzle folder
    (legacy files run by db.bootstrap): Drizzle's migrator never runs them, so none of its rules apply.
    `upgrade`: a v1 folder on a table that needs `inv db.upgrade-tracking` (see upgrade.py); rows are then
    judged as they will read after it, as Drizzle 1.0 judges them after its own upgrade.
    `known_hashes`: rows that other files explain (legacy files run by db.bootstrap); neither unknown nor stale.
    Rows of migrations a consolidation replaced (by its manifest's hashes) are explained the same way.
    `table`: the tracking table's quoted name, for the SQL in a duplicate row's fix.

    A row left over after matching whose hash is that of a migration matched to another row is a duplicate
    (two racing deploys through a transaction pooler wrote it, or a hand-made INSERT): reported as such, with
    the exact DELETE that keeps the oldest row, and never as "matches no migration file"."""
    if upgrade is not None and upgrade.add_columns and upgrade.possible:
        rows = upgrade.rows_after()
    matched = _match_rows(migrations, rows)
    used_ids = {r.id for r in matched.values()}
    explained = set(known_hashes) | {r.hash for m in migrations for r in m.replaces}
    leftover = [r for r in rows if r.id not in used_ids and r.hash not in explained]
    matched_tags = {row.hash: migrations[pos].tag for pos, row in sorted(matched.items())}
    duplicates = [(matched_tags[r.hash], r) for r in leftover if r.hash in matched_tags]
    leftover = [r for r in leftover if r.hash not in matched_tags]
    leftover_by_when: dict[int | None, TrackingRow] = {r.created_at: r for r in leftover}
    leftover_by_name: dict[str | None, TrackingRow] = {r.name: r for r in leftover if r.name}
    newest = _drizzle_newest(rows) if rows else None

    applied: list[tuple[Migration, TrackingRow]] = []
    pending: list[Migration] = []
    problems: list[Problem] = []
    edited_rows: set[int] = set()
    recorded: list[Migration] = []

    for pos, m in enumerate(migrations):
        row = matched.get(pos)
        if row is not None:
            applied.append((m, row))
            continue
        if m.replaces:
            ran, missing = _replaced_state(m, rows)
            if not missing:  # proven by hash: every migration it stands for ran here
                recorded.append(m)
                continue
            if ran:
                problems.append(_replaced_partial(m, ran, missing))
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
        if layout == Layout.JOURNAL and newest is not None and m.when <= newest and not out_of_order:
            problems.append(
                Problem(
                    SKIPPED_BY_DRIZZLE,
                    f"{m.tag} is pending but its `when` ({m.when}) is not after the newest applied created_at "
                    f"({newest}): "
                    + (
                        "Drizzle's migrator would skip it forever"
                        if m.mode == STANDARD
                        else "running it now runs it out of order"
                    ),
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

    problems += _duplicate_problems(duplicates, matched, migrations, table)

    drizzle_pending = _drizzle_pending([m for m in migrations if m.mode == STANDARD], rows, layout, upgrade)
    problems += _v1_problems(applied, drizzle_pending, upgrade) if layout == Layout.V1 else []

    return Plan(
        migrations=tuple(migrations),
        applied=tuple(applied),
        pending=tuple(pending),
        problems=tuple(problems),
        unknown_rows=unknown,
        drizzle_pending=drizzle_pending,
        recorded_without_running=tuple(recorded),
        tracking_upgrade=upgrade,
        duplicate_rows=tuple(duplicates),
    )


def _duplicate_problems(
    duplicates: Sequence[tuple[str, TrackingRow]],
    matched: dict[int, TrackingRow],
    migrations: Sequence[Migration],
    table: str,
) -> list[Problem]:
    """One problem per migration with extra rows: which rows, the row that stays (the oldest id, the one the
    plan matched), and the exact DELETE. Not blocking: neither migrakit (one row per file) nor Drizzle (newest
    created_at, or names) runs anything differently because of them; `db.status` exits 3 on them."""
    if not duplicates:  # the usual case: skip indexing every matched migration (10,000 in db.status)
        return []
    extra: dict[str, list[TrackingRow]] = {}
    for tag, r in duplicates:
        extra.setdefault(tag, []).append(r)
    by_tag = {migrations[pos].tag: (migrations[pos], row) for pos, row in matched.items()}
    problems = []
    for tag, rows in extra.items():
        m, matched_row = by_tag[tag]
        kept, *rows = sorted([matched_row, *rows], key=lambda r: r.id)
        ids = ", ".join(str(r.id) for r in rows)
        problems.append(
            Problem(
                DUPLICATE_ROWS,
                f"{tag} has {len(rows) + 1} tracking rows (ids {kept.id}, {ids}; hash {m.hash[:12]}): row id "
                f"{kept.id} records it, the rest are duplicates. It was probably applied {len(rows) + 1} times "
                "(racing deploys, e.g. through a transaction pooler), so data it writes may have been written "
                "more than once: check that data",
                migration=tag,
                file=m.path,
                fix=f"check {m.path}'s data changes (INSERT/UPDATE) for doubled rows and repair them, then delete "
                f"the extra tracking rows, keeping the oldest (id {kept.id}): DELETE FROM {table} WHERE id IN ({ids}) "
                f"AND hash = '{m.hash}';",
                blocking=False,
            )
        )
    return problems


def _replaced_state(m: Migration, rows: Sequence[TrackingRow]) -> tuple[list[str], list[str]]:
    """(tags that ran, tags that did not) of the migrations consolidation `m` replaces: each needs its own
    row with its hash (a row with its `when` as created_at preferred). Hashes only, never table contents."""
    free = list(rows)
    ran: list[str] = []
    missing: list[str] = []
    for r in m.replaces:
        row = next((x for x in free if x.hash == r.hash and x.created_at == r.when), None) or next(
            (x for x in free if x.hash == r.hash), None
        )
        if row is None:
            missing.append(r.tag)
        else:
            free.remove(row)
            ran.append(r.tag)
    return ran, missing


def _replaced_partial(m: Migration, ran: Sequence[str], missing: Sequence[str]) -> Problem:
    return Problem(
        REPLACED_PARTIAL,
        f"{m.tag} replaces {len(m.replaces)} migration(s), but this database ran only {len(ran)} of them "
        f"(ran: {', '.join(ran)}; not run: {', '.join(missing)}): neither running nor recording it is safe",
        migration=m.tag,
        file=m.path,
        fix="bring this database to the state before the consolidation: check out the commit before it "
        f"(`git log -- {m.path}`), run `inv db.migrate` there to apply {', '.join(missing)}, then come back and "
        "run `inv db.migrate` (it records the consolidation); or, for a throwaway database, recreate it",
    )


def order_sequence(standard: Sequence[Migration], consolidated: Sequence[Migration]) -> tuple[Migration, ...]:
    """Mode 1 and Mode 2 as one run order: Mode 1 keeps journal (or folder) order, and each consolidation goes
    right before the first Mode 1 migration whose `when` is later than its own; consolidations among themselves
    by `when`, then tag."""
    rest = sorted(consolidated, key=lambda m: (m.when, m.tag))
    out: list[Migration] = []
    i = 0
    for m in standard:
        while i < len(rest) and rest[i].when < m.when:
            out.append(rest[i])
            i += 1
        out.append(m)
    return (*out, *rest[i:])


def _drizzle_pending(
    migrations: Sequence[Migration], rows: Sequence[TrackingRow], layout: Layout | None, upgrade: TrackingUpgrade | None
) -> tuple[str, ...]:
    """Drizzle 1.0 upgrades a 0.x table before deciding (`rows` already read as upgraded), and applies
    nothing when a row matches no folder. No folder (layout None): nothing Drizzle would run."""
    if layout is None:
        return ()
    if upgrade is not None and upgrade.add_columns and not upgrade.possible:
        return ()
    return drizzle_would_apply(migrations, rows, layout=layout)


def _v1_problems(
    applied: Sequence[tuple[Migration, TrackingRow]], drizzle_pending: Sequence[str], upgrade: TrackingUpgrade | None
) -> list[Problem]:
    problems: list[Problem] = []
    if upgrade is not None and upgrade.add_columns:
        named = len(upgrade.matches)
        problems.append(
            Problem(
                TRACKING_UPGRADE,
                "the tracking table has Drizzle 0.x's columns and the folder is in Drizzle 1.0's layout: "
                + (
                    f"the upgrade would add `name` and `applied_at` and name {named} row(s); nothing re-runs"
                    if upgrade.possible
                    else f"{len(upgrade.unmatched)} row(s) match no folder, "
                    "so neither migrakit nor Drizzle 1.0 can upgrade it"
                ),
                fix="`inv db.upgrade-tracking --yes` (or `inv db.migrate --upgrade-tracking`)"
                if upgrade.possible
                else "restore the missing migration folders, or check --migrations-dir",
                blocking=not upgrade.possible,
            )
        )
    rerun = set(drizzle_pending)
    for m, row in applied:
        if m.tag in rerun:
            problems.append(
                Problem(
                    DRIZZLE_WOULD_RERUN,
                    f"{m.tag} was applied (row id {row.id}) but "
                    + ("that row has no name" if row.name is None else f"that row is named {row.name}")
                    + ": Drizzle 1.0's migrator would run it again",
                    migration=m.tag,
                    file=m.path,
                    fix="`inv db.upgrade-tracking --yes` names the rows Drizzle 0.x added"
                    if row.name is None
                    else f"rename the folder back to {row.name}",
                    blocking=False,
                )
            )
    return problems


def drizzle_would_apply(
    migrations: Sequence[Migration], rows: Sequence[TrackingRow], *, layout: Layout
) -> tuple[str, ...]:
    """Tags that Drizzle's own migrator would apply now (0.x: by newest created_at; 1.0: by name, NULL
    names ignored)."""
    if layout == Layout.V1:
        names = {r.name for r in rows if r.name is not None}
        return tuple(m.tag for m in migrations if not m.name or m.name not in names)
    if not rows:
        return tuple(m.tag for m in migrations)
    newest = _drizzle_newest(rows)
    return tuple(m.tag for m in migrations if newest < m.when)


def _drizzle_newest(rows: Sequence[TrackingRow]) -> int:
    """Drizzle's `order by created_at desc limit 1`: NULL sorts first there, and Number(null) is 0."""
    if any(r.created_at is None for r in rows):
        return 0
    return max(r.created_at for r in rows if r.created_at is not None)
