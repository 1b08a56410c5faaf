"""The shapes every document shares (a problem, a migration, a tracking row, a statement, a difference, the error
object), and the registry of serializers: each report class's serializer, registered with `@serializes(Class)` in
its command family's module (render/json/run.py, check.py, ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from migrakit.errors import MigrakitError

if TYPE_CHECKING:
    from migrakit.core.drizzle.row_matching import TrackingUpgrade
    from migrakit.core.migration import Migration, TrackingRow
    from migrakit.core.plan.planner import Problem
    from migrakit.core.reports.check import Check

Data = dict[str, Any]
Report = TypeVar("Report")

SERIALIZERS: dict[type, Callable[[Any], Data]] = {}  # report class -> its task's own fields


def serializes(cls: type[Report]) -> Callable[[Callable[[Report], Data]], Callable[[Report], Data]]:
    """Register the decorated function as the serializer of `cls`'s reports (render/json/document.serialize)."""

    def register(serializer: Callable[[Report], Data]) -> Callable[[Report], Data]:
        SERIALIZERS[cls] = serializer
        return serializer

    return register


def problem(p: Problem) -> Data:
    """A planner.Problem: {kind, message, migration, file, fix, blocking}."""
    return {"kind": p.kind, "message": p.message, "migration": p.migration, "file": p.file, "fix": p.fix, "blocking": p.blocking}


def row(r: TrackingRow) -> Data:
    """A planner.TrackingRow: {id, hash, created_at, name}."""
    return {"id": r.id, "hash": r.hash, "created_at": r.created_at, "name": r.name}


def migration(m: Migration, state: str | None = None, **extra: Any) -> Data:
    """A migration.Migration: {tag, when, hash, file, mode, state} plus the caller's extra fields."""
    return {"tag": m.tag, "when": m.when, "hash": m.hash, "file": m.path, "mode": m.mode, "state": state, **extra}


def statement(number: int, sql: str, line: int | None = None, col: int | None = None) -> Data:
    """A statement: {number, line, col, sql} (line and col null for generated SQL)."""
    return {"number": number, "line": line, "col": col, "sql": sql}


def difference(d: Any) -> Data:
    """A core.differences.Difference (db.check)."""
    return {
        "object": d.object,
        "category": d.category,
        "kind": d.kind,
        "migrations_produce": d.expected,
        "database_has": d.actual,
        "reconcile_sql": list(d.sql),
    }


def tags(ms: Iterable[Any]) -> list[str]:
    return [m if isinstance(m, str) else m.tag for m in ms]


def check(c: Check) -> Data:
    """An envcheck.Check: {name, ok, found, fix}."""
    return {"name": c.name, "ok": c.ok, "found": c.found, "fix": c.fix}


def error(err: MigrakitError) -> Data:
    """The error object: the same fields for every error of every task."""
    return {
        "kind": err.kind,
        "exit_code": err.exit_code,
        "message": err.message,
        "file": err.file,
        "migration": err.migration,
        "statement": err.statement_no,
        "statement_count": err.statement_count,
        "line": err.line,
        "col": err.col,
        "cause": err.cause,
        "state": err.state,
        "fix": err.fix,
        "details": list(err.details),
    }


def tracking_upgrade(up: TrackingUpgrade | None) -> Data | None:
    """upgrade.TrackingUpgrade: what db.upgrade-tracking does (null: nothing to do)."""
    if up is None:
        return None
    return {
        "add_columns": up.add_columns,
        "possible": up.possible,
        "rows": [
            {**row(m.row), "name": m.name, "matched_by": m.how, "hash_differs": m.hash_differs} for m in up.matches
        ],
        "unmatched": [row(x) for x in up.unmatched],
    }
