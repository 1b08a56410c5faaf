"""Server errors into MigrakitError: which file, which statement (line:col), what went wrong, the state the
database is in, and the fix. Decided by SQLSTATE and the error's diagnostic fields, never by message text."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql

from migrakit.core.migration import Migration
from migrakit.core.postgres.statements import LineIndex, Statement, keyword_head
from migrakit.db.run import large_statement
from migrakit.errors import ConfigError, DatabaseUnavailable, MigrakitError, MigrationFailed

_FIXES: dict[type[psycopg.Error], str] = {
    pgerrors.SyntaxError: "correct the SQL at the position shown, then run `inv db.migrate` again",
    pgerrors.DuplicateTable: "the object already exists: it was created outside migrations or by an edited "
    "migration; compare with `inv db.check`, then drop it or baseline it",
    pgerrors.DuplicateObject: "the object already exists: compare with `inv db.check`, then drop it or make the "
    "statement idempotent",
    pgerrors.UndefinedTable: "create the table in an earlier migration (check the journal order), then run again",
    pgerrors.UndefinedColumn: "add the column in an earlier migration, or fix the name, then run again",
    pgerrors.InsufficientPrivilege: "grant the migration role the privilege named above, or run as the owner",
    pgerrors.QueryCanceled: "the statement hit statement_timeout: raise statement_timeout for this run "
    "(MIGRAKIT_STATEMENT_TIMEOUT) or split the work into smaller migrations",
}


def extension_fix(stmt: Statement | None) -> str | None:
    head = keyword_head(stmt.text) if stmt else ""
    if head[:16].upper().startswith("CREATE EXTENSION"):
        words = head.replace('"', " ").split()
        name = next((w for w in words[2:] if w.upper() not in ("IF", "NOT", "EXISTS")), "?").rstrip(";")
        instead = "use gen_random_uuid() (built in since PostgreSQL 13) or " if name.lower() == "uuid-ossp" else ""
        return (
            f'the server has no extension "{name}" (the embedded server has contrib but not uuid-ossp or pgcrypto); '
            f"{instead}point DATABASE_URL at a PostgreSQL server that has it (e.g. Debian's postgresql-contrib), "
            "then run again"
        )
    return None


def failure(
    exc: psycopg.Error,
    migration: Migration,
    stmt: Statement | None,
    stmt_no: int | None,
    count: int,
    state: str,
    *,
    whole_file: bool = False,
) -> MigrationFailed:
    diag = exc.diag
    line = col = None
    if whole_file:  # Mode 2: the server's position is into the whole file; else point at the failing statement
        if diag.statement_position:
            line, col = LineIndex(migration.text).position(int(diag.statement_position) - 1)
        elif stmt is not None:
            line, col = stmt.line, stmt.col
    elif stmt is not None:
        line, col = stmt.line, stmt.col
        pos = diag.statement_position or large_statement.error_position(exc, stmt)
        if pos:
            line, col = LineIndex(migration.text).position(stmt.start + int(pos) - 1)
    elif diag.statement_position:  # Mode 2: the position is into the whole file
        line, col = LineIndex(migration.text).position(int(diag.statement_position) - 1)
    cause = diag.message_primary or str(exc).splitlines()[0]
    cause += f" ({diag.sqlstate} {type(exc).__name__})"
    fix = (
        (isinstance(exc, pgerrors.FeatureNotSupported) and extension_fix(stmt))
        or next((f for cls, f in _FIXES.items() if isinstance(exc, cls)), None)
        or "fix the statement, then run `inv db.migrate` again"
    )
    details = [
        d
        for d in (
            diag.message_detail and f"detail: {diag.message_detail}",
            diag.message_hint and f"hint: {diag.message_hint}",
        )
        if d
    ]
    err = MigrationFailed(
        f"migration {migration.tag} failed" + (f" at statement {stmt_no} of {count}" if stmt_no else ""),
        file=migration.path,
        migration=migration.tag,
        statement_no=stmt_no,
        statement_count=count,
        line=line,
        col=col,
        cause=cause,
        state=state,
        fix=fix,
        details=details,
    )
    err.sqlstate = diag.sqlstate
    return err


def whole_file_failure(exc: psycopg.Error, m: Migration, done: int, state: str) -> MigrationFailed:
    """A Mode 2 file failed: find the failing statement by the server's position (an offset into the whole
    file) or, without one, as the first statement the server did not complete."""
    try:
        stmts = m.statements
    except MigrakitError:  # the file could not be split: still name the file and the position
        stmts = []
    pos = exc.diag.statement_position
    if pos and stmts:
        index: int | None = max((i for i, s in enumerate(stmts) if s.start <= int(pos) - 1), default=0)
    else:
        index = done if done < len(stmts) else None
    stmt = stmts[index] if index is not None else None
    return failure(exc, m, stmt, index + 1 if index is not None else None, len(stmts), state, whole_file=True)


def connection_lost(conn: psycopg.Connection[Any], exc: psycopg.Error) -> bool:
    """The session is gone (server restart, pg_terminate_backend, network), not just the statement."""
    return conn.broken or conn.closed or (exc.sqlstate or "").startswith(("08", "57P"))


def settings_refused(exc: psycopg.Error) -> ConfigError | None:
    """The error of the command that sets lock_timeout / statement_timeout (a run's settings: the other values
    it sets are constants): InvalidParameterValue there means the server refused a configured value (e.g. a unit
    this server version does not know; sources/config_keys.py checks them at load already). Callers pass only errors
    of that command, so a migration's own `SET lock_timeout = ...` is reported as the statement that failed."""
    if exc.sqlstate != pgerrors.InvalidParameterValue.sqlstate:
        return None
    message = exc.diag.message_primary or str(exc).strip()
    return ConfigError(
        f"the server refused a timeout setting: {message}",
        state="nothing from this migration was applied",
        fix="set lock_timeout / statement_timeout "
        "([tool.migrakit] or MIGRAKIT_LOCK_TIMEOUT, MIGRAKIT_STATEMENT_TIMEOUT) "
        "to a PostgreSQL duration such as '5s', '500ms' or '0' (no limit)",
    )


