"""db.lint's catalogue: the rules (id, severity, what goes wrong, the safe way) and the Finding a rule
produces. Pure."""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"


WARNING = "warning"


INFO = "info"


SEVERITIES = (INFO, WARNING, ERROR)  # in rising order


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str  # one line, for the guide and the rule list
    fix: str  # the safe rewrite
    why: str  # what goes wrong, for the guide


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "index-not-concurrent",
            ERROR,
            "CREATE INDEX without CONCURRENTLY on an existing table",
            "create the index CONCURRENTLY in a migration of its own (CREATE INDEX CONCURRENTLY IF NOT EXISTS ...)",
            "the build holds ShareLock on the table: every INSERT, UPDATE and DELETE waits until the index is built",
        ),
        Rule(
            "drop-index-not-concurrent",
            WARNING,
            "DROP INDEX without CONCURRENTLY on an existing table",
            "DROP INDEX CONCURRENTLY IF EXISTS ... in a migration of its own",
            "the drop takes AccessExclusiveLock on the index's table: reads and writes wait behind it (and behind any "
            "long query already holding the table)",
        ),
        Rule(
            "constraint-not-valid",
            ERROR,
            "foreign key or CHECK added without NOT VALID on an existing table",
            "ADD CONSTRAINT ... NOT VALID in this migration, "
            "then ALTER TABLE ... VALIDATE CONSTRAINT ... in a later one",
            "the constraint is validated by scanning the whole table (a foreign key: both tables) while the lock that "
            "blocks writes (ShareRowExclusiveLock or AccessExclusiveLock) is held",
        ),
        Rule(
            "unique-under-lock",
            ERROR,
            "UNIQUE or PRIMARY KEY constraint built under the table's lock",
            "CREATE UNIQUE INDEX CONCURRENTLY in a migration of its own, then ALTER TABLE ... ADD CONSTRAINT ... "
            "UNIQUE USING INDEX ... (PRIMARY KEY USING INDEX ...)",
            "the index behind the constraint is built while AccessExclusiveLock blocks reads and writes",
        ),
        Rule(
            "set-not-null-scan",
            ERROR,
            "SET NOT NULL that scans the table under AccessExclusiveLock",
            "add CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a later migration, then SET NOT NULL "
            "(PostgreSQL 12+ skips the scan) and drop the CHECK",
            "every row is read to prove the column has no NULL while AccessExclusiveLock blocks reads and writes",
        ),
        Rule(
            "add-not-null-without-default",
            ERROR,
            "NOT NULL column added without a default to a table with rows",
            "add the column nullable, backfill it in batches, add CHECK (col IS NOT NULL) NOT VALID, validate it, "
            "then SET NOT NULL; or give the column a constant DEFAULT",
            "the statement fails on any table that has rows (the existing rows would hold NULL)",
        ),
        Rule(
            "volatile-default",
            ERROR,
            "column added with a volatile default (or serial, identity, stored generated)",
            "add the column without a default (or with a constant one), set the default with ALTER COLUMN ... SET "
            "DEFAULT, and backfill existing rows in batches",
            "every row gets its own value, so the table is rewritten under AccessExclusiveLock",
        ),
        Rule(
            "column-type-change",
            ERROR,
            "column type changed in a way that rewrites or scans the table",
            "add a new column of the new type, write both from the application, backfill in batches, switch reads, "
            "then drop the old column in a later migration",
            "the table (and its indexes) are rewritten under AccessExclusiveLock, and the running application still "
            "reads and writes the old type",
        ),
        Rule(
            "table-rewrite",
            ERROR,
            "statement rewrites an existing table",
            "find a form that does not rewrite (see the guide), or run it in a maintenance window",
            "the whole table is copied under AccessExclusiveLock: nothing reads or writes it until it is done",
        ),
        Rule(
            "drop-column",
            ERROR,
            "column dropped while the running application may still use it",
            "first deploy an application that no longer reads or writes the column (Drizzle: remove it from the "
            "schema), then drop it in a later migration with `-- migrakit:allow drop-column <why it is safe now>`",
            "during a deploy the previous application version still runs: its queries naming the column fail",
        ),
        Rule(
            "drop-table",
            ERROR,
            "table dropped while the running application may still use it",
            "first deploy an application that no longer uses the table, then drop it in a later migration with "
            "`-- migrakit:allow drop-table <why it is safe now>`",
            "during a deploy the previous application version still runs: its queries on the table fail",
        ),
        Rule(
            "rename-column",
            ERROR,
            "column renamed under the running application",
            "add the new column, write both, backfill, switch reads, then drop the old one (expand and contract); or "
            "a view that keeps the old name during the deploy",
            "the previous application version still uses the old name and fails until it is replaced",
        ),
        Rule(
            "rename-table",
            ERROR,
            "table renamed under the running application",
            "create the new table (or rename and leave a view with the old name), move the application, then drop "
            "the old name in a later migration",
            "the previous application version still uses the old name and fails until it is replaced",
        ),
        Rule(
            "enum-value-renamed",
            WARNING,
            "enum value renamed under the running application",
            "add the new value, move the data and the application to it, then stop using the old one",
            "rows and the previous application version still use the old label",
        ),
        Rule(
            "enum-add-value-in-transaction",
            ERROR,
            "ALTER TYPE ... ADD VALUE inside a transaction on PostgreSQL < 12",
            "put ALTER TYPE ... ADD VALUE in a migration of its own (migrakit runs it outside a transaction), or "
            "upgrade the server",
            "PostgreSQL before 12 refuses ADD VALUE inside a transaction block",
        ),
        Rule(
            "missing-lock-timeout",
            WARNING,
            "lock taken with migrakit's lock_timeout disabled",
            "set lock_timeout (e.g. '5s', the default) in [tool.migrakit] or MIGRAKIT_LOCK_TIMEOUT, or SET "
            "lock_timeout at the top of the migration",
            "a lock that waits behind a long query queues every later query on the table behind it: without a bound "
            "the wait can take the application down",
        ),
        Rule(
            "statement-failed",
            ERROR,
            "statement failed on the shadow database",
            "fix the statement: it fails on a database with the target's schema",
            "the same statement would fail on the target",
        ),
        Rule(
            "suppression-without-reason",
            WARNING,
            "`-- migrakit:allow RULE-ID` without a reason",
            "say why it is safe: `-- migrakit:allow RULE-ID the reason`",
            "a suppression without a reason cannot be reviewed; it suppresses nothing",
        ),
        Rule(
            "unknown-rule",
            WARNING,
            "`-- migrakit:allow` names a rule that does not exist",
            'use one of the rule ids listed in the migration guide\'s "Safe migrations"',
            "a misspelt suppression suppresses nothing",
        ),
    )
}


# Locks that block writes (INSERT/UPDATE/DELETE take RowExclusiveLock): what makes a statement an outage.
WRITE_BLOCKING = frozenset({"ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"})


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    message: str
    fix: str
