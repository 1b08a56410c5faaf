"""The migrakit error family: structured errors that carry data; render/error_text.py turns them into text.

MigrakitError                 exit 1   base: message, file, migration, statement_no, line, col, fix (a Fix), state
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
 +-- Interrupted              exit 130 SIGINT (Ctrl-C), 143 SIGTERM: the running statement cancelled, rolled back

A task's exit code comes from exactly two places: the error it raised (`exit_code` below) or, when it returned,
its report's `exit_code` property (e.g. a plan printed without --yes: ConfirmationRequired.exit_code).
tasks/_run.py is the one place that turns either into the process's exit status.

Nothing here imports I/O; nothing here prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_COMMAND = re.compile(r"\binv (?:db|legacy|env)\.[a-z-]+")


class Fix(str):
    """What the user should do next: the prose (the string itself, exactly as printed) and, as data, the first
    migrakit task it tells them to run (`command`, e.g. "inv db.migrate"; None when it names none).

    A str, so every reader of `err.fix` (renderers, JSON, `"x" in err.fix`) sees the text it always saw. A
    caller that knows the right task for its context says so with `for_command` (a legacy file that failed
    under db.bootstrap is rerun with `inv db.bootstrap`), instead of editing the prose. Written with migrakit's
    own names; tasks/_run.py names the program the user ran when it prints it (`migrakit db.bootstrap`)."""

    command: str | None

    def __new__(cls, text: str, command: str | None = None) -> Fix:
        self = super().__new__(cls, text)
        found = _COMMAND.search(text)
        self.command = command if command is not None else (found.group() if found else None)
        return self

    def for_command(self, command: str, *, instead_of: str = "inv db.migrate") -> Fix:
        """The same suggestion telling the user to run `command` wherever it says `instead_of` (by default the
        run command the fixes of failed statements name)."""
        text = re.sub(re.escape(instead_of) + r"(?![\w-])", command, self)
        return self if text == self else Fix(text)

    def __reduce__(self) -> Any:  # pickles (multiprocessing, pytest-xdist) as the text and its command
        return (Fix, (str(self), self.command))


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
    fix: Fix | str | None = None  # stored as a Fix (see __setattr__)
    details: list[str] = field(default_factory=list)

    exit_code = 1
    kind = "error"

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "fix" and isinstance(value, str) and not isinstance(value, Fix):
            value = Fix(value)  # every fix is a Fix, however it was set (constructor or a later assignment)
        super().__setattr__(name, value)

    def __str__(self) -> str:  # one line, for logs and pytest output
        at = (f":{self.line}" + (f":{self.col}" if self.col is not None else "")) if self.line else ""
        where = f" [{self.file}{at}]" if self.file else ""
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
class Interrupted(MigrakitError):
    """A run stopped by a signal: the running statement was cancelled and its migration's transaction rolled
    back. Exits as a shell reports a process killed by the signal: 128 + its number (130 SIGINT, 143 SIGTERM)."""

    kind = "interrupted"
    exit_code = 130

    def __init__(self, message: str, *, signum: int = 2, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.exit_code = 128 + signum


class Signalled(KeyboardInterrupt):
    """Raised in the main thread by the handler of SIGINT or SIGTERM (tasks/_run.py), so the wait in progress
    stops as on Ctrl-C (psycopg cancels the statement it waits for on a KeyboardInterrupt)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return {2: "SIGINT", 15: "SIGTERM"}.get(self.signum, f"signal {self.signum}")


def signal_of(exc: BaseException) -> int:
    """The signal number a KeyboardInterrupt stands for (a bare one: SIGINT)."""
    return exc.signum if isinstance(exc, Signalled) else 2
