"""Environment checks run before dev and build."""

from __future__ import annotations

from typing import Any

from invoke import Collection

from migrakit.tasks._run import run_core, settings_from, task


@task(
    help={
        "database_url": "Database URL (default: $DATABASE_URL, else the embedded server).",
        "migrations_dir": "drizzle-kit migrations folder.",
        "json": "Print the checks as JSON.",
    }
)
def check(c: Any, database_url: str | None = None, migrations_dir: str | None = None, json: bool = False) -> None:
    """Check the environment: database URL, reachable, server version, tracking table, folders; each failure with its fix.

    Every check runs even after a failure. Exit 2 for a malformed URL or any setting refused when the settings load
    (before the checks run), 6 when the database cannot be reached or the
    tracking table cannot be read, 1 when a migration folder cannot be read or split.
    """
    from migrakit.render.env import render_env
    from migrakit.workflows.env_check import check_environment

    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir)
    run_core("env.check", render_env, lambda: check_environment(settings), "json" if json else "plain", settings=settings)


ns = Collection("env", check)
