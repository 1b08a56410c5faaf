"""`env.check`: is the environment ready to migrate? Each failing check raises with its fix."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import server, tracking
from .config import Settings
from .errors import DatabaseUnavailable
from .sources import load_folder


@dataclass
class EnvReport:
    checks: list[tuple[str, str]] = field(default_factory=list)  # (name, what was found)


def check_environment(settings: Settings) -> EnvReport:
    report = EnvReport()
    folder = load_folder(settings.migrations_dir, settings.root)
    for m in folder.migrations:
        m.statements  # noqa: B018 - raises SplitError with file, line and column
    report.checks.append(
        ("migrations", f"{len(folder.migrations)} in {folder.path} ({folder.layout} layout), all readable and splittable")
    )
    if settings.database_url:
        report.checks.append(("database url", f"from ${settings.database_url_env}"))
    else:
        report.checks.append(("database url", f"${settings.database_url_env} is not set: using the embedded server"))
    target = server.resolve_target(settings)
    conn = server.connect(target.url, autocommit=True)
    try:
        version = server.server_version(conn)
        report.checks.append(("database", f"reachable: {target.display}, PostgreSQL {version // 10000}.{version % 10000}"))
        try:
            rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)
        except Exception as exc:  # a permission problem on the tracking schema
            import psycopg

            if not isinstance(exc, psycopg.Error):
                raise
            raise DatabaseUnavailable(
                f'cannot read the tracking table "{settings.migrations_schema}"."{settings.migrations_table}"',
                cause=str(exc).splitlines()[0],
                fix=f'GRANT USAGE ON SCHEMA "{settings.migrations_schema}" and SELECT, INSERT on the table to the '
                "migration role, or run migrations as the owner",
            ) from exc
        report.checks.append(("tracking table", f"readable, {len(rows)} row(s)"))
    finally:
        conn.close()
    return report


def render_env(report: EnvReport, fmt: str = "plain") -> str:
    return "\n".join(f"ok  {name}: {what}" for name, what in report.checks)
