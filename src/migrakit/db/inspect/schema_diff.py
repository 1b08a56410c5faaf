"""Schema inspection and diff between two live databases, with the `results` library (migra's successor).

The tracking schemas (Drizzle's and migrakit's own) are bookkeeping, not schema: they are left out, and so is any
table named in `ignore_tables` (a legacy runner's tracking table). `results` is imported on first use (it is large).

Two views of one comparison:
- `diff_statements(a, b)`: the ordered SQL (results' dependency-aware order; a changed enum's statements are
  db/inspect/enum_diff.py's) that turns a into b.
- `compare(expected, actual)`: each differing object, what the migrations produce (`expected`), what the database
  has (`actual`), and the SQL that makes the database match; plus the ordered script.

Every inspection (`inspect`) reads the catalog in one REPEATABLE READ, READ ONLY transaction, so all of results'
queries see one snapshot. A concurrent DDL can still make a catalog function fail ("cache lookup failed", "could not
open relation", or results' KeyError); an inspection that fails is retried (INSPECT_ATTEMPTS, a short pause between)
and then reported as InspectionFailed with the state and the fix, never as a traceback.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import psycopg

from migrakit.core.differences import (
    CHANGED,
    EXTRA,
    LABELS,
    MISSING,
    Difference,
    SchemaDiff,
    definition,
    text_of,
)
from migrakit.core.fix import safe_sequence, without_noop_pairs
from migrakit.db.connect import answer, server
from migrakit.db.inspect import enum_diff
from migrakit.errors import InspectionFailed, MigrakitError

BOOKKEEPING_SCHEMAS = ("drizzle", "migrakit")

# results' inspector categories compared object by object (privileges are not schema drift: owners and
# grants differ between a shadow database and a live one by design). Tables are compared column by column.
CATEGORIES = (
    "schemas", "extensions", "collations", "enums", "types", "domains", "composite_types", "sequences",
    "tables", "views", "materialized_views", "functions", "constraints", "indexes", "triggers", "rlspolicies",
)  # fmt: skip
_TABLE_RELATED = ("indexes", "constraints", "triggers", "rlspolicies", "sequences")


# ------------------------------------------------------------------------------------------ inspection
def _results() -> tuple[Any, Any, Any]:
    with warnings.catch_warnings():  # results imports modules that warn on recent Pythons
        warnings.simplefilter("ignore")
        from results.dbdiff import Migration as SchemaMigration
        from results.dbdiff.util import differences
        from results.schemainspect import PostgreSQL
    return SchemaMigration, differences, PostgreSQL


def split_table_name(name: str) -> tuple[str, str]:
    """`schema.table` or `table` (public) -> (schema, table), unquoted."""
    parts = [p.strip().strip('"') for p in name.split(".", 1)]
    return (parts[0], parts[1]) if len(parts) == 2 else ("public", parts[0])


def _inspector(conn: Any, exclude: Iterable[str], ignore_tables: Iterable[str] = ()) -> Any:
    _, _, PostgreSQL = _results()
    inspected = PostgreSQL(conn.cursor())
    for name in exclude:
        inspected.exclude_schema(name)
    ignored = {split_table_name(t) for t in ignore_tables if t}
    if ignored:
        _drop_tables(inspected, ignored)
    return inspected


def _drop_tables(inspected: Any, ignored: set[tuple[str, str]]) -> None:
    """Remove `ignored` tables and everything attached to them (indexes, constraints, owned sequences ...)."""

    def attached(obj: Any) -> bool:
        return (getattr(obj, "schema", None), getattr(obj, "table_name", None)) in ignored

    def itself(obj: Any) -> bool:
        return (getattr(obj, "schema", None), getattr(obj, "name", None)) in ignored and hasattr(obj, "columns")

    for prop in ("tables", "relations", "selectables"):
        setattr(inspected, prop, {k: v for k, v in getattr(inspected, prop).items() if not itself(v)})
    for prop in _TABLE_RELATED:
        setattr(inspected, prop, {k: v for k, v in getattr(inspected, prop).items() if not attached(v)})


INSPECT_ATTEMPTS = 3
_INSPECT_PAUSE = 0.3  # seconds, times the attempt number
# What results or the server raise when the catalog changes while it is read (or results meets an object it
# cannot model): translated, never shown as a traceback.
_INSPECTION_ERRORS = (psycopg.Error, LookupError, AttributeError, TypeError, ValueError, AssertionError)


def inspect(
    url: str,
    exclude: Iterable[str] = BOOKKEEPING_SCHEMAS,
    ignore_tables: Iterable[str] = (),
    *,
    what: str | None = None,
) -> Any:
    """results' inspection of the database at `url` in one REPEATABLE READ, READ ONLY transaction; retried up
    to INSPECT_ATTEMPTS times, then InspectionFailed naming `what` (default: the redacted URL)."""
    exclude, ignore = tuple(exclude), tuple(ignore_tables)
    failure: BaseException | None = None
    for attempt in range(1, INSPECT_ATTEMPTS + 1):
        try:
            with server.connect(url) as conn:
                conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
                conn.read_only = True
                inspected = _inspector(conn, exclude, ignore)
                conn.rollback()
                return inspected
        except (MigrakitError, answer.NoAnswer):  # NoAnswer: a silent server, exit 6 (db/connect/answer.py)
            raise
        except _INSPECTION_ERRORS as exc:
            failure = exc
            if isinstance(exc, psycopg.OperationalError):
                break  # the connection itself failed: retrying the same server at once rarely helps
            if attempt < INSPECT_ATTEMPTS:
                time.sleep(_INSPECT_PAUSE * attempt)
    assert failure is not None
    cause = server.redact_text(
        f"{type(failure).__name__}: {str(failure).strip().splitlines()[0] if str(failure).strip() else ''}", [url]
    )
    raise InspectionFailed(
        f"could not read the schema of {what or server.redact_url(url)} ({INSPECT_ATTEMPTS} attempts): its catalog "
        "changed while it was read, or the server refused a catalog query",
        cause=cause,
        state="nothing was written or tracked",
        fix="another session is changing the schema (a deploy, a migrator, a manual DDL): wait until it has "
        "finished (`inv db.status` shows pending migrations), then run this again",
    ) from None


def _ordered_statements(a: Any, b: Any) -> list[str]:
    diff = _results()[0](a, b)
    diff.set_safety(False)
    diff.add_all_changes_ordered()
    # results' ordered diff can emit the same statement twice (seen with enums): keep the first
    return list(dict.fromkeys(enum_diff.rewrite([s.strip() for s in diff.statements if s.strip()], a, b)))


def diff_statements(
    from_url: str, to_url: str, exclude: Iterable[str] = BOOKKEEPING_SCHEMAS, ignore_tables: Iterable[str] = ()
) -> list[str]:
    """The SQL statements that would turn the schema at `from_url` into the schema at `to_url` ([] when equal)."""
    a, b = inspect(from_url, exclude, ignore_tables), inspect(to_url, exclude, ignore_tables)
    statements = _guarded(lambda: _ordered_statements(a, b))
    return without_noop_pairs(statements, _unchanged(a, b))


def _unchanged(a: Any, b: Any) -> set[tuple[str, str, str]]:
    """The constraints and indexes whose definitions (pg_get_constraintdef, pg_get_indexdef) are equal in `a`
    and `b`, as core/fix.without_noop_pairs names them: results drops and re-adds some of them anyway."""
    constraints = {(c.schema, c.table_name, c.name) for k, c in a.constraints.items()
                   if k in b.constraints and _constraint_def(c) == _constraint_def(b.constraints[k])}
    indexes = {(i.schema, "", i.name) for k, i in a.indexes.items()
               if k in b.indexes and i.definition == b.indexes[k].definition}
    return constraints | indexes


def _constraint_def(c: Any) -> tuple[Any, ...]:
    return (c.definition, c.is_deferrable, c.initially_deferred, c.is_not_valid)


def has_objects(url: str, exclude: Iterable[str] = BOOKKEEPING_SCHEMAS, ignore_tables: Iterable[str] = ()) -> bool:
    """True when the database holds any schema object outside the bookkeeping schemas and `ignore_tables`."""
    inspected = inspect(url, exclude, ignore_tables)
    defaults = {("schemas", "public"), ("extensions", "plpgsql")}  # what CREATE DATABASE gives
    return any((cat, key) not in defaults for cat in CATEGORIES for key in getattr(inspected, cat, {}))


def compare(
    expected_url: str,
    actual_url: str,
    exclude: Iterable[str] = BOOKKEEPING_SCHEMAS,
    ignore_tables: Iterable[str] = (),
) -> SchemaDiff:
    """Compare the schema the migrations produce (`expected_url`, a shadow database) with a live one."""
    _, differences, _ = _results()
    expected, actual = inspect(expected_url, exclude, ignore_tables), inspect(actual_url, exclude, ignore_tables)
    found = _guarded(lambda: list(_differences(expected, actual, differences)))
    statements = _guarded(lambda: _ordered_statements(actual, expected))
    statements = without_noop_pairs(statements, _unchanged(actual, expected))
    # db.check's suggested fix, in the lock-safe order db.generate writes (each statement run on its own)
    return SchemaDiff(tuple(found), tuple(s for m in safe_sequence(statements).migrations for s in m))


def _guarded(call: Any) -> Any:
    """Run a results computation over inspected objects; an exception in results becomes InspectionFailed."""
    try:
        return call()
    except (LookupError, AttributeError, TypeError, ValueError, AssertionError) as exc:
        raise InspectionFailed(
            "results could not compare the two schemas",
            cause=f"{type(exc).__name__}: {exc}",
            state="nothing was written or tracked",
            fix="an object results cannot model is involved (the cause names it): report it with the object's "
            "definition; meanwhile compare that object by hand",
        ) from None


# ------------------------------------------------------------------------------------------ snapshots
def snapshot(inspected: Any) -> dict[tuple[str, ...], Any]:
    """Every object of an inspection under its key, for object-by-object comparison (core.attribution):
    (category, key) for each object of CATEGORIES, a table as ("tables", key) holding its table-level
    properties and one ("columns", table key, column name) per column."""
    out: dict[tuple[str, ...], Any] = {}
    for cat in CATEGORIES:
        for key, obj in (getattr(inspected, cat, {}) or {}).items():
            if cat == "tables":
                out[(cat, key)] = _table_properties(obj)
                for name, col in obj.columns.items():
                    out[("columns", key, name)] = col
            else:
                out[(cat, key)] = obj
    return out


def _table_properties(table: Any) -> tuple[Any, ...]:
    names = (
        "relationtype", "parent_table", "partition_def", "rowsecurity", "forcerowsecurity",
        "persistence", "options", "comment",
    )
    return tuple(getattr(table, n, None) for n in names)


# ------------------------------------------------------------------------------------------ differences
def _owner_table(obj: Any) -> tuple[str, str] | None:
    table = getattr(obj, "table_name", None)
    return (obj.schema, table) if table else None


def _differences(expected: Any, actual: Any, differences: Any) -> Iterator[Difference]:
    """Per category: objects the database lacks, objects it has extra, and objects defined differently.
    Objects attached to a table that is itself missing or extra are folded into that table's entry."""
    # looked up by _owner_table(obj), None for an object of no table (never a key)
    whole_tables: dict[tuple[str, str] | None, list[Any]] = {}
    t_added, t_removed, _, _ = differences(actual.tables, expected.tables)
    for key, t in {**t_added, **t_removed}.items():
        whole_tables[(t.schema, t.name)] = []

    per_category: list[tuple[str, Any, Any, Any]] = []
    for cat in CATEGORIES:
        before, after = getattr(actual, cat, {}) or {}, getattr(expected, cat, {}) or {}
        added, removed, modified, _ = differences(before, after)
        if cat in _TABLE_RELATED:
            for group in (added, removed):
                for key in [k for k, v in group.items() if _owner_table(v) in whole_tables]:
                    whole_tables[_owner_table(group[key])].append(group.pop(key))
        per_category.append((cat, added, removed, modified))

    for cat, added, removed, modified in per_category:
        label = LABELS[cat]
        for key, obj in added.items():
            sql: Iterable[str | None] = [text_of(obj, "create_statement") or ""]
            if cat == "tables":
                sql = _table_create(obj, whole_tables[(obj.schema, obj.name)])
            yield Difference(
                f"{label} {key}", cat, MISSING, definition(obj), None, tuple(s for s in sql if s), (cat, key)
            )
        for key, obj in removed.items():
            yield Difference(
                f"{label} {key}", cat, EXTRA, None, definition(obj),
                tuple(s for s in [text_of(obj, "drop_statement")] if s), (cat, key),
            )
        for key, obj in modified.items():
            old = before_obj = getattr(actual, cat)[key]
            if cat == "tables":
                yield from _table_changes(key, obj, before_obj, differences)
                continue
            if hasattr(obj, "can_replace") and obj.can_replace(old):
                sql = [text_of(obj, "create_statement")]
            elif hasattr(obj, "alter_statements") and cat == "sequences":
                sql = list(obj.alter_statements(old))
            else:
                sql = [text_of(old, "drop_statement"), text_of(obj, "create_statement")]
            expected_text, actual_text = definition(obj), definition(old)
            if expected_text == actual_text:  # same text: say which property differs
                expected_text, actual_text = _properties(obj, old)
            yield Difference(
                f"{label} {key}", cat, CHANGED, expected_text, actual_text, tuple(s for s in sql if s), (cat, key)
            )


