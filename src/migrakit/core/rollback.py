"""`db.rollback`: which applied migrations a rollback undoes, newest first, and what it refuses before anything
runs (a missing or empty down file, a consolidation or legacy file, a down that cannot run as asked, a down that
destroys data on a table with rows without --allow-data-loss). Pure: the plan and the row estimates in, steps out.

Mode 2 (consolidated) and legacy files are refused: one tracking row stands for several migrations whose down
files went away with them (db.consolidate deletes them), so no down is defined; roll back to a migration after
the consolidation. A baseline (db.baseline) is an ordinary Mode 1 migration: it rolls back with its down file
like any other (its down drops what the baseline describes, so it is refused on tables with rows unless
--allow-data-loss).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from migrakit.core.classify import classify
from migrakit.core.migration import STANDARD, Migration, TrackingRow
from migrakit.core.plan.planner import Plan
from migrakit.core.plan.to_tag import resolve_tag
from migrakit.core.postgres.statements import Statement
from migrakit.errors import ConfigError, ConfirmationRequired


@dataclass(frozen=True)
class Loss:
    """A down statement that destroys data: `what` (DROP TABLE, DROP COLUMN "c", TRUNCATE, DELETE) on the table
    `relation` of `schema` (when the statement names none: the target's own, a fleet's schema target's, else
    public)."""

    migration: str
    number: int  # the statement's number in the down file, 1-based
    line: int
    col: int
    what: str
    schema: str | None
    relation: str

    @property
    def table(self) -> str:
        """The table as messages and the rows-at-risk map name it: schema.name (as core/classify.py names it)."""
        return f"{self.schema}.{self.relation}" if self.schema else self.relation


@dataclass(frozen=True)
class Undoing:
    """Progress: the down statements of `migration` start (`statements` of them)."""

    migration: Migration
    statements: int


@dataclass(frozen=True)
class Undone:
    """Progress: `migration`'s down statements and the deletion of its tracking row are committed."""

    migration: Migration


@dataclass(frozen=True)
class Step:
    """One migration to undo: the applied migration, its tracking row, its down file."""

    migration: Migration
    row: TrackingRow
    down: Migration
    losses: tuple[Loss, ...] = ()


@dataclass
class RollbackReport:
    """What db.rollback decided and did. `exit_code` 5 while only the plan was shown (no --yes)."""

    target: str
    steps: tuple[Step, ...]
    rows_at_risk: dict[str, int] = field(default_factory=dict)  # table as written -> estimated rows
    yes: bool = False
    dry_run: bool = False
    single_transaction: bool = False
    undone: list[str] = field(default_factory=list)  # tags, in the order they were undone
    remaining: tuple[str, ...] = ()  # tags still applied, in run order, after the rollback

    @property
    def exit_code(self) -> int:
        return ConfirmationRequired.exit_code if self.steps and not self.yes and not self.dry_run else 0


def down_file_of(m: Migration) -> str:
    """Where `m`'s down file belongs, as shown to users: `down.sql` beside a Drizzle 1.0 `migration.sql`,
    `<tag>.down.sql` beside a journal `<tag>.sql`."""
    if m.name is not None and m.path.endswith("migration.sql"):
        return m.path[: -len("migration.sql")] + "down.sql"
    return (m.path[:-4] if m.path.endswith(".sql") else m.path) + ".down.sql"


def choose(p: Plan, *, to: str | None, steps: int | None) -> list[tuple[Migration, TrackingRow]]:
    """The applied migrations to undo, newest first: those after `to` (which stays applied), or the last `steps`.
    ConfigError (exit 2) for neither or both, a bad count, or a `to` that is not applied."""
    if (to is None) == (steps is None):
        raise ConfigError(
            "db.rollback needs exactly one of --to TAG and --steps N",
            state="nothing was run",
            fix="`inv db.rollback --steps 1` undoes the newest migration; `--to TAG` undoes every one after TAG",
        )
    position = {id(m): i for i, m in enumerate(p.migrations)}
    applied = sorted(p.applied, key=lambda pair: position.get(id(pair[0]), -1))
    if steps is not None:
        if steps < 1:
            raise ConfigError(f"--steps {steps}: give 1 or more", state="nothing was run", fix="`--steps 1`")
        return list(reversed(applied[-steps:]))
    tag = resolve_tag([m.tag for m in p.migrations], to or "")
    index = next((i for i, (m, _) in enumerate(applied) if m.tag == tag), None)
    if index is None:
        raise ConfigError(
            f"--to {tag}: that migration is not applied here, so there is nothing to roll back to",
            migration=tag,
            state="nothing was run",
            fix="give an applied migration (`inv db.status` lists them); `--steps N` undoes the newest N",
        )
    return list(reversed(applied[index + 1 :]))


