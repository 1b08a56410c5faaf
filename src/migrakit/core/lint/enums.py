"""Enum rules: a value renamed under the running application; a value added inside a transaction where the server
refuses it, or used in the transaction that added it (it fails). Pure. Cases: tests/lint_cases/enums/."""

from __future__ import annotations

from collections.abc import Iterator

from migrakit.core.classify import NO_TRANSACTION, classify
from migrakit.core.lint.rule import ERROR, WARNING, Finding, Rule, Seen

ENUM_VALUE_RENAMED = Rule(
    "enum-value-renamed",
    WARNING,
    "enum value renamed under the running application",
    "add the new value, move the data and the application to it, then stop using the old one",
    "rows and the previous application version still use the old label",
    scales=False,
)
ENUM_ADD_VALUE_IN_TRANSACTION = Rule(
    "enum-add-value-in-transaction",
    ERROR,
    "ALTER TYPE ... ADD VALUE inside a transaction on PostgreSQL < 12",
    "put ALTER TYPE ... ADD VALUE in a migration of its own (migrakit runs it outside a transaction), or "
    "upgrade the server",
    "PostgreSQL before 12 refuses ADD VALUE inside a transaction block",
    scales=False,
)
ENUM_VALUE_USED_IN_TRANSACTION = Rule(
    "enum-value-used-in-transaction",
    ERROR,
    "enum value used in the transaction that added it",
    "put ALTER TYPE ... ADD VALUE in a migration of its own, before the migration that uses the value (a "
    "value can be used once the transaction that added it has committed)",
    "PostgreSQL refuses a new enum value until the transaction that added it commits: the migration fails "
    "(unsafe use of new value)",
    scales=False,
)
RULES = (ENUM_VALUE_RENAMED, ENUM_ADD_VALUE_IN_TRANSACTION, ENUM_VALUE_USED_IN_TRANSACTION)
EXPLAINS = {"55P04": ENUM_VALUE_USED_IN_TRANSACTION.id}  # unsafe_new_enum_value_usage


def check(seen: Seen) -> Iterator[Finding]:
    m = seen.measured
    for a in seen.actions:
        if a.kind == "enum_rename_value":
            yield seen.finding(
                ENUM_VALUE_RENAMED,
                f"renaming a value of enum {a.relation} breaks rows and code that use the old label",
            )
        elif a.kind == "enum_add_value" and m.in_transaction and 0 < seen.target.server_version < 120000:
            yield seen.finding(
                ENUM_ADD_VALUE_IN_TRANSACTION,
                f"ALTER TYPE {a.relation} ADD VALUE inside a transaction fails on "
                f"PostgreSQL {seen.target.server_version // 10000}",
            )
    added = _added_earlier(seen)
    used = [v for v in added if _quoted(v) in seen.text]
    if m.sqlstate == "55P04" or (not seen.measured_ok and m.error is None and used):
        by = seen.statement(added[used[0]]) if used else "an earlier statement"
        values = ", ".join(repr(v) for v in used) or "a value"
        yield seen.finding(
            ENUM_VALUE_USED_IN_TRANSACTION,
            f"uses enum value {values} added by {by} in the same transaction"
            + (f"; on the shadow: {m.error}" if m.error else ""),
        )


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _added_earlier(seen: Seen) -> dict[str, int]:
    """Enum values added by earlier statements of the migration that ran in the same transaction, with the
    statement that added each (their text is read again: Earlier keeps only what the rules need)."""
    out: dict[str, int] = {}
    for e in seen.earlier:
        if e.kind == NO_TRANSACTION:
            continue
        for a in classify(e.sql).actions or ():
            if a.kind == "enum_add_value":
                out[a.detail["value"]] = e.index
    return out