def _table_create(table: Any, attached: list[Any]) -> list[str]:
    """A missing table: its sequences, the table, its comments, then indexes, constraints, triggers."""
    order = {"InspectedSequence": 0, "InspectedIndex": 2, "InspectedConstraint": 3, "InspectedTrigger": 4}
    attached = sorted(attached, key=lambda o: order.get(type(o).__name__, 5))
    sql = [text_of(o, "create_statement") for o in attached if type(o).__name__ == "InspectedSequence"]
    sql.append(text_of(table, "create_statement"))
    if getattr(table, "comment", None) is not None:
        sql.append(text_of(table, "comment_statement"))
    for col in table.columns.values():
        if col.comment is not None:
            sql.append(col.comment_statement(table.quoted_full_name))
    sql += [text_of(o, "alter_ownership_statement") for o in attached if type(o).__name__ == "InspectedSequence"]
    for o in attached:
        if type(o).__name__ == "InspectedConstraint" and getattr(o, "index", None):
            continue  # its index is listed as an index; the constraint then uses it
        if type(o).__name__ != "InspectedSequence":
            sql.append(text_of(o, "create_statement"))
    sql += [
        text_of(o, "create_statement")
        for o in attached
        if type(o).__name__ == "InspectedConstraint" and getattr(o, "index", None)
    ]
    return [s for s in sql if s]


