"""The lock-safe sequence of a migration: the fixer `db.lint --fix`, `db.generate`, `db.baseline` and `db.check`'s
suggested fix share.

`safe_sequence(texts)` takes a migration's statements (slices of the original text) and returns the migrations
that do the same work without holding a lock that blocks writes while PostgreSQL scans or rewrites a table:

- `CREATE INDEX` -> `CREATE INDEX CONCURRENTLY`, in a migration of its own (it cannot run in a transaction);
  `DROP INDEX` -> `DROP INDEX CONCURRENTLY` (own migration); an index the author already wrote `CONCURRENTLY`
  also moves into a migration of its own (db.migrate refuses to mix it with other statements);
- a foreign key or `CHECK` added -> `NOT VALID`, and its `VALIDATE CONSTRAINT` in the next migration (a
  `VALIDATE` the migration itself holds moves there too);
- `SET NOT NULL` -> a `CHECK (col IS NOT NULL) NOT VALID`, validated in the next migration, then `SET NOT NULL`
  (PostgreSQL 12+ skips its scan when a valid check proves it) and the check dropped;
- a `UNIQUE` constraint -> `CREATE UNIQUE INDEX CONCURRENTLY` (own migration), then `ADD CONSTRAINT … UNIQUE
  USING INDEX`;
- `REFRESH MATERIALIZED VIEW` -> `CONCURRENTLY` when the view has a unique index (a catalog fact: `Facts`);
- a column added with a volatile default (`random()`, `gen_random_uuid()`, `clock_timestamp()`, …: PostgreSQL
  rewrites the table for it) -> the column without default, the default set (new rows get it), then the
  existing rows backfilled in a migration of their own. `now()` is stable, not volatile: PostgreSQL 11+ stores it
  once without a rewrite, so it is left alone.

Edits are textual: `CONCURRENTLY` inserted after `INDEX`/`VIEW`, ` NOT VALID` appended, so the author's
formatting stays; only the statements the sequence adds (validate, the check, the index of a constraint) are
written new. Statements on a table created earlier in the same migration need no fix (the table is empty).
A statement the fixer does not understand is kept as it is. Pure: text in, data out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from migrakit.core.postgres.statements import BREAKPOINT

# Functions PostgreSQL marks volatile that are common as column defaults: ADD COLUMN … DEFAULT f() rewrites.
VOLATILE_DEFAULTS = frozenset(
    {"random", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4", "uuidv4",
     "uuidv7", "clock_timestamp", "timeofday", "nextval", "txid_current", "statement_timestamp"}
)  # fmt: skip
_PLAIN_IDENT = re.compile(r"^[a-z_][a-z0-9_$]*$")
_NAMEDATALEN = 63


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


@dataclass
class _Steps:
    """What one statement becomes: statements kept in the running migration (`now`), migrations of their own
    (`own`), statements after those (`after`), and the validation and finishing phases that follow the
    migration."""

    rule: str
    summary: str
    now: list[str] = field(default_factory=list)
    own: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    validate: list[str] = field(default_factory=list)
    finish: list[str] = field(default_factory=list)


def quote_ident(name: str) -> str:
    """An identifier as PostgreSQL's quote_ident writes it: bare when it can be, else double-quoted."""
    from pglast.keywords import COL_NAME_KEYWORDS, RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS

    reserved = RESERVED_KEYWORDS | TYPE_FUNC_NAME_KEYWORDS | COL_NAME_KEYWORDS
    if _PLAIN_IDENT.match(name) and name not in reserved:
        return name
    return '"' + name.replace('"', '""') + '"'


def render_migration(texts: Sequence[str]) -> str:
    """A migration file's body: the statements, each ending with `;`, separated by Drizzle's breakpoints."""
    return f"\n{BREAKPOINT}\n".join(_terminated(t) for t in texts) + "\n"


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
        tree = _parse(text)
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


def _terminated(text: str) -> str:
    text = text.rstrip()
    return text if text.endswith(";") else text + ";"


