"""`env.check`: is the environment ready to migrate? Every check runs; each failure comes with its fix.

Checks, in order: the database URL (set, or the embedded server), the database is reachable, the server
version, the tracking table is readable, the migration folders (Mode 1, Mode 2, legacy) read and split, the
connection (direct, or through which pooler, and what a transaction pooler means: see db/connect/pooler.py).
A failure does not stop the others; at the end the first failure's error is raised (its exit code: 2 for a
malformed URL, 6 for an unreachable database or a permission problem, 1 for a folder), listing every check.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from migrakit.core.migration import STANDARD
from migrakit.core.reports.check import Check, EnvReport, check_lines
from migrakit.core.settings import Settings
from migrakit.db import tracking
from migrakit.db.connect import answer, pooler, server, session
from migrakit.errors import ConfigError, DatabaseUnavailable, MigrakitError
from migrakit.sources.folders import display_path
from migrakit.sources.load import load_sources
from migrakit.workflows.steps.options import target_options

MIN_SHADOW_VERSION = 130000  # DROP DATABASE ... WITH (FORCE), used for shadow databases


def _attempt(report: EnvReport, name: str, run: Callable[[], str]) -> bool:
    """Run one check; a MigrakitError becomes a failed Check carrying its fix."""
    try:
        report.checks.append(Check(name, True, run()))
        return True
    except MigrakitError as err:
        found = err.message + (f" ({err.cause})" if err.cause else "")
        report.checks.append(Check(name, False, found, err.fix, err))
        return False


def check_environment(settings: Settings) -> EnvReport:
    """Run every check; raise the first failure's error (listing all checks) when any failed."""
    report = EnvReport()
    if settings.database_url:
        url_found = f"${settings.database_url_env} = {server.redact_url(settings.database_url)}"
    else:
        url_found = (
            f"${settings.database_url_env} is not set: "
            f"using the embedded server in {settings.embedded_dir.name}/"
        )
    report.checks.append(Check("database url", True, url_found))

    state: dict[str, Any] = {}
    reachable = _attempt(report, "database reachable", lambda: _connect(settings, state))
    if reachable:
        conn = state["conn"]
        try:
            _attempt(report, "server version", lambda: _version(conn, report))
            _attempt(report, "tracking table", lambda: _tracking(conn, settings))
            connection = EnvReport()
            _attempt(connection, "connection", lambda: _pooler(conn, settings, state["url"], report))
        finally:
            conn.close()
    else:
        report.notes.append("server version and tracking table not checked: the database is not reachable")
    _attempt(report, "migration folders", lambda: _folders(settings, report))
    if reachable:
        report.checks += connection.checks  # listed last: direct, or which pooler and what it means

    if report.failed:
        # a configuration mistake (exit 2: a mistyped folder, a malformed URL) is fixed first, whatever its place
        first = next((c for c in report.failed if isinstance(c.error, ConfigError)), report.failed[0])
        assert first.error is not None
        raise type(first.error)(
            f"the environment is not ready: {len(report.failed)} check(s) failed "
            f"({', '.join(c.name for c in report.failed)})",
            cause=first.error.cause,
            state="nothing was changed",
            fix=first.fix,
            details=_lines(report),
        )
    return report


def _connect(settings: Settings, state: dict[str, Any]) -> str:
    target = session.resolve_target(target_options(settings))
    state["conn"] = server.connect(target.url, autocommit=True)
    state["url"] = target.url
    return target.display


def _version(conn: Any, report: EnvReport) -> str:
    version = server.server_version(conn)
    if version < MIN_SHADOW_VERSION:
        report.notes.append(
            "db.check and db.baseline create shadow databases with DROP DATABASE ... WITH (FORCE) (PostgreSQL 13+): "
            "point --shadow-url at a newer server, or use the embedded one (the default)"
        )
    return f"PostgreSQL {version // 10000}.{version % 10000}"


def _pooler(conn: Any, settings: Settings, url: str, report: EnvReport) -> str:
    found = pooler.detect(conn, url)
    if found.statement:
        raise pooler.statement_refused(url)
    if found.transaction and not settings.direct_url:
        report.notes.append(
            "behind a transaction pooler, migrations that must run outside a transaction (CREATE INDEX CONCURRENTLY, "
            "files with their own BEGIN/COMMIT) are refused unless direct_url (MIGRAKIT_DIRECT_URL) names a direct or "
            "session-pooled URL of the same database; everything else is safe through the pooler"
        )
    return found.describe() + (f" [{found.evidence}]" if found.evidence else "")


def _tracking(conn: Any, settings: Settings) -> str:
    name = tracking.shown(settings.migrations_schema, settings.migrations_table)
    import psycopg

    try:
        rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)
        exists = bool(rows) or tracking.table_exists(conn, settings.migrations_schema, settings.migrations_table)
    except answer.NoAnswer:  # a silent server, not a permission (exit 6: tasks' run_core)
        raise
    except psycopg.Error as exc:
        raise DatabaseUnavailable(
            f"cannot read the tracking table {name}",
            cause=str(exc).splitlines()[0],
            fix=f'GRANT USAGE ON SCHEMA "{settings.migrations_schema}" and SELECT, INSERT on the table to the '
            "migration role, or run migrations as the owner",
        ) from exc
    if not exists:
        return f"{name} does not exist yet (db.migrate creates it, as Drizzle does)"
    return f"{name} readable, {len(rows)} row(s)"


def _folders(settings: Settings, report: EnvReport) -> str:
    src = load_sources(settings)  # raises JournalError naming the file and the fix
    for m in src.migrations:
        if m.mode == STANDARD:
            m.check_runnable()  # splits: SplitError with file, line and column
    report.notes += list(src.folder.warnings)
    mode2 = sum(1 for m in src.migrations if m.mode != STANDARD)

    def shown(path: Path) -> str:  # the configured folder as given (db/migrations/), not its last part
        return os.path.join(display_path(path, settings.root), "")

    count = len(src.folder.migrations)
    parts = [f"{count} in {shown(src.folder.path)} ({src.folder.layout} layout), readable and splittable"]
    if mode2:
        parts.append(f"{mode2} consolidated in {shown(settings.consolidated_dir)}")
    if src.legacy and settings.legacy_dir:
        parts.append(f"{len(src.legacy)} legacy file(s) in {shown(settings.legacy_dir)}")
    return "; ".join(parts)


def _lines(report: EnvReport) -> list[str]:
    return check_lines(report.checks) + [f"note: {n}" for n in report.notes]
