"""Legacy migration system: retire it once migrakit runs and tracks its files."""

from __future__ import annotations

from typing import Any

from invoke import Collection

from migrakit.tasks._run import run_core, settings_from, task


@task(
    help={
        "database_url": "Database URL (default: $DATABASE_URL, else the embedded server in .migrakit/).",
        "legacy_dir": "The legacy folder of journal-less .sql files (default: [tool.migrakit] legacy_dir).",
        "legacy_table": "The legacy runner's tracking table, e.g. schema_migrations "
        "(default: [tool.migrakit] legacy_table).",
        "shadow_url": "Admin URL of a server for the throwaway shadow databases (default: the embedded server).",
        "yes": "Retire: fold, git rm, switch the build, drop the table, write the record "
        "(without it: print the plan, exit 5).",
        "json": "Print the plan or the result as JSON.",
    }
)
def retire(
    c: Any,
    database_url: str | None = None,
    legacy_dir: str | None = None,
    legacy_table: str | None = None,
    shadow_url: str | None = None,
    yes: bool = False,
    json: bool = False,
) -> None:
    """Retire the legacy migration system: plan first, act only with --yes.

    Preconditions, each checked against the database: every legacy file's hash is in the tracking table
    (`inv db.bootstrap` records them), `db.check` finds no drift, the git working tree is clean. Then the legacy
    files and scripts (`legacy_scripts`) are removed with `git rm`, their SQL kept as one Mode 2 consolidation, the
    build command switched to `migrakit db.migrate`, the legacy table dropped and
    docs/legacy-migration-retirement.md written. The change is staged, not committed. Exit 5 without --yes.
    """
    from migrakit.render.retire import render_retire
    from migrakit.render.run import choose_format
    from migrakit.workflows.retire.command import retire as core

    settings = settings_from(
        c, database_url=database_url, legacy_dir=legacy_dir, legacy_table=legacy_table, shadow_url=shadow_url
    )
    run_core("legacy.retire", render_retire, lambda: core(settings, yes=yes), choose_format(json), settings=settings)


ns = Collection("legacy", retire)
