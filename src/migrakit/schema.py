"""Schema inspection and diff between two live databases, with the `results` library (migra's successor).

The tracking schemas (Drizzle's and migrakit's own) are bookkeeping, not schema: they are left out.
`results` is imported on first use: it is large and only db.check / baseline / consolidate need it.
"""

from __future__ import annotations

import warnings
from typing import Any, Iterable

from . import server

BOOKKEEPING_SCHEMAS = ("drizzle", "migrakit")


def _inspector(conn: Any, exclude: Iterable[str]) -> Any:
    from results.schemainspect import PostgreSQL

    inspected = PostgreSQL(conn.cursor())
    for name in exclude:
        inspected.exclude_schema(name)
    return inspected


def diff_statements(from_url: str, to_url: str, exclude: Iterable[str] = BOOKKEEPING_SCHEMAS) -> list[str]:
    """The SQL statements that would turn the schema at `from_url` into the schema at `to_url` ([] when equal)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from results.dbdiff import Migration as SchemaMigration

    exclude = tuple(exclude)
    with server.connect(from_url) as a, server.connect(to_url) as b:
        diff = SchemaMigration(_inspector(a, exclude), _inspector(b, exclude))
        diff.set_safety(False)
        diff.add_all_changes_ordered()
        # results' ordered diff can emit the same statement twice (seen with enums): keep the first
        return list(dict.fromkeys(s.strip() for s in diff.statements if s.strip()))
