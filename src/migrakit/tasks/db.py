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
        settings=settings,
    )


@task(help={**_COMMON, "json": "Print the status as JSON."})
def status(c: Any, database_url: str | None = None, migrations_dir: str | None = None, json: bool = False) -> None:
    """Show each migration's state (applied, pending, edited) and every disagreement with Drizzle. Changes nothing."""
    from .. import runner
    from ..report import choose_format, render_status

    fmt = choose_format(json)
    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir)
    run_core(render_status, lambda: runner.status(settings), fmt, ok=lambda r: not r.plan.blocking, fail_code=3, settings=settings)


@task(
    help={
        **_COMMON,
        "custom": "Write an empty migration named NAME, as `drizzle-kit generate --custom --name NAME` does.",
        "name": "Name of the generated migration (default: schema_change).",
        "allow_destructive": "Allow DROP/TRUNCATE/DELETE statements in a migration generated from the schema file.",
        "json": "Print the result as JSON.",
    }
)
def generate(
    c: Any,
    custom: str | None = None,
    name: str | None = None,
    allow_destructive: bool = False,
    database_url: str | None = None,
    migrations_dir: str | None = None,
    json: bool = False,
) -> None:
    """Write the next migration: empty (--custom NAME), from the schema file, or via drizzle-kit.

    With --custom NAME: an empty migration with its journal entry and snapshot.
    With [tool.migrakit] schema = "schema.sql": apply the migrations to one shadow database and the schema
    file to another, and write the difference as the next migration (one statement per breakpoint).
    With a drizzle.config.* in the project: run `npx drizzle-kit generate`, then check the new files.
    """
    from .. import generate as gen
    from ..report import choose_format

    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir)
    config = gen.find_drizzle_config(settings.root)
    if custom:
        call = lambda: gen.custom(settings, custom)  # noqa: E731
    elif config is not None and settings.schema is None:
        call = lambda: gen.with_drizzle_kit(settings, name, config)  # noqa: E731
    else:
        call = lambda: gen.from_schema_file(settings, name or "schema_change", allow_destructive=allow_destructive)  # noqa: E731
    run_core(gen.render_generated, call, choose_format(json), settings=settings)


ns = Collection("db", generate, migrate, status)