def steps_of(
    chosen: Sequence[tuple[Migration, TrackingRow]], *, single_transaction: bool, schema: str | None = None
) -> list[Step]:
    """Each chosen migration with its down file, checked: ConfigError (exit 2) naming the file for a
    consolidation or legacy file, a missing down, a down holding no statement, or one that cannot run as asked.
    `schema`: a schema target's (its downs' unqualified tables are there)."""
    out = []
    for m, row in chosen:
        if m.mode != STANDARD:
            raise ConfigError(
                f"{m.tag} is a {m.mode} migration: db.rollback does not undo it",
                file=m.path,
                migration=m.tag,
                cause="its one tracking row stands for several migrations, whose down files went away with them",
                state="nothing was run",
                fix="roll back to a migration after it (`--to TAG`), or write a new migration that reverts it",
            )
        if m.down is None:
            raise ConfigError(
                f"{m.tag} has no down file: {down_file_of(m)} does not exist",
                file=down_file_of(m),
                migration=m.tag,
                state="nothing was run",
                fix=f"write it, or have it computed and proven on a shadow: `inv db.generate-down --tags {m.tag}`",
            )
        down = m.down
        down.check_runnable()  # a statement that must run alone, mixed with others: exit 1 naming it
        if down.text.strip() == custom_down_text(m.tag).strip():  # only the untouched template, as for up files
            raise ConfigError(
                f"{m.tag}'s down file is still the empty template db.generate --custom wrote",
                file=down.path,
                migration=m.tag,
                state="nothing was run",
                fix="write the statements that undo it below the note (or `inv db.generate-down --tags "
                f"{m.tag} --force`); a down with only comments undoes nothing but its tracking row",
            )
        if down.runs_outside_transaction and (single_transaction or down.self_managed):
            raise ConfigError(
                f"{m.tag}'s down file "
                + ("holds its own BEGIN/COMMIT" if down.self_managed else "runs outside a transaction")
                + (
                    ", which --single-transaction cannot hold"
                    if single_transaction
                    else ", which db.rollback does not run"
                ),
                file=down.path,
                migration=m.tag,
                state="nothing was run",
                fix="remove the file's own BEGIN/COMMIT (each down already runs in one transaction)"
                if down.self_managed
                else "roll back without --single-transaction (that down then runs on its own, as db.migrate runs one)",
            )
        out.append(Step(m, row, down, tuple(losses(down, schema))))
    return out


def losses(down: Migration, default_schema: str | None = None) -> list[Loss]:
    """The statements of `down` that destroy data: DROP TABLE, ALTER TABLE ... DROP COLUMN, TRUNCATE, DELETE; a
    table named without a schema is in `default_schema` (a schema target's), else in public."""
    return [
        loss for i, st in enumerate(down.statements, 1) for loss in _statement_losses(down.tag, i, st, default_schema)
    ]


_LOSSES = {"drop_table": "DROP TABLE", "truncate": "TRUNCATE", "delete": "DELETE"}  # and drop_column


def _statement_losses(tag: str, number: int, st: Statement, default_schema: str | None) -> list[Loss]:
    """What core/classify.py's judgement of the statement says destroys rows or values (its relations are
    `schema.name`, public when the statement names none)."""
    found: list[Loss] = []
    for action in classify(st.text).actions or ():  # None: pglast cannot read it; the server reports it
        what = f'DROP COLUMN "{action.column}"' if action.kind == "drop_column" else _LOSSES.get(action.kind)
        if what is None or action.relation is None:
            continue
        schema, _, relation = action.relation.partition(".")
        if not action.detail.get("qualified", True) and default_schema:
            schema = default_schema  # the search_path a schema target's downs run with: that schema alone
        found.append(Loss(tag, number, st.line, st.col, what, schema, relation))
    return found


