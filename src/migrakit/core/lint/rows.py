"""Row rules: one UPDATE or DELETE over many rows of the target (its estimate), which should run in batches. Pure.
Cases: tests/lint_cases/rows/."""

from __future__ import annotations

from collections.abc import Iterator

from migrakit.core.lint.rule import ERROR, WARNING, Finding, Rule, Seen
from migrakit.core.postgres.actions import Action

MANY_ROWS = 10_000  # rows one statement may write before it should be batched
HUGE = 1_000_000  # from here it is an error: minutes of row locks, WAL and replica lag
MANY_ROWS_IN_ONE_STATEMENT = Rule(
    "many-rows-in-one-statement",
    WARNING,
    f"one UPDATE or DELETE over {MANY_ROWS:,} rows or more of the target",
    "write the rows in batches (e.g. 1,000-10,000 by primary key range, each committed), in a migration of its "
    "own or a background job, not in one statement",
    "one statement locks every row it writes until COMMIT, and writes them all at once: concurrent writes to "
    "those rows wait, the WAL and replicas fall behind, dead rows pile up",
)
RULES = (MANY_ROWS_IN_ONE_STATEMENT,)


def check(seen: Seen) -> Iterator[Finding]:
    for a in seen.actions:
        if a.kind not in ("update", "delete") or not seen.existing(a.relation):
            continue
        n = rows_written(seen, a)
        if n is not None and n >= MANY_ROWS:
            rel = a.relation
            yield seen.finding(
                MANY_ROWS_IN_ONE_STATEMENT,
                f"{a.kind.upper()} writes ~{int(n):,} rows of {rel} in one statement (the target's estimate)",
                rel,
                severity=ERROR if n >= HUGE else None,
            )


def rows_written(seen: Seen, a: Action) -> float | None:
    """Rows the statement writes on the target: all of them without WHERE; with WHERE, the share of the shadow's
    rows it wrote there (when the shadow holds rows); None when it cannot be told."""
    total = seen.rows(a.relation)
    if total is None or a.relation is None:
        return None
    if not a.detail.get("where"):
        return total
    m = seen.measured
    written, shadow = m.writes.get(a.relation, 0), m.shadow_rows.get(a.relation, 0.0)
    if seen.measured_ok and written and shadow > 0:
        return total * min(1.0, written / shadow)
    return None
