"""Table rules: a table dropped or renamed under the running application, and statements that copy a whole table
to a new file (a rewrite) while AccessExclusiveLock blocks reads and writes: VACUUM FULL, CLUSTER, SET TABLESPACE,
REFRESH MATERIALIZED VIEW without CONCURRENTLY, and any other rewrite the measurement saw. Pure.
Cases: tests/lint_cases/tables/."""

from __future__ import annotations

from collections.abc import Iterator

from migrakit.core.lint.rule import ERROR, Finding, Rule, Seen

DROP_TABLE = Rule(
    "drop-table",
    ERROR,
    "table dropped while the running application may still use it",
    "first deploy an application that no longer uses the table, then drop it in a later migration with "
    "`-- migrakit:allow drop-table <why it is safe now>`",
    "during a deploy the previous application version still runs: its queries on the table fail",
    scales=False,
)
RENAME_TABLE = Rule(
    "rename-table",
    ERROR,
    "table renamed under the running application",
    "create the new table (or rename and leave a view with the old name), move the application, then drop "
    "the old name in a later migration",
    "the previous application version still uses the old name and fails until it is replaced",
    scales=False,
)
VACUUM_FULL = Rule(
    "vacuum-full",
    ERROR,
    "VACUUM FULL on an existing table",
    "plain VACUUM (it takes no lock that blocks reads or writes), or pg_repack / pg_squeeze to reclaim space "
    "online; a migration is not the place for either",
    "the table is copied to a new file under AccessExclusiveLock: nothing reads or writes it until it is done",
)
CLUSTER = Rule(
    "cluster",
    ERROR,
    "CLUSTER on an existing table",
    "pg_repack --order-by (online), outside a migration",
    "the table is copied in index order under AccessExclusiveLock: nothing reads or writes it until it is done",
)
SET_TABLESPACE = Rule(
    "set-tablespace",
    ERROR,
    "ALTER TABLE ... SET TABLESPACE on an existing table",
    "pg_repack --tablespace (online), or move the table in a maintenance window",
    "every file of the table is copied to the new tablespace under AccessExclusiveLock",
)
REFRESH_NOT_CONCURRENT = Rule(
    "refresh-not-concurrent",
    ERROR,
    "REFRESH MATERIALIZED VIEW without CONCURRENTLY",
    "REFRESH MATERIALIZED VIEW CONCURRENTLY (it needs a unique index on the view), in a migration of its own",
    "the view's query runs and its result replaces the view under AccessExclusiveLock: every read of the view "
    "waits until it is done",
)
TABLE_REWRITE = Rule(
    "table-rewrite",
    ERROR,
    "statement rewrites an existing table",
    "find a form that does not rewrite (see the guide), or run it in a maintenance window",
    "the whole table is copied under AccessExclusiveLock: nothing reads or writes it until it is done",
)
RULES = (DROP_TABLE, RENAME_TABLE, VACUUM_FULL, CLUSTER, SET_TABLESPACE, REFRESH_NOT_CONCURRENT, TABLE_REWRITE)
# rules (of any family) that already name a statement's rewrite: table-rewrite stays quiet after them
NAMES_A_REWRITE = frozenset({"volatile-default", "column-type-change", VACUUM_FULL.id, CLUSTER.id, SET_TABLESPACE.id,
                             REFRESH_NOT_CONCURRENT.id})  # fmt: skip
_REWRITERS = {"vacuum_full": (VACUUM_FULL, "VACUUM FULL"), "cluster": (CLUSTER, "CLUSTER"),
              "set_tablespace": (SET_TABLESPACE, "SET TABLESPACE")}  # fmt: skip


def check(seen: Seen) -> Iterator[Finding]:
    found: list[Finding] = []
    for a in seen.actions:
        rel = a.relation
        if not seen.existing(rel):
            continue
        if a.kind == "drop_table":
            found.append(seen.finding(
                DROP_TABLE,
                f"dropping {rel}{seen.size(rel)} breaks the application version still running during the deploy",
                rel,
            ))  # fmt: skip
        elif a.kind == "rename_table":
            found.append(seen.finding(
                RENAME_TABLE, f"renaming {rel} to {a.detail['to']} breaks the application version still running", rel
            ))  # fmt: skip
        elif a.kind in _REWRITERS and (rel in seen.measured.rewrites or not seen.measured_ok):
            rule, what = _REWRITERS[a.kind]
            found.append(seen.finding(
                rule, f"{what} rewrites {rel}{seen.size(rel)} under AccessExclusiveLock", rel
            ))  # fmt: skip
        elif a.kind == "refresh_matview" and not a.detail["concurrent"]:
            found.append(seen.finding(
                REFRESH_NOT_CONCURRENT,
                f"REFRESH MATERIALIZED VIEW {rel}{seen.size(rel)} holds AccessExclusiveLock on it while its query "
                "runs: every read of the view waits",
                rel,
            ))  # fmt: skip
    yield from found
    fired = {f.rule for f in (*seen.fired, *found)}
    rewritten = [r for r in seen.measured.rewrites if seen.existing(r) and r not in seen.measured.indexes]
    if rewritten and seen.measured_ok and not fired & NAMES_A_REWRITE:
        yield seen.finding(
            TABLE_REWRITE,
            f"rewrites {', '.join(r + seen.size(r) for r in rewritten)} under AccessExclusiveLock",
            next((r for r in rewritten if seen.rows(r) != 0), rewritten[0]),
        )
