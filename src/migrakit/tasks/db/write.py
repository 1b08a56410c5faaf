"""db tasks that write migration files: db.generate, db.baseline, db.count-branch-migrations, db.consolidate."""

from __future__ import annotations

from typing import Any

from migrakit.tasks._run import run_core, settings_from, task
from migrakit.tasks.db._help import COMMON, SHADOW

COLLECTION = "db"


@task(
    help={
        **COMMON,
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
    from migrakit.render.generate import render_generated
    from migrakit.render.run import choose_format
    from migrakit.workflows import generate as gen

    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir)
    config = gen.find_drizzle_config(settings.root)
    if custom:
        call = lambda: gen.custom(settings, custom)  # noqa: E731
    elif config is not None and settings.schema is None:
        call = lambda: gen.with_drizzle_kit(settings, name, config)  # noqa: E731
    else:
        call = lambda: gen.from_schema_file(settings, name or "schema_change", allow_destructive=allow_destructive)  # noqa: E731
    run_core("db.generate", render_generated, call, choose_format(json), settings=settings)



@task(
    help={
        **COMMON,
        "shadow_url": SHADOW,
        "yes": "Write the proven baseline and insert its tracking row (without it: print the plan, change nothing, exit 5).",
        "json": "Print the result as JSON.",
    }
)
def baseline(
    c: Any,
    database_url: str | None = None,
    migrations_dir: str | None = None,
    shadow_url: str | None = None,
    yes: bool = False,
    json: bool = False,
) -> None:
    """Adopt an existing database: write a baseline migration from its schema, prove it, then track it.

    Generates the statements that turn "all migrations" into the live schema as the next migration
    (NNNN_baseline.sql), applies everything to a shadow database and compares it with the live one. Only when
    they are equal, and only with --yes, the file is written and tracked as applied. Where a baseline file
    already exists but is not tracked on this database, proves it here and (--yes) tracks it. All of it
    under the migration lock (a running deploy is waited for, up to lock_wait_timeout).
    """
    from migrakit.render.baseline import render_baseline
    from migrakit.render.run import choose_format
    from migrakit.workflows.baseline.command import baseline as core

    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir, shadow_url=shadow_url)
    run_core("db.baseline", render_baseline, lambda: core(settings, yes=yes), choose_format(json), settings=settings)



@task(
    help={
        "migrations_dir": COMMON["migrations_dir"],
        "base": "Base branch (default: $MIGRAKIT_BASE_BRANCH, $GITHUB_BASE_REF, [tool.migrakit] base_branch, 'main').",
        "max": "Largest number of new migrations allowed (default 20); above it, exit 1 and advise db.consolidate.",
        "json": "Print the result as JSON.",
    }
)
def count_branch_migrations(
    c: Any, migrations_dir: str | None = None, base: str | None = None, max: int = 20, json: bool = False
) -> None:
    """List the Mode 1 migrations this branch added since it left the base branch; fail above --max.

    Compares the migrations folder with the one at `git merge-base HEAD <base>`; works in a detached HEAD
    (CI), where the base comes from --base, MIGRAKIT_BASE_BRANCH or GITHUB_BASE_REF (tried as given, then as
    origin/<name>).
    """
    from migrakit.render.consolidate import render_branch_count
    from migrakit.render.run import choose_format
    from migrakit.sources.git import count_branch_migrations as core

    settings = settings_from(c, migrations_dir=migrations_dir)
    run_core("db.count-branch-migrations", render_branch_count, lambda: core(settings, base=base, max_count=max), choose_format(json), settings=settings)


@task(
    help={
        **COMMON,
        "from_": "First Mode 1 migration (journal tag) to consolidate (default: the branch's new migrations).",
        "to": "Last Mode 1 migration (journal tag) to consolidate.",
        "name": "Name of the consolidation file: <YYYYMMDDHHMMSS>_<name>.sql (default: consolidated).",
        "base": "Base branch, when consolidating the branch's new migrations (as in db.count-branch-migrations).",
        "yes": "Prove equivalence on two shadow databases, then write (without it: print the plan, change nothing, exit 5).",
        "json": "Print the plan or the result as JSON.",
    }
)
def consolidate(
    c: Any,
    database_url: str | None = None,
    migrations_dir: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    name: str = "consolidated",
    base: str | None = None,
    yes: bool = False,
    json: bool = False,
) -> None:
    """Fold the branch's new Mode 1 migrations (or --from/--to) into one Mode 2 file with a manifest.

    Prints the plan. With --yes: applies the originals to one fresh shadow database and the consolidated
    file to another, refuses unless their schemas are equal, then writes the file and its manifest, removes
    the originals from the journal and the folder and keeps drizzle-kit's latest snapshot; then lints the
    written file (db.lint --migration) and lists its findings.
    """
    from migrakit.render.consolidate import render_consolidation
    from migrakit.render.run import choose_format
    from migrakit.workflows.consolidate import consolidate as core

    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir)

    def call() -> Any:
        report = core(settings, from_tag=from_, to_tag=to, name=name, base=base, yes=yes)
        if report.written:  # lint the file as it will run (one transaction), on a shadow holding what precedes it
            from migrakit.core.reports.lint import finding_lines
            from migrakit.errors import MigrakitError
            from migrakit.workflows.lint import lint

            try:
                report.lint = finding_lines(lint(settings, migration=report.plan.stem))
            except MigrakitError as err:
                report.lint = [f"not linted: {err.message} (run `inv db.lint --migration {report.plan.stem}`)"]
        return report

    run_core("db.consolidate",
        render_consolidation,
        call,
        choose_format(json),
        settings=settings,
    )