def _parse(text: str) -> Any:
    from pglast import parse_sql
    from pglast.parser import ParseError

    try:
        stmts = parse_sql(text)
    except ParseError:
        return None
    return stmts[0].stmt if len(stmts) == 1 else None


def _name(rv: Any) -> tuple[str, str]:
    return (rv.schemaname or "public", rv.relname)


def _rel_sql(rv: Any) -> str:
    return ".".join(quote_ident(p) for p in (rv.schemaname, rv.relname) if p)


def _note_created(tree: Any, created: set[tuple[str, str]]) -> None:
    kind = type(tree).__name__
    if kind == "CreateStmt":
        created.add(_name(tree.relation))
    elif kind == "CreateTableAsStmt":
        created.add(_name(tree.into.rel))


def _tokens(text: str) -> list[Any]:
    from pglast.parser import scan

    return [t for t in scan(text) if t.name not in ("SQL_COMMENT", "C_COMMENT")]


def _insert_after(text: str, keyword: str, words: str) -> str | None:
    """`text` with ` words` inserted after its first `keyword` token (None when it has none)."""
    for tok in _tokens(text)[:6]:
        if tok.name == keyword:
            return text[: tok.end + 1] + " " + words + text[tok.end + 1 :]
    return None


def _append(text: str, words: str) -> str:
    """`text` with ` words` after its last token (before a final `;`)."""
    toks = _tokens(text)
    last = toks[-2] if len(toks) > 1 and toks[-1].name == "ASCII_59" else toks[-1]
    return text[: last.end + 1] + " " + words + text[last.end + 1 :]


def _constraint_name(table: str, col: str, suffix: str) -> str:
    return f"{table[: _NAMEDATALEN - len(col) - len(suffix) - 2]}_{col}_{suffix}"[:_NAMEDATALEN]


def _rewrite(text: str, tree: Any, created: set[tuple[str, str]], facts: Facts) -> _Steps | None:
    kind = type(tree).__name__
    if kind == "IndexStmt":
        return None if _name(tree.relation) in created else _index(text, tree)
    if kind == "DropStmt" and tree.removeType.name == "OBJECT_INDEX":
        return _drop_index(text, tree)
    if kind == "RefreshMatViewStmt":
        return _refresh(text, tree, created, facts)
    if kind == "AlterTableStmt" and tree.objtype.name == "OBJECT_TABLE" and len(tree.cmds) == 1:
        if _name(tree.relation) in created:
            return None
        return _alter(text, tree, tree.cmds[0])
    return None


def _index(text: str, tree: Any) -> _Steps | None:
    if tree.concurrent:
        return _Steps("own-migration", "CREATE INDEX CONCURRENTLY moved into a migration of its own", own=[text])
    new = _insert_after(text, "INDEX", "CONCURRENTLY")
    if new is None:
        return None
    return _Steps("index-concurrently", "CREATE INDEX -> CREATE INDEX CONCURRENTLY, in its own migration", own=[new])


def _drop_index(text: str, tree: Any) -> _Steps | None:
    if tree.concurrent:
        return _Steps("own-migration", "DROP INDEX CONCURRENTLY moved into a migration of its own", own=[text])
    if len(tree.objects) != 1 or tree.behavior.name == "DROP_CASCADE":
        return None  # CONCURRENTLY drops one index, without CASCADE
    new = _insert_after(text, "INDEX", "CONCURRENTLY")
    if new is None:
        return None
    return _Steps("drop-index-concurrently", "DROP INDEX -> DROP INDEX CONCURRENTLY, in its own migration", own=[new])


def _refresh(text: str, tree: Any, created: set[tuple[str, str]], facts: Facts) -> _Steps | None:
    schema, name = _name(tree.relation)
    if tree.concurrent or tree.skipData or (schema, name) in created:
        return None
    if f"{schema}.{name}" not in facts.unique_indexed_views:
        return None
    new = _insert_after(text, "VIEW", "CONCURRENTLY")
    if new is None:
        return None
    return _Steps("refresh-concurrently", "REFRESH MATERIALIZED VIEW -> CONCURRENTLY (it has a unique index)",
                  now=[new])  # fmt: skip