def _table_changes(key: str, table: Any, old: Any, differences: Any) -> Iterator[Difference]:
    """A table both sides have: one Difference per column, plus one for table-level properties."""
    name = table.quoted_full_name
    c_added, c_removed, c_modified, _ = differences(old.columns, table.columns)
    for col_name, col in c_added.items():
        yield Difference(
            f"column {name}.{col.quoted_name}", "columns", MISSING, col.creation_clause, None,
            (table.alter_table_statement(col.add_column_clause),), ("columns", key, col_name),
        )  # fmt: skip
    for col_name, col in c_removed.items():
        yield Difference(
            f"column {name}.{col.quoted_name}", "columns", EXTRA, None, col.creation_clause,
            (table.alter_table_statement(col.drop_column_clause),), ("columns", key, col_name),
        )  # fmt: skip
    for col_name, col in c_modified.items():
        was = old.columns[col_name]
        sql = [] if col.only_comment_changed(was) else list(col.alter_table_statements(was, name))
        comment = col.comment_alter_statement(was, name)
        yield Difference(
            f"column {name}.{col.quoted_name}", "columns", CHANGED,
            _column_text(col), _column_text(was), tuple(s for s in [*sql, comment] if s), ("columns", key, col_name),
        )  # fmt: skip
    if not (c_added or c_removed or c_modified):  # the table itself: comment, RLS, storage options ...
        expected_text, actual_text = _properties(table, old)
        yield Difference(
            f"table {key}", "tables", CHANGED, expected_text, actual_text,
            tuple(s for s in table.alter_statements(old) if s), ("tables", key),
        )


