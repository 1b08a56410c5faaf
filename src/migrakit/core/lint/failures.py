"""Failure rules: a migration db.migrate refuses as written (the same words as its refusal), and a statement that
fails on the shadow database, told apart as the environment's doing (the shadow lacks an extension, role or
tablespace the target has) or the migration's. Statements that fail only because an earlier one did are not
measured (the engine decides), not failures of their own. Pure. Cases: tests/lint_cases/failures/."""

from __future__ import annotations

import re
from collections.abc import Iterator

from migrakit.core.classify import Refusal
from migrakit.core.lint.rule import ERROR, WARNING, Finding, Rule, Seen

NOT_RUNNABLE = Rule(
    "not-runnable",
    ERROR,
    "db.migrate refuses the migration as written",
    "move that statement into a migration of its own (`inv db.generate --custom NAME`)",
    "db.migrate stops before running anything: a statement that cannot run in a transaction block cannot share "
    "its migration with others (or end a Mode 2 file's one transaction)",
    scales=False,
)
STATEMENT_FAILED = Rule(
    "statement-failed",
    ERROR,
    "statement failed on the shadow database",
    "fix the statement: it fails on a database with the target's schema",
    "the same statement would fail on the target (unless the failure is the shadow server's: an extension, role "
    "or tablespace it lacks, then a warning)",
    scales=False,
)
RULES = (NOT_RUNNABLE, STATEMENT_FAILED)
EXPLAINS = {"25001": NOT_RUNNABLE.id}  # active_sql_transaction: CONCURRENTLY inside a transaction block
# SQLSTATEs of a statement that failed because something it uses is missing (an earlier failure may be the cause)
MISSING = frozenset({"42P01", "42703", "42704", "42883", "3F000", "42P02", "25P02"})
_ENVIRONMENT_STATES = frozenset({"58P01", "58P02", "42501", "0A000"})
_ENVIRONMENT_WORDS = re.compile(
    r"\b(?:role|tablespace|extension|collation|text search \w+|foreign-data wrapper|server)\b \"[^\"]*\" "
    r"(?:does not exist|is not available)|could not open extension control file|permission denied",
    re.IGNORECASE,
)


def environment(seen: Seen) -> bool:
    """The failure is the shadow server's environment, not the migration's SQL."""
    m = seen.measured
    if any(a.kind == "create_extension" for a in seen.actions):
        return True
    return m.sqlstate in _ENVIRONMENT_STATES or bool(_ENVIRONMENT_WORDS.search(m.error or ""))


def refused(seen: Seen, found: Refusal) -> Finding:
    return seen.finding(NOT_RUNNABLE, found.message, fix=found.fix)


def check(seen: Seen) -> Iterator[Finding]:
    m = seen.measured
    if m.error is None:
        return
    if environment(seen):
        yield seen.finding(
            STATEMENT_FAILED,
            f"fails on the shadow database: {m.error}. The environment: the shadow server lacks what the statement "
            "needs (the migration may be fine on the target)",
            fix="point --shadow-url (MIGRAKIT_SHADOW_URL) at a server that has it, e.g. the target's own server, or "
            "create the role, tablespace or extension on the shadow server",
            severity=WARNING,
        )
    else:
        yield seen.finding(
            STATEMENT_FAILED,
            f"fails on the shadow database: {m.error}. The migration: it fails on a database with the target's "
            "schema, so db.migrate would stop here",
        )