def lost(exc: psycopg.Error, m: Migration, where: str, state: str) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"lost the connection to the database while applying {m.tag} ({where})",
        file=m.path,
        migration=m.tag,
        cause=(str(exc).strip().splitlines() or [type(exc).__name__])[0] + f" ({type(exc).__name__})",
        state=state,
        fix="find out why the connection dropped (server restart or failover, pg_terminate_backend, a proxy's "
        "timeout, the network), then run `inv db.migrate` again; `inv db.status` shows what is applied",
    )


_IDENT = r'(?:"(?:[^"]|"")+"|[^\s(."]+)'
_CONCURRENT_INDEX = re.compile(
    r'\ACREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?("(?:[^"]|"")+"|[^\s(]+)\s+ON\b'
    rf"(?:\s+ONLY\b)?\s*({_IDENT}(?:\s*\.\s*{_IDENT})?)?",
    re.IGNORECASE,
)


def _index_and_table(stmt: Statement) -> tuple[str, str | None] | None:
    """(index name as stored in pg_class, table as written) of a CREATE INDEX CONCURRENTLY statement."""
    m = _CONCURRENT_INDEX.match(keyword_head(stmt.text))
    if not m:
        return None
    name = m.group(1)
    return (name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()), m.group(2)


def index_name(stmt: Statement) -> str | None:
    """The name a CREATE INDEX CONCURRENTLY statement gives its index, as stored in pg_class."""
    found = _index_and_table(stmt)
    return found[0] if found else None


def existing_index(conn: psycopg.Connection[Any], stmt: Statement) -> tuple[str, str, bool] | None:
    """(schema, name, valid) of the index a CREATE INDEX CONCURRENTLY statement builds, if it exists: the index
    of that name in its table's schema (the table resolved as the statement resolves it, by the session's
    search_path), never one of the same name elsewhere (another tenant's schema may be building its own)."""
    name, table = _index_and_table(stmt) or (None, None)
    if name is None or table is None or conn.broken:
        return None
    row = conn.execute(
        "SELECT n.nspname, c.relname, i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = %s "
        "AND c.relnamespace = (SELECT t.relnamespace FROM pg_class t WHERE t.oid = to_regclass(%s))",
        (name, re.sub(r"\s*\.\s*", ".", table) if not table.startswith('"') else table),
    ).fetchone()
    return (row[0], row[1], row[2]) if row else None


def leftover_index(conn: psycopg.Connection[Any], stmt: Statement) -> tuple[str, bool] | None:
    """(quoted name, valid) of the index a failed CREATE INDEX CONCURRENTLY left behind, if any."""
    found = existing_index(conn, stmt)
    return (sql.Identifier(found[0], found[1]).as_string(conn), found[2]) if found else None


def concurrent_index_fix(conn: psycopg.Connection[Any], stmt: Statement) -> tuple[str, str] | None:
    """(state, fix) when a CREATE INDEX CONCURRENTLY failed and left its index behind (INVALID, or valid
    because an interrupted run built it)."""
    found = leftover_index(conn, stmt)
    if found is None:
        return None
    shown, valid = found
    if valid:
        return (
            f"index {shown} already exists and is valid",
            f"an earlier run probably built it before it was interrupted: if it is this index, add IF NOT EXISTS to "
            f"the statement (it has not completed, so it may be edited), or `DROP INDEX CONCURRENTLY {shown};`, "
            "then run `inv db.migrate` again",
        )
    return (
        f"CREATE INDEX CONCURRENTLY left the INVALID index {shown} behind (unused by queries, still updated by writes)",
        "fix the cause above (e.g. duplicate values for a UNIQUE index), then run `inv db.migrate` again: it drops "
        f"the INVALID index before building it again (or `DROP INDEX CONCURRENTLY {shown};` now)",
    )
