"""The statements of an enum type whose values differ between two schemas, in place of results' own.

results' ordered diff handles a changed enum twice, and the two halves do not fit: its enums step drops and recreates
the type (`drop type` fails while a column uses it), and its tables step renames the type, creates it again, recasts
the columns (their names unquoted: a camelCase column is not found) and drops the renamed one. Here each changed enum
gets one sequence, where results put its first statement:

- values only added (the old ones kept, in their order): `ALTER TYPE ... ADD VALUE ... BEFORE/AFTER`, as drizzle-kit
  writes it; no table is touched;
- a value removed, or the order changed: PostgreSQL has no `ALTER TYPE ... DROP VALUE`. The type is renamed, created
  anew with the target's values, each column of it (or of its array type) recast through text (its default dropped
  before and set after, where results recast its columns: after the views on them are dropped; a partition's column
  follows its parent), and the renamed type is dropped after every other statement (a domain over it still holds
  it: that drop fails, and a down proof names it). A row still holding a removed value fails the recast (`invalid
  input value for enum`), so the transaction changes nothing: no value is ever mapped to another or to NULL.
Enums created or dropped whole are left to results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

OLD_SUFFIX = "__old_version_to_be_dropped"  # results' own name for the renamed type


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def rewrite(statements: Sequence[str], a: Any, b: Any) -> list[str]:
    """`statements` (results' diff from inspection `a` to `b`, stripped) with each changed enum's statements replaced
    by this module's sequence (see the module's docstring)."""
    at: dict[str, list[str]] = {}  # a statement of results' -> what goes where it stood (itself dropped)
    dropped: set[str] = set()
    last: list[str] = []
    for key, new in b.enums.items():
        old = a.enums.get(key)
        if old is None or old.elements == new.elements:
            continue
        name = new.quoted_full_name
        renamed = _ident(new.name + OLD_SUFFIX)
        columns = _columns(a, b, new)
        results_own = [old.drop_statement, new.create_statement, old.alter_rename_statement(new.name + OLD_SUFFIX),
                       old.drop_statement_with_rename(new.name + OLD_SUFFIX)]  # fmt: skip
        for table, was, col, _, array in columns:
            results_own += [] if array else [col.change_enum_statement(table), was.drop_default_statement(table),
                            was.add_default_statement(table)]  # fmt: skip
        results_own = [s.strip() for s in results_own]
        dropped.update(results_own)
        anchor = next((s for s in statements if s in results_own[:3]), None)
        if _only_added(old.elements, new.elements):  # no recast: only a default that changed (results' was left out)
            first, recast = _add_values(name, old.elements, new.elements), _defaults(columns)
        else:
            first = [f"alter type {name} rename to {renamed};",
                     f"create type {name} as enum ({', '.join(_literal(e) for e in new.elements)});"]  # fmt: skip
            recast = _recast(name, columns)
            last.append(f"drop type {_ident(new.schema)}.{renamed};")
        if anchor is None:  # results said nothing of it (cannot happen for a changed enum): first of all
            at.setdefault("", []).extend(first + recast)
            continue
        at.setdefault(anchor, []).extend(first)
        rename = results_own[2]
        at.setdefault(rename if rename in statements else anchor, []).extend(recast)
    if not at:
        return list(statements)
    out = list(at.pop("", []))
    for s in statements:
        out.extend(at.pop(s, []))
        if s not in dropped:
            out.append(s)
    return out + last


def _only_added(old: Sequence[str], new: Sequence[str]) -> bool:
    return [e for e in new if e in old] == list(old)


def _add_values(name: str, old: Sequence[str], new: Sequence[str]) -> list[str]:
    """`ALTER TYPE ... ADD VALUE` for each value of `new` that `old` lacks, placed as in `new`."""
    out: list[str] = []
    previous: str | None = None
    for value in new:
        if value not in old:
            where = f"after {_literal(previous)}" if previous is not None else f"before {_literal(old[0])}"
            out.append(f"alter type {name} add value {_literal(value)} {where};")
        previous = value
    return out


class _Column(NamedTuple):
    """A column of a changed enum that both sides have: its table, itself in `a` (was) and in `b` (col)."""

    table: str
    was: Any
    col: Any
    inherited: bool  # a partition's or a child table's: follows its parent's ALTER (ALTER TABLE recurses)
    array: bool  # of the enum's array type (results does not recast these)


def _columns(a: Any, b: Any, enum: Any) -> list[_Column]:
    """Each column both sides have, of the enum (or an array of it) on both sides."""
    found = []
    for key, table in b.tables.items():
        before = a.tables.get(key)
        if before is None:
            continue
        for col_name, col in table.columns.items():
            was = before.columns.get(col_name)
            if was is None:
                continue
            inherited = bool(col.is_inherited or getattr(table, "parent_table", None))
            if _of(col, enum) and _of(was, enum):
                found.append(_Column(key, was, col, inherited, False))
            elif _array_of(col, enum) and _array_of(was, enum):
                found.append(_Column(key, was, col, inherited, True))
    return found


def _of(col: Any, enum: Any) -> bool:
    return bool(col.is_enum) and col.enum is not None and col.enum.quoted_full_name == enum.quoted_full_name


def _array_of(col: Any, enum: Any) -> bool:
    """The column's type is the enum's array type, as format_type names it (qualified when not on the path)."""
    written = str(getattr(col, "dbtypestr", "") or "").replace('"', "")
    return not col.is_enum and written in (f"{enum.name}[]", f"{enum.schema}.{enum.name}[]")


def _recast(name: str, columns: Sequence[_Column]) -> list[str]:
    """Each column recast to the new type through text, its default dropped first and the target's set after."""
    out: list[str] = []
    for table, was, col, inherited, array in columns:
        if inherited:
            continue
        alter = f"alter table {table} alter column {col.quoted_name}"
        if was.default and not was.is_generated:
            out.append(f"{alter} drop default;")
        to, via = (f"{name}[]", "text[]") if array else (name, "text")
        out.append(f"{alter} type {to} using {col.quoted_name}::{via}::{to};")
        if col.default and not col.is_generated:
            out.append(f"{alter} set default {col.default};")
    return out


def _defaults(columns: Sequence[_Column]) -> list[str]:
    """The default of each column whose default differs between the two sides, as the target has it."""
    out: list[str] = []
    for table, was, col, inherited, _ in columns:
        if inherited or col.is_generated or was.default == col.default:
            continue
        alter = f"alter table {table} alter column {col.quoted_name}"
        out.append(f"{alter} set default {col.default};" if col.default else f"{alter} drop default;")
    return out