def refuse_data_loss(steps: Sequence[Step], rows: Mapping[str, int], *, allowed: bool) -> None:
    """ConfirmationRequired (exit 5) naming each down statement that destroys data on a table with rows,
    unless `allowed` (--allow-data-loss)."""
    at_risk = [(s, loss) for s in steps for loss in s.losses if rows.get(loss.table, 0) > 0]
    if not at_risk or allowed:
        return
    step, first = at_risk[0]
    raise ConfirmationRequired(
        f"the rollback would destroy data: {len(at_risk)} down statement(s) on tables with rows",
        file=step.down.path,
        migration=step.migration.tag,
        statement_no=first.number,
        line=first.line,
        col=first.col,
        state="nothing was run",
        fix="back the data up first, then run again with --allow-data-loss",
        details=[
            f"{s.down.path}:{x.line}:{x.col}: {x.what} on {x.table} (about {rows[x.table]} row(s))"
            for s, x in at_risk
        ],
    )


# ------------------------------------------------------------------------------------------ db.generate-down
@dataclass(frozen=True)
class DownResult:
    """One migration's computed down: its file text, whether the shadow proved it, and what differed if not."""

    migration: Migration
    text: str
    statements: tuple[str, ...]
    cannot_restore: tuple[str, ...]
    proven: bool
    difference: tuple[str, ...] = ()


@dataclass
class DownsReport:
    """What db.generate-down computed and wrote. `exit_code` 1 when a down could not be proven (not written)."""

    results: list[DownResult]
    written: dict[str, str] = field(default_factory=dict)  # tag -> the file written
    skipped: list[str] = field(default_factory=list)  # tags that have a down file already (no --force)

    @property
    def exit_code(self) -> int:
        return 1 if any(not r.proven for r in self.results) else 0


def cannot_restore(m: Migration) -> list[str]:
    """What a down of `m` cannot give back, read from `m`'s own statements (core/classify.py's judgement): values
    of what it dropped, rows it deleted, data it wrote, enum values it added (PostgreSQL has no ALTER TYPE ... DROP
    VALUE). Said, never faked."""
    notes: list[str] = []
    for loss in losses(m):  # the up's own destructive statements
        notes.append(
            f"the values {loss.what} removed from {loss.table} (line {loss.line}): the down recreates the "
            "structure, empty"
            if loss.what != "DELETE"
            else f"the rows DELETE removed from {loss.table} (line {loss.line})"
        )
    for st in m.statements:
        for action in classify(st.text).actions or ():
            if action.kind == "enum_add_value":
                notes.append(
                    f"the enum value {action.detail.get('value')!r} added at line {st.line}: PostgreSQL cannot drop "
                    "an enum value in place, so the down recreates the type without it (a column holding it fails "
                    "the down)"
                )
            elif action.kind in ("insert", "update", "merge") and action.relation:
                verb = {"insert": "inserted into", "update": "updated in"}.get(action.kind, "merged into")
                notes.append(
                    f"the data the migration {verb} {action.relation} (line {st.line}, a backfill?): a schema "
                    "diff does not undo data; add the statements by hand if they matter"
                )
    return notes


def down_text(m: Migration, statements: Sequence[str], notes: Sequence[str], breakpoint: str) -> str:
    """The down file db.generate-down writes: a header naming what it is and what it cannot restore, then the
    statements separated by breakpoints, as drizzle-kit separates an up file's."""
    head = [
        f"-- down of {m.tag}: written by `inv db.generate-down`, proven on a shadow database "
        f"({m.tag} then this file gives the schema before {m.tag})",
    ]
    head += [f"-- cannot restore: {n}" for n in notes] or ["-- cannot restore: nothing (schema only, no data touched)"]
    body = f"\n{breakpoint}\n".join(s.rstrip() for s in statements)
    return "\n".join(head) + "\n" + (body + "\n" if body else "")


def custom_down_text(tag: str) -> str:
    """The down file db.generate --custom writes beside its empty migration: a note to fill it (db.rollback refuses
    a down that holds no statement)."""
    return (
        f"-- down of {tag}: put the SQL that undoes {tag} below (db.rollback runs it, then deletes {tag}'s tracking "
        "row); `inv db.generate-down --tags " + tag + " --force` computes it once the migration is written\n"
    )
