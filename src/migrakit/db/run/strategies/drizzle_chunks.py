"""Drizzle's queries for one migration under `--single-transaction`, and the statements each holds.

Drizzle sends each breakpoint chunk of a file as one query (a Mode 2 file whole); the server's results and error
position are per chunk. These functions map chunks to the splitter's statements and a chunk's error back to the
file's line:col, for drizzle_transaction.py's DrizzleRun.
"""

from __future__ import annotations

import psycopg

from migrakit.core.migration import STANDARD, Migration
from migrakit.core.postgres.statements import LineIndex, Statement, split_breakpoints
from migrakit.errors import MigrakitError


def chunks(m: Migration) -> list[tuple[int, str]]:
    """(offset, text) of each query Drizzle sends for `m`: its breakpoint chunks; a Mode 2 file whole."""
    return split_breakpoints(m.text) if m.mode == STANDARD else [(0, m.text)]


def statements_by_chunk(m: Migration, chunks: int) -> list[list[tuple[int, Statement]]] | None:
    """(number in the migration, statement) of each chunk, or None when the file cannot be split (Drizzle
    sends it anyway; the server then reports the problem and errors name the chunk instead)."""
    try:
        stmts = m.statements
    except MigrakitError:
        return None
    if m.mode != STANDARD:
        return [list(enumerate(stmts, 1))]
    by: list[list[tuple[int, Statement]]] = [[] for _ in range(chunks)]
    for no, st in enumerate(stmts, 1):
        by[st.piece].append((no, st))
    return by


def locate(
    err: MigrakitError, exc: psycopg.Error, m: Migration, st: Statement | None, chunk: tuple[int, int, str]
) -> None:
    """The server's error position is an offset into the chunk it received: make it the file's line:col."""
    ci, offset, text = chunk
    pos = exc.diag.statement_position
    if pos:
        err.line, err.col = LineIndex(m.text).position(offset + int(pos) - 1)
    elif st is None:
        start = len(text) - len(text.lstrip())
        err.line, err.col = LineIndex(m.text).position(offset + start)
    if st is None and m.mode == STANDARD:
        err.message = f"migration {m.tag} failed in chunk {ci + 1} (the text after breakpoint {ci})" if ci else (
            f"migration {m.tag} failed in its first chunk"
        )


def statement_count(m: Migration) -> int:
    """How many statements the splitter cuts `m` into (0 when it cannot split it)."""
    try:
        return len(m.statements)
    except MigrakitError:
        return 0