def _alter(text: str, tree: Any, cmd: Any) -> _Steps | None:
    sub = cmd.subtype.name
    rel = _rel_sql(tree.relation)
    if sub == "AT_ValidateConstraint":
        return _Steps("validate-later", f"VALIDATE CONSTRAINT {cmd.name} moved to the next migration", validate=[text])
    if sub == "AT_SetNotNull":
        col = cmd.name
        check = quote_ident(_constraint_name(tree.relation.relname, col, "not_null_check"))
        return _Steps(
            "not-null-via-check",
            f"SET NOT NULL on {col} -> CHECK NOT VALID, VALIDATE, then SET NOT NULL without a scan",
            now=[f"ALTER TABLE {rel} ADD CONSTRAINT {check} CHECK ({quote_ident(col)} IS NOT NULL) NOT VALID"],
            validate=[f"ALTER TABLE {rel} VALIDATE CONSTRAINT {check}"],
            finish=[text, f"ALTER TABLE {rel} DROP CONSTRAINT {check}"],
        )
    if sub == "AT_AddConstraint":
        return _add_constraint(text, rel, cmd.def_)
    if sub == "AT_AddColumn":
        return _volatile_default(text, rel, cmd.def_)
    return None


def _add_constraint(text: str, rel: str, con: Any) -> _Steps | None:
    ctype = con.contype.name
    if not con.conname:
        return None  # the server names it; a later VALIDATE would have to guess the name
    name = quote_ident(con.conname)
    if ctype in ("CONSTR_FOREIGN", "CONSTR_CHECK"):
        if con.skip_validation:
            return None  # already NOT VALID: its VALIDATE, if the migration holds one, moves on its own
        what = "foreign key" if ctype == "CONSTR_FOREIGN" else "CHECK"
        return _Steps(
            "not-valid-then-validate",
            f"{what} {con.conname} added NOT VALID, validated in the next migration",
            now=[_append(text, "NOT VALID")],
            validate=[f"ALTER TABLE {rel} VALIDATE CONSTRAINT {name}"],
        )
    if ctype == "CONSTR_UNIQUE" and not con.indexname and con.keys and not (
        con.including or con.options or con.indexspace or con.nulls_not_distinct or con.deferrable
    ):
        cols = ", ".join(quote_ident(k.sval) for k in con.keys)
        return _Steps(
            "unique-via-index",
            f"UNIQUE {con.conname} -> CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT … USING INDEX",
            own=[f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON {rel} ({cols})"],
            after=[f"ALTER TABLE {rel} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}"],
        )
    return None


def _volatile_default(text: str, rel: str, col: Any) -> _Steps | None:
    constraints = list(col.constraints or ())
    default = next((c for c in constraints if c.contype.name == "CONSTR_DEFAULT"), None)
    if default is None or not _volatile(default.raw_expr):
        return None
    if any(c.contype.name not in ("CONSTR_DEFAULT", "CONSTR_NULL") for c in constraints):
        return None  # NOT NULL, a check, a key: the column cannot be added empty first
    after_default = [t for t in _tokens(text) if t.start > default.location]
    expr_start = after_default[0].start  # the expression's own location is its operator's (`::`)
    expr_end = _expression_end(text, expr_start)
    expression = text[expr_start:expr_end]
    without = (text[: default.location].rstrip() + text[expr_end:]).rstrip()
    name = quote_ident(col.colname)
    return _Steps(
        "volatile-default",
        f"column {col.colname} added without its volatile default, default set, rows backfilled in their own "
        "migration",
        now=[without, f"ALTER TABLE {rel} ALTER COLUMN {name} SET DEFAULT {expression}"],
        own=[f"UPDATE {rel} SET {name} = DEFAULT WHERE {name} IS NULL"],
    )


def _volatile(expr: Any) -> bool:
    if type(expr).__name__ == "TypeCast":
        return _volatile(expr.arg)
    if type(expr).__name__ != "FuncCall":
        return False
    return expr.funcname[-1].sval.lower() in VOLATILE_DEFAULTS


def _expression_end(text: str, start: int) -> int:
    """Where the expression starting at `start` ends: before the next top-level `,`, `;` or constraint keyword."""
    depth, end = 0, start
    for tok in _tokens(text):
        if tok.start < start:
            continue
        if tok.name in ("ASCII_40", "ASCII_91"):
            depth += 1
        elif tok.name in ("ASCII_41", "ASCII_93"):
            depth -= 1
        elif depth == 0 and (
            tok.name in ("ASCII_44", "ASCII_59")
            or tok.name in ("NOT", "NULL_P", "CONSTRAINT", "CHECK", "REFERENCES", "UNIQUE", "PRIMARY", "COLLATE")
        ):
            break
        end = tok.end + 1
    return end


def without_noop_pairs(statements: Sequence[str], unchanged: set[tuple[str, str, str]]) -> list[str]:
    """`statements` without the drop and re-add (and validate) of a constraint or index whose definition is the
    same on both sides. A diff library re-creates the foreign keys of a table it touched; `unchanged` names the
    constraints and indexes, as (schema, table or "" for an index, name), whose definitions are equal in the
    two schemas. Kept as they are when the diff drops anything else (a dropped key may need the pair)."""
    keys = [_object_key(text) for text in statements]
    removable = [k is not None and k[1] in unchanged for k in keys]
    others_drop = any(k is not None and k[0] == "drop" and not r for k, r in zip(keys, removable, strict=True))
    if others_drop or any(_drops(t) for t, k in zip(statements, keys, strict=True) if k is None):
        return list(statements)
    return [t for t, r in zip(statements, removable, strict=True) if not r]


def _drops(text: str) -> bool:
    tree = _parse(text)
    if tree is None:
        return True  # unknown: assume it may drop something
    kind = type(tree).__name__
    if kind == "DropStmt":
        return True
    if kind == "AlterTableStmt":
        return any(c.subtype.name.startswith(("AT_Drop", "AT_AlterColumnType")) for c in tree.cmds)
    return False


def _object_key(text: str) -> tuple[str, tuple[str, str, str]] | None:
    """("drop" | "add" | "validate", (schema, table, name)) of a statement that handles one constraint or
    index; None for anything else."""
    tree = _parse(text)
    kind = type(tree).__name__
    if kind == "AlterTableStmt" and len(tree.cmds) == 1:
        cmd, (schema, table) = tree.cmds[0], _name(tree.relation)
        sub = cmd.subtype.name
        if sub in ("AT_DropConstraint", "AT_ValidateConstraint"):
            return ("drop" if sub == "AT_DropConstraint" else "validate", (schema, table, cmd.name))
        if sub == "AT_AddConstraint" and cmd.def_.conname:
            return ("add", (schema, table, cmd.def_.conname))
    if kind == "IndexStmt" and tree.idxname:
        return ("add", (tree.relation.schemaname or "public", "", tree.idxname))
    if kind == "DropStmt" and tree.removeType.name == "OBJECT_INDEX" and len(tree.objects) == 1:
        parts = [p.sval for p in tree.objects[0]]
        return ("drop", (parts[0] if len(parts) > 1 else "public", "", parts[-1]))
    return None


def with_leading_comments(source: str, spans: Sequence[tuple[int, int]]) -> list[str]:
    """Each statement `source[start:end]` with the `--` comment lines right above it (a `-- migrakit:allow`
    suppression, the author's note, a file's header), so a rewritten migration keeps them; a comment on the
    line a previous statement ends stays with that statement, and Drizzle's breakpoints are left out."""
    out: list[str] = []
    previous = 0
    for start, end in spans:
        gap = source[previous:start]
        if previous:
            gap = gap.split("\n", 1)[1] if "\n" in gap else ""  # the rest of the previous statement's line
        notes = [line.strip() for line in gap.splitlines() if line.strip().startswith("--")]
        notes = [n for n in notes if not n.startswith(BREAKPOINT)]
        out.append("".join(f"{n}\n" for n in notes) + source[start:end])
        previous = end
    return out
