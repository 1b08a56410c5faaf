"""Column rules: a column added, changed, dropped or renamed in a way that rewrites the table, fails on its rows,
or breaks the application version still running during the deploy. Pure. Cases: tests/lint_cases/columns/."""

from __future__ import annotations

from collections.abc import Iterator

from migrakit.core.lint.rule import ERROR, Finding, Rule, Seen

ADD_NOT_NULL_WITHOUT_DEFAULT = Rule(
    "add-not-null-without-default",
    ERROR,
    "NOT NULL column added without a default to a table with rows",
    "add the column nullable, backfill it in batches, add CHECK (col IS NOT NULL) NOT VALID, validate it, "
    "then SET NOT NULL; or give the column a constant DEFAULT",
    "the statement fails on any table that has rows (the existing rows would hold NULL)",
)
VOLATILE_DEFAULT = Rule(
    "volatile-default",
    ERROR,
    "column added with a volatile default (or serial, identity, stored generated)",
    "add the column without a default (or with a constant one), set the default with ALTER COLUMN ... SET "
    "DEFAULT, and backfill existing rows in batches, each committed (`db.lint --fix` writes this sequence for a "
    "volatile default, a serial column and an identity column without sequence options; a stored generated "
    "column it leaves as written)",
    "every row gets its own value, so the table is rewritten under AccessExclusiveLock",
)
COLUMN_TYPE_CHANGE = Rule(
    "column-type-change",
    ERROR,
    "column type changed in a way that rewrites or scans the table (or rebuilds its indexes)",
    "add a new column of the new type, write both from the application, backfill in batches, switch reads, "
    "then drop the old column in a later migration",
    "the table (and its indexes) are rewritten under AccessExclusiveLock, and the running application still "
    "reads and writes the old type",
)
DROP_COLUMN = Rule(
    "drop-column",
    ERROR,
    "column dropped while the running application may still use it",
    "first deploy an application that no longer reads or writes the column (Drizzle: remove it from the "
    "schema), then drop it in a later migration with `-- migrakit:allow drop-column <why it is safe now>`",
    "during a deploy the previous application version still runs: its queries naming the column fail",
    scales=False,
)
RENAME_COLUMN = Rule(
    "rename-column",
    ERROR,
    "column renamed under the running application",
    "add the new column, write both, backfill, switch reads, then drop the old one (expand and contract); or "
    "a view that keeps the old name during the deploy",
    "the previous application version still uses the old name and fails until it is replaced",
    scales=False,
)
RULES = (ADD_NOT_NULL_WITHOUT_DEFAULT, VOLATILE_DEFAULT, COLUMN_TYPE_CHANGE, DROP_COLUMN, RENAME_COLUMN)
# server errors these rules explain (the statement's failure is then said once, by the rule)
EXPLAINS = {"23502": ADD_NOT_NULL_WITHOUT_DEFAULT.id}  # not_null_violation


def check(seen: Seen) -> Iterator[Finding]:
    m = seen.measured
    for a in seen.actions:
        rel = a.relation
        if not seen.existing(rel):
            continue
        if a.kind == "add_column":
            d = a.detail
            if d["not_null"] and not d["default"] and not d["generated"] and seen.has_rows(rel):
                failed = f"; on the shadow: {m.error}" if m.error else ""
                yield seen.finding(
                    ADD_NOT_NULL_WITHOUT_DEFAULT,
                    f"NOT NULL column {a.column} without a default on {rel}{seen.size(rel)}: fails when the table "
                    f"has rows{failed}",
                    rel,
                )
            elif (rel in m.rewrites) if seen.measured_ok else d["generated"]:
                yield seen.finding(
                    VOLATILE_DEFAULT,
                    f"column {a.column} rewrites {rel}{seen.size(rel)}: its default is computed per row",
                    rel,
                )
        elif a.kind == "alter_type":
            rebuilt = [i for i in m.indexes if i not in m.new] if seen.measured_ok else []
            if rel in seen.rewrites() or rel in seen.scans() or rebuilt or not seen.measured_ok:
                what = "rewrites" if rel in seen.rewrites() else "scans" if rel in seen.scans() else ""
                parts = [f"{what} {rel}{seen.size(rel)}"] if what else []
                parts += [f"rebuilds {', '.join(rebuilt)}"] if rebuilt else []
                work = " and ".join(parts) or f"may rewrite {rel}{seen.size(rel)}"
                yield seen.finding(
                    COLUMN_TYPE_CHANGE, f"changing the type of {rel}.{a.column} {work} under AccessExclusiveLock", rel
                )
        elif a.kind == "drop_column":
            yield seen.finding(
                DROP_COLUMN,
                f"dropping {rel}.{a.column} breaks the application version still running during the deploy",
                rel,
            )
        elif a.kind == "rename_column":
            yield seen.finding(
                RENAME_COLUMN,
                f"renaming {rel}.{a.column} to {a.detail['to']} breaks the application version still running",
                rel,
            )
