"""What comparing two schemas found (db/inspect/schema_diff.py compares them): each differing object, the script
that reconciles them, and a difference as text lines; an inspected object (results') and a snapshot's key as text.
Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Difference kinds, said from the database's side
MISSING = "missing"  # the migrations produce it; the database lacks it
EXTRA = "extra"  # the database has it; no migration produces it
CHANGED = "changed"  # both have it, defined differently

# what messages call an object of each of results' inspector categories
LABELS = {
    "schemas": "schema", "extensions": "extension", "collations": "collation", "enums": "enum", "types": "type",
    "domains": "domain", "composite_types": "composite type", "sequences": "sequence", "tables": "table",
    "views": "view", "materialized_views": "materialized view", "functions": "function",
    "constraints": "constraint", "indexes": "index", "triggers": "trigger", "rlspolicies": "policy",
}  # fmt: skip


@dataclass(frozen=True)
class Difference:
    """One object that differs. `sql` makes the database match the migrations for this object alone;
    `SchemaDiff.statements` is the whole script in dependency order."""

    object: str  # e.g. 'column "public"."projects"."name"'
    category: str  # one of db/inspect/schema_diff.CATEGORIES, or "columns"
    kind: str  # MISSING / EXTRA / CHANGED
    expected: str | None  # definition the migrations produce (None: they produce no such object)
    actual: str | None  # definition in the database (None: the database has no such object)
    sql: tuple[str, ...] = ()
    key: tuple[str, ...] = ()  # the object's key in `snapshot` (("tables", k), ("columns", table, column) ...)

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "category": self.category,
            "kind": self.kind,
            "migrations_produce": self.expected,
            "database_has": self.actual,
            "sql": list(self.sql),
        }


@dataclass(frozen=True)
class SchemaDiff:
    differences: tuple[Difference, ...] = ()
    statements: tuple[str, ...] = field(default=())  # ordered: turns the database into what the migrations produce

    @property
    def equal(self) -> bool:
        return not self.differences and not self.statements


def difference_lines(d: Difference, indent: str = "  ") -> list[str]:
    """A difference as plain lines: db.check's text (render/check.py) and the details of an error that names
    differences (db.baseline, legacy.retire), written when it is raised."""
    what = {MISSING: "missing from the database", EXTRA: "in the database only", CHANGED: "differs"}[d.kind]
    lines = [f"{d.object}: {what}"]
    for label, value in (("migrations produce", d.expected), ("database has", d.actual)):
        shown = value if value is not None else "(nothing)"
        first, *rest = shown.splitlines() or [""]
        lines.append(f"{indent}{label}: {first}")
        lines += [f"{indent}{' ' * (len(label) + 2)}{r}" for r in rest[:12]]
        if len(rest) > 12:
            lines.append(f"{indent}{' ' * (len(label) + 2)}... ({len(rest) - 12} more lines)")
    for s in d.sql:
        first, *rest = s.splitlines()
        lines.append(f"{indent}sql: {first}" + (f" ... ({len(rest)} more lines)" if rest else ""))
    return lines


# ------------------------------------------------------------------------------------------ objects as text
def key_label(key: tuple[str, ...]) -> str:
    """A snapshot key as `compare` names objects: `table "public"."t"`, `column "public"."t"."c"`."""
    if key[0] == "columns":
        return f'column {key[1]}."{key[2]}"'
    return f"{LABELS.get(key[0], key[0])} {key[1]}"


def describe(value: Any) -> str:
    """An object of a snapshot as one line of text (its definition where results has one)."""
    if value is None or type(value).__name__ == "_Absent":  # core/attribution.MISSING_OBJECT
        return "(nothing)"
    if isinstance(value, tuple):
        return "the table (its own properties: comment, RLS, persistence, options)"
    if hasattr(value, "creation_clause"):
        return str(value.creation_clause)
    text = definition(value)
    return " ".join(text.split()) if text else type(value).__name__


def text_of(obj: Any, attr: str) -> str | None:
    """An inspected object's text attribute (`create_statement`, `definition` ...), stripped; None without one."""
    try:
        value = getattr(obj, attr)
    except (AttributeError, NotImplementedError, KeyError):
        return None
    return value.strip() if isinstance(value, str) else None


def definition(obj: Any) -> str | None:
    return text_of(obj, "create_statement") or text_of(obj, "definition")
