"""The Migration value: one unit the planner decides on and the executor runs. Pure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from migrakit.core.classify import Refusal, refusal
from migrakit.core.postgres.statements import NO_TRANSACTION, TRANSACTION_CONTROL, Statement, split_statements
from migrakit.errors import MigrakitError


class Mode(StrEnum):
    """How a migration is run, by where it comes from. A str: its value is what JSON and text show."""

    STANDARD = "standard"  # Mode 1: drizzle-kit folder, one statement per query
    CONSOLIDATED = "consolidated"  # Mode 2: one multi-statement file in one transaction
    LEGACY = "legacy"  # a journal-less legacy file, run like Mode 2 by db.bootstrap


STANDARD, CONSOLIDATED, LEGACY = Mode.STANDARD, Mode.CONSOLIDATED, Mode.LEGACY


class Layout(StrEnum):
    """A Mode 1 folder's layout on disk (sources/folders.py tells which). A str, like Mode."""

    JOURNAL = "journal"  # drizzle-kit 0.x: `<tag>.sql` + meta/_journal.json; journal order is authoritative
    V1 = "v1"  # drizzle-kit 1.0: `<YYYYMMDDHHMMSS>_<name>/migration.sql`, sorted by folder name
    EMPTY = "empty"  # no migration in it (or no folder at all)


def drizzle_hash(data: bytes) -> str:
    """Drizzle's hash: sha256 hex of the file's bytes (BOM and CRLF included)."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Replaced:
    """A Mode 1 migration that a consolidation stands for (from its manifest)."""

    tag: str
    when: int
    hash: str


@dataclass(frozen=True)
class Migration:
    tag: str  # journal tag, v1 folder name, consolidation name or legacy file stem
    when: int  # what goes into created_at
    path: str  # the file, as shown to users (relative to the project when possible)
    text: str
    hash: str
    mode: Mode = Mode.STANDARD
    name: str | None = None  # Drizzle 1.0's `name` column (the folder name); None for 0.x folders
    replaces: tuple[Replaced, ...] = field(default=())

    @cached_property
    def statements(self) -> list[Statement]:
        return split_statements(self.text, file=self.path, migration=self.tag)

    @property
    def self_managed(self) -> bool:
        """The file holds its own BEGIN/COMMIT: it runs without a wrapping transaction, as written."""
        return any(s.kind == TRANSACTION_CONTROL for s in self.statements)

    @property
    def no_transaction(self) -> bool:
        """The file holds a statement that cannot run in a transaction block (CREATE INDEX CONCURRENTLY ...)."""
        return any(s.kind == NO_TRANSACTION for s in self.statements)

    @property
    def runs_outside_transaction(self) -> bool:
        return self.mode == STANDARD and (self.self_managed or self.no_transaction)

    def check_runnable(self) -> None:
        """Raise before anything runs if the file cannot be run safely: a statement that must run outside a
        transaction (CREATE INDEX CONCURRENTLY ...) mixed with others, without the file's own BEGIN/COMMIT."""
        found = self.refusal
        if found is not None:
            at = self.statements[found.statement]
            raise MigrakitError(found.message, file=self.path, migration=self.tag, line=at.line, col=at.col,
                                state=found.state, fix=found.fix)  # fmt: skip

    @property
    def refusal(self) -> Refusal | None:
        """Why db.migrate refuses the file as written (core/classify.py), or None; db.lint reports the same."""
        return refusal(self.tag, self.mode != STANDARD, [s.kind for s in self.statements])


@dataclass(frozen=True)
class TrackingRow:
    id: int
    hash: str
    created_at: int | None
    name: str | None = None
