"""Index rules: building or dropping an index without CONCURRENTLY on a table the application uses. Pure.
Cases: tests/lint_cases/indexes/."""

from __future__ import annotations

from collections.abc import Iterator

from migrakit.core.lint.rule import ERROR, WARNING, Finding, Rule, Seen
from migrakit.core.postgres.actions import ACCESS_EXCLUSIVE

INDEX_NOT_CONCURRENT = Rule(
    "index-not-concurrent",
    ERROR,
    "CREATE INDEX without CONCURRENTLY on an existing table",
    "create the index CONCURRENTLY in a migration of its own (CREATE INDEX CONCURRENTLY IF NOT EXISTS ...)",
    "the build holds ShareLock on the table: every INSERT, UPDATE and DELETE waits until the index is built",
)
DROP_INDEX_NOT_CONCURRENT = Rule(
    "drop-index-not-concurrent",
    WARNING,
    "DROP INDEX without CONCURRENTLY on an existing table",
    "DROP INDEX CONCURRENTLY IF EXISTS ... in a migration of its own",
    "the drop takes AccessExclusiveLock on the index's table: reads and writes wait behind it (and behind any "
    "long query already holding the table)",
)
RULES = (INDEX_NOT_CONCURRENT, DROP_INDEX_NOT_CONCURRENT)


def check(seen: Seen) -> Iterator[Finding]:
    for a in seen.actions:
        rel = a.relation
        if a.kind == "create_index" and not a.detail["concurrent"] and seen.existing(rel):
            yield seen.finding(
                INDEX_NOT_CONCURRENT,
                f"CREATE INDEX on {rel}{seen.size(rel)} holds ShareLock: writes wait for the whole build",
                rel,
            )
        elif a.kind == "drop_index" and not a.detail["concurrent"] and seen.existing(rel):
            tables = [r for r, mode in seen.locks() if mode == ACCESS_EXCLUSIVE and r != rel and seen.existing(r)]
            if tables:
                yield seen.finding(
                    DROP_INDEX_NOT_CONCURRENT,
                    f"DROP INDEX {rel} takes AccessExclusiveLock on {', '.join(tables)}",
                    tables[0],
                )
