"""Environment checks run before dev and build."""

from __future__ import annotations

from typing import Any

from invoke import Collection, task

from ._run import run_core, settings_from


@task(help={"database_url": "Database URL (default: $DATABASE_URL, else the embedded server).",
            "migrations_dir": "drizzle-kit migrations folder."})
def check(c: Any, database_url: str | None = None, migrations_dir: str | None = None) -> None:
    """Check the database is reachable, the tracking table readable and the folders valid."""
    from ..envcheck import check_environment, render_env

    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir)
    run_core(render_env, lambda: check_environment(settings), "plain", settings=settings)


ns = Collection("env", check)
