"""What a diff library's statements and a rewritten file keep: `without_noop_pairs` leaves out the drop and
re-add of a constraint or index whose definition did not change; `with_leading_comments` keeps each statement's
comment lines with it. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from migrakit.core.fix.edit import name, parse
from migrakit.core.postgres.statements import BREAKPOINT


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
    tree = parse(text)
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
    tree = parse(text)
    kind = type(tree).__name__
    if kind == "AlterTableStmt" and len(tree.cmds) == 1:
        cmd, (schema, table) = tree.cmds[0], name(tree.relation)
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
