"""The migrakit error family: structured errors that carry data; `report` turns them into text.

MigrakitError                 exit 1   base: message, file, migration, statement_no, line, col, fix, state
 +-- ConfigError              exit 2   bad pyproject key, no database reachable
 +-- JournalError             exit 1   unreadable journal, entry without file, duplicate tag
 +-- SplitError               exit 1   unterminated quote / dollar quote / comment, psql meta-command
 +-- DriftError               exit 3   applied file edited, migration Drizzle would skip, unknown rows
 +-- LockTimeout              exit 4   another migrator holds the lock, or a lock_timeout retry gave up
 +-- MigrationFailed          exit 1   the server rejected a statement (sqlstate, position mapped to file)
 +-- ConfirmationRequired     exit 5   a destructive action without --yes (the plan was printed)
 +-- DatabaseUnavailable      exit 6   cannot connect (unreachable, wrong password, missing permission)
 +-- InspectionFailed         exit 1   a schema could not be read (its catalog changed meanwhile) or compared
 +-- LintFindings             exit 7   db.lint (or db.migrate --lint) found what --fail-on refuses

Nothing here imports I/O; nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(eq=False)
class MigrakitError(Exception):
    """A failure a user can act on. Every field but `message` is optional."""

    message: str
    file: str | None = None
    migration: str | None = None
    statement_no: int | None = None
    statement_count: int | None = None
    line: int | None = None
    col: int | None = None
    cause: str | None = None
    state: str | None = None
    fix: str | None = None
    details: list[str] = field(default_factory=list)

    exit_code = 1
    kind = "error"

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:  # one line, for logs and pytest output
        where = f" [{self.file}" + (f":{self.line}:{self.col}" if self.line else "") + "]" if self.file else ""
        return f"{self.message}{where}"

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "exit_code": self.exit_code,
            "message": self.message,
            "file": self.file,
            "migration": self.migration,
            "statement": self.statement_no,
            "line": self.line,
            "col": self.col,
            "cause": self.cause,
            "state": self.state,
            "fix": self.fix,
            "details": list(self.details),
        }


class ConfigError(MigrakitError):
    exit_code = 2
    kind = "config"


class JournalError(MigrakitError):
    kind = "journal"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.state is None:  # folders are read before anything is sent to the database
            self.state = "nothing was run"


class SplitError(MigrakitError):
    kind = "split"


class DriftError(MigrakitError):
    exit_code = 3
    kind = "drift"


class LockTimeout(MigrakitError):
    exit_code = 4
    kind = "lock-timeout"


class MigrationFailed(MigrakitError):
    kind = "migration-failed"

    sqlstate: str | None = None


class ConfirmationRequired(MigrakitError):
    exit_code = 5
    kind = "confirmation-required"


class DatabaseUnavailable(MigrakitError):
    exit_code = 6
    kind = "database-unavailable"


class InspectionFailed(MigrakitError):
    kind = "inspection-failed"


class LintFindings(MigrakitError):
    """`db.lint` found findings at or above `--fail-on` (`db.migrate --lint`: an error-level finding)."""

    exit_code = 7
    kind = "lint-findings"


EXIT_CODES = {
    "ok": 0,
    "error": 1,
    "config": ConfigError.exit_code,
    "drift": DriftError.exit_code,
    "lock-timeout": LockTimeout.exit_code,
    "confirmation-required": ConfirmationRequired.exit_code,
    "database-unavailable": DatabaseUnavailable.exit_code,
    "lint-findings": LintFindings.exit_code,
}
