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


# What `drizzle-kit generate --custom` (and `db.generate --custom`) writes into a new migration, and nothing else.
CUSTOM_HEADER = "-- Custom SQL migration file, put your code below! --"
# Why a migration runs no statement: the note its run shows (db.migrate records it as applied, as Drizzle does).
COMMENTS_ONLY = "no statement: comments only"
EMPTY_FILE = "no statement: empty file"
# ... or why it is refused as forgotten (exit 1 unless --allow-empty): its SQL was never written.
UNTOUCHED_TEMPLATE = "no statement: still db.generate --custom's header and nothing else"
SQL_IN_HEADER = "no statement: text typed into db.generate --custom's header line, which makes it part of the comment"


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
    # its down file (`<tag>.down.sql`; Drizzle 1.0 layout: `down.sql` in its folder), itself a Migration value
    # (tag and when of the up, path and text of the down) so its statements, positions and errors are the same
    # objects an up file's are; None when the migration has none. Never part of the hash or of equality.
    down: Migration | None = field(default=None, compare=False, repr=False)

    @cached_property
    def statements(self) -> list[Statement]:
        return split_statements(self.text, file=self.path, migration=self.tag)

    @property
    def no_statement(self) -> str | None:
        """Why the file runs no statement (one of the notes above), or None: it holds one, or cannot be split
        (its error comes where it is split). One judgement for db.migrate, db.status and the reports."""
        try:
            if self.statements:
                return None
        except MigrakitError:
            return None
        body = self.text.removeprefix("\ufeff").strip()
        if body == CUSTOM_HEADER:
            return UNTOUCHED_TEMPLATE
        first = body.split("\n", 1)[0].strip()
        if first.startswith(CUSTOM_HEADER) and first != CUSTOM_HEADER:  # `--SELECT 1;` glued onto the header
            return SQL_IN_HEADER
        return COMMENTS_ONLY if body else EMPTY_FILE

    @property
    def forgotten(self) -> bool:
        """A `--custom` migration whose SQL was never written (the untouched template, or SQL typed into its
        header's comment): db.migrate refuses it unless --allow-empty. A file of comments only is a deliberate
        no-op (\"no DDL needed\"), recorded as Drizzle records it."""
        return self.no_statement in (UNTOUCHED_TEMPLATE, SQL_IN_HEADER)

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
