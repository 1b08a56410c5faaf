"""`safe_sequence`: a migration's statements rewritten into the migrations that do the same work without holding a
lock that blocks writes while PostgreSQL scans or rewrites a table (the rewrites: core/fix/__init__.py). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from migrakit.core.fix.backfill import volatile_default
from migrakit.core.fix.edit import (
    Steps,
    append,
    insert_after,
    name,
    not_null_via_check,
    parse,
    quote_ident,
    rel_sql,
)  # fmt: skip
from migrakit.core.fix.serial import identity_column, serial_column


@dataclass(frozen=True)
class Facts:
    """Catalog facts the fixer cannot read from the text (db/ reads them from the target or a shadow)."""

    unique_indexed_views: frozenset[str] = frozenset()  # materialized views with a unique index, "schema.name"


@dataclass(frozen=True)
class Change:
    """One statement rewritten: which (0-based, in the input), by which rule, and what it became."""

    statement: int
    rule: str
    summary: str


@dataclass
class SafeSequence:
    migrations: list[list[str]]
    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def safe_sequence(texts: Sequence[str], facts: Facts = Facts()) -> SafeSequence:
    """The lock-safe migrations for one migration's statements, in order (the input itself, as one migration,
    when nothing needs a fix)."""
    out: list[list[str]] = []
    current: list[str] = []
    validate: list[str] = []
    finish: list[str] = []
    changes: list[Change] = []
    created: set[tuple[str, str]] = set()
    for no, text in enumerate(texts):
        tree = parse(text)
        steps = None if tree is None else _rewrite(text, tree, created, facts)
        if tree is not None:
            _note_created(tree, created)
        if steps is None:
            current.append(text)
            continue
        changes.append(Change(no, steps.rule, steps.summary))
        current.extend(steps.now)
        if steps.own:
            if current:
                out.append(current)
            out.extend([s] for s in steps.own)
            current = []
        current.extend(steps.after)
        validate.extend(steps.validate)
        finish.extend(steps.finish)
    for migration in (current, validate, finish):
        if migration:
            out.append(migration)
    return SafeSequence(out, changes)


def _note_created(tree: Any, created: set[tuple[str, str]]) -> None:
    kind = type(tree).__name__
    if kind == "CreateStmt":
        created.add(name(tree.relation))
    elif kind == "CreateTableAsStmt":
        created.add(name(tree.into.rel))


def _rewrite(text: str, tree: Any, created: set[tuple[str, str]], facts: Facts) -> Steps | None:
    kind = type(tree).__name__
    if kind == "IndexStmt":
        return None if name(tree.relation) in created else _index(text, tree)
    if kind == "DropStmt" and tree.removeType.name == "OBJECT_INDEX":
        return _drop_index(text, tree)
    if kind == "RefreshMatViewStmt":
        return _refresh(text, tree, created, facts)
    if kind == "AlterTableStmt" and tree.objtype.name == "OBJECT_TABLE" and len(tree.cmds) == 1:
        if name(tree.relation) in created:
            return None
        return _alter(text, tree, tree.cmds[0])
    return None


def _index(text: str, tree: Any) -> Steps | None:
    if tree.concurrent:
        return Steps("own-migration", "CREATE INDEX CONCURRENTLY moved into a migration of its own", own=[text])
    new = insert_after(text, "INDEX", "CONCURRENTLY")
    if new is None:
        return None
    return Steps("index-concurrently", "CREATE INDEX -> CREATE INDEX CONCURRENTLY, in its own migration", own=[new])


def _drop_index(text: str, tree: Any) -> Steps | None:
    if tree.concurrent:
        return Steps("own-migration", "DROP INDEX CONCURRENTLY moved into a migration of its own", own=[text])
    if len(tree.objects) != 1 or tree.behavior.name == "DROP_CASCADE":
        return None  # CONCURRENTLY drops one index, without CASCADE
    new = insert_after(text, "INDEX", "CONCURRENTLY")
    if new is None:
        return None
    return Steps("drop-index-concurrently", "DROP INDEX -> DROP INDEX CONCURRENTLY, in its own migration", own=[new])


def _refresh(text: str, tree: Any, created: set[tuple[str, str]], facts: Facts) -> Steps | None:
    schema, view = name(tree.relation)
    if tree.concurrent or tree.skipData or (schema, view) in created:
        return None
    if f"{schema}.{view}" not in facts.unique_indexed_views:
        return None
    new = insert_after(text, "VIEW", "CONCURRENTLY")
    if new is None:
        return None
    return Steps("refresh-concurrently", "REFRESH MATERIALIZED VIEW -> CONCURRENTLY (it has a unique index)",
                 now=[new])  # fmt: skip


def _alter(text: str, tree: Any, cmd: Any) -> Steps | None:
    sub = cmd.subtype.name
    rel = rel_sql(tree.relation)
    if sub == "AT_ValidateConstraint":
        return Steps("validate-later", f"VALIDATE CONSTRAINT {cmd.name} moved to the next migration", validate=[text])
    if sub == "AT_SetNotNull":
        steps = not_null_via_check(rel, tree.relation.relname, cmd.name)
        steps.finish[0] = text  # the author's own SET NOT NULL, now without its scan
        return steps
    if sub == "AT_AddConstraint":
        return _add_constraint(text, rel, cmd.def_)
    if sub == "AT_AddColumn":
        sequenced = serial_column(text, tree.relation, cmd) or identity_column(text, tree.relation, cmd)
        return sequenced or volatile_default(text, rel, tree.relation.relname, cmd.def_)
    return None


def _add_constraint(text: str, rel: str, con: Any) -> Steps | None:
    ctype = con.contype.name
    if not con.conname:
        return None  # the server names it; a later VALIDATE would have to guess the name
    quoted = quote_ident(con.conname)
    if ctype in ("CONSTR_FOREIGN", "CONSTR_CHECK"):
        if con.skip_validation:
            return None  # already NOT VALID: its VALIDATE, if the migration holds one, moves on its own
        what = "foreign key" if ctype == "CONSTR_FOREIGN" else "CHECK"
        return Steps(
            "not-valid-then-validate",
            f"{what} {con.conname} added NOT VALID, validated in the next migration",
            now=[append(text, "NOT VALID")],
            validate=[f"ALTER TABLE {rel} VALIDATE CONSTRAINT {quoted}"],
        )
    if ctype == "CONSTR_UNIQUE" and not con.indexname and con.keys and not (
        con.including or con.options or con.indexspace or con.nulls_not_distinct or con.deferrable
    ):
        cols = ", ".join(quote_ident(k.sval) for k in con.keys)
        return Steps(
            "unique-via-index",
            f"UNIQUE {con.conname} -> CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT … USING INDEX",
            own=[f"CREATE UNIQUE INDEX CONCURRENTLY {quoted} ON {rel} ({cols})"],
            after=[f"ALTER TABLE {rel} ADD CONSTRAINT {quoted} UNIQUE USING INDEX {quoted}"],
        )
    return None
