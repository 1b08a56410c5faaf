"""Constraint rules: a constraint validated, or its index built, under the lock that blocks writes; SET NOT NULL's
scan; ATTACH PARTITION's scan of the partition. Pure. Cases: tests/lint_cases/constraints/."""

from __future__ import annotations

from collections.abc import Iterator

from migrakit.core.lint.rule import ERROR, WARNING, Finding, Rule, Seen

CONSTRAINT_NOT_VALID = Rule(
    "constraint-not-valid",
    ERROR,
    "foreign key or CHECK added without NOT VALID on an existing table",
    "ADD CONSTRAINT ... NOT VALID in this migration, then ALTER TABLE ... VALIDATE CONSTRAINT ... in a later one",
    "the constraint is validated by scanning the whole table (a foreign key: both tables) while the lock that "
    "blocks writes (ShareRowExclusiveLock or AccessExclusiveLock) is held",
)
UNIQUE_UNDER_LOCK = Rule(
    "unique-under-lock",
    ERROR,
    "UNIQUE or PRIMARY KEY constraint built under the table's lock",
    "CREATE UNIQUE INDEX CONCURRENTLY in a migration of its own, then ALTER TABLE ... ADD CONSTRAINT ... "
    "UNIQUE USING INDEX ... (PRIMARY KEY USING INDEX ...)",
    "the index behind the constraint is built while AccessExclusiveLock blocks reads and writes",
)
EXCLUSION_CONSTRAINT = Rule(
    "exclusion-constraint",
    ERROR,
    "exclusion constraint (EXCLUDE) added to an existing table",
    "add it while the table is new or empty, or in a maintenance window: PostgreSQL has no USING INDEX form for "
    "an exclusion constraint, so its index cannot be built CONCURRENTLY beforehand",
    "the constraint's index is built and every row checked while AccessExclusiveLock blocks reads and writes",
)
SET_NOT_NULL_SCAN = Rule(
    "set-not-null-scan",
    ERROR,
    "SET NOT NULL that scans the table under AccessExclusiveLock",
    "add CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a later migration, then SET NOT NULL "
    "(PostgreSQL 12+ skips the scan) and drop the CHECK",
    "every row is read to prove the column has no NULL while AccessExclusiveLock blocks reads and writes",
)
ATTACH_PARTITION_SCAN = Rule(
    "attach-partition-scan",
    ERROR,
    "ATTACH PARTITION that scans the partition (no matching validated CHECK)",
    "first add a CHECK constraint matching the partition bound (NOT VALID, then VALIDATE CONSTRAINT in a later "
    "migration); ATTACH PARTITION then skips the scan; drop the CHECK afterwards",
    "every row of the partition is read to prove it fits the bound while AccessExclusiveLock on the partition "
    "blocks reads and writes",
)
RULES = (CONSTRAINT_NOT_VALID, UNIQUE_UNDER_LOCK, EXCLUSION_CONSTRAINT, SET_NOT_NULL_SCAN, ATTACH_PARTITION_SCAN)


def check(seen: Seen) -> Iterator[Finding]:
    for a in seen.actions:
        rel = a.relation
        if not seen.existing(rel):
            continue
        if a.kind == "add_constraint":
            t = a.detail["type"]
            if t in ("foreign key", "check") and not a.detail["not_valid"] and seen.scans():
                yield seen.finding(
                    CONSTRAINT_NOT_VALID,
                    f"{t.upper()} on {rel}{seen.size(rel)} is validated by a full scan under lock",
                    rel,
                )
            elif t == "exclude":
                name = f" {a.detail['name']}" if a.detail["name"] else ""
                yield seen.finding(
                    EXCLUSION_CONSTRAINT,
                    f"exclusion constraint{name} on {rel}{seen.size(rel)} builds its index and checks every row "
                    "under AccessExclusiveLock",
                    rel,
                )
            elif t in ("unique", "primary key") and not a.detail["using_index"]:
                yield seen.finding(
                    UNIQUE_UNDER_LOCK,
                    f"{t.upper()} on {rel}{seen.size(rel)} builds its index under AccessExclusiveLock",
                    rel,
                )
        elif a.kind == "add_column" and a.detail["references"]:
            yield seen.finding(
                CONSTRAINT_NOT_VALID,
                f"column {a.column} REFERENCES ...: the foreign key is validated under ShareRowExclusiveLock on "
                "both tables",
                rel,
                severity=WARNING,
            )
        elif a.kind == "set_not_null" and rel in seen.scans():
            yield seen.finding(
                SET_NOT_NULL_SCAN,
                f"SET NOT NULL on {rel}.{a.column} scans {rel}{seen.size(rel)} under AccessExclusiveLock",
                rel,
            )
        elif a.kind == "attach_partition" and rel in seen.scans():
            yield seen.finding(
                ATTACH_PARTITION_SCAN,
                f"ATTACH PARTITION {rel}{seen.size(rel)} to {a.detail['parent']} scans every row of {rel} under "
                "AccessExclusiveLock: no validated CHECK matching its bound spares the scan",
                rel,
            )
