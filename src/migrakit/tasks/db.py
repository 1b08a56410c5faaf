"""Database migrations: apply, inspect and check drizzle-kit folders (Mode 1) and consolidated files (Mode 2)."""

from __future__ import annotations

from typing import Any

from invoke import Collection, task

from ._run import run_core, settings_from

_COMMON = {
    "database_url": "Database URL (default: $DATABASE_URL, else the embedded server in .migrakit/).",
    "migrations_dir": "drizzle-kit migrations folder (default: [tool.migrakit] migrations_dir, 'migrations').",
}


@task(
    help={
        **_COMMON,
        "dry_run": "Print the plan and every statement; change nothing.",
        "out_of_order": "Also apply pending migrations older than the newest applied one (Drizzle would skip them).",
        "single_transaction": "Run all pending migrations in one transaction, as Drizzle does.",
        "json": "Print the result as JSON.",
    }
)
def migrate(
    c: Any,
    database_url: str | None = None,
    migrations_dir: str | None = None,
    dry_run: bool = False,
    out_of_order: bool = False,
    single_transaction: bool = False,
    json: bool = False,
) -> None:
    """Apply pending migrations, each statement alone, one transaction per migration."""
    from .. import runner
    from ..report import Progress, choose_format, render_migrate

    fmt = choose_format(json)
    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir)
    run_core(
        render_migrate,
        lambda: runner.migrate(
            settings,
            dry_run=dry_run,
            out_of_order=out_of_order,
            single_transaction=single_transaction,
            on_event=Progress(fmt),
        ),
        fmt,
    )


@task(help={**_COMMON, "json": "Print the status as JSON."})
def status(c: Any, database_url: str | None = None, migrations_dir: str | None = None, json: bool = False) -> None:
    """Show each migration's state (applied, pending, edited) and every disagreement with Drizzle. Changes nothing."""
    from .. import runner
    from ..report import choose_format, render_status

    fmt = choose_format(json)
    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir)
    run_core(render_status, lambda: runner.status(settings), fmt, ok=lambda r: not r.plan.blocking, fail_code=3)


ns = Collection("db", migrate, status)