def _column_text(col: Any) -> str:
    text = col.creation_clause
    return text + (f" -- comment: {col.comment!r}" if col.comment is not None else "")


_NOT_PROPERTIES = {"oid", "dependents", "dependent_on", "dependents_all", "dependent_on_all", "columns", "definition"}


def _properties(expected: Any, actual: Any) -> tuple[str, str]:
    """The properties (and column properties) that differ, as `name: value` lists for each side."""
    pairs: list[tuple[str, Any, Any]] = []
    a, b = vars(expected), vars(actual)
    pairs += [
        (k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if k not in _NOT_PROPERTIES and a.get(k) != b.get(k)
    ]
    cols_a, cols_b = getattr(expected, "columns", {}) or {}, getattr(actual, "columns", {}) or {}
    for name in cols_a.keys() & cols_b.keys():
        ca, cb = vars(cols_a[name]), vars(cols_b[name])
        pairs += [
            (f"column {name} {k}", ca.get(k), cb.get(k)) for k in sorted(ca) if k != "enum" and ca.get(k) != cb.get(k)
        ]
    if not pairs:
        return "(no visible property differs)", "(no visible property differs)"
    return "; ".join(f"{k}: {v!r}" for k, v, _ in pairs), "; ".join(f"{k}: {w!r}" for k, _, w in pairs)
