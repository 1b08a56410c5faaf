"""db tasks that apply or read the migrations: db.migrate, db.status, db.check, db.migrate-consolidated, db.bootstrap."""

from __future__ import annotations

from typing import Any

from migrakit.tasks._fleet import FLEET_HELP, run_fleet, single_only
from migrakit.tasks._run import github_actions, run_core, settings_from, task
from migrakit.tasks.db._help import ALLOW_EMPTY, COMMON, SHADOW

COLLECTION = "db"


@task(
    help={
        **COMMON,
        "dry_run": "Print the plan and every statement; change nothing.",
        "to": "Apply pending migrations up to and including TAG (a tag or a unique prefix of one, e.g. 0003); "
        "later ones stay pending. Exit 2 when TAG names no migration; nothing to do when it is applied.",
        "out_of_order": "Also apply pending migrations older than the newest applied one (Drizzle would skip them).",
        "single_transaction": "Run exactly as Drizzle's migrator does: one transaction for all pending migrations, "
        "each breakpoint chunk sent as one query; a file's own COMMIT ends that transaction and what follows runs "
        "without it (see the migration guide). Default: one transaction per migration.",
        "upgrade_tracking": "Drizzle 1.0 folder on Drizzle 0.x's tracking table: upgrade the table first "
        "(see db.upgrade-tracking); without it migrate refuses (exit 5).",
        "allow_empty": ALLOW_EMPTY,
        "lint": "Run db.lint on the pending migrations first and refuse (exit 7, nothing applied) on an error-level finding.",
        "json": "Print the result as JSON.",
        **FLEET_HELP,
        "fail_fast": "With --targets: after the first failed target, start no other (running ones finish).",
        "canary": "With --targets: migrate the first N targets first; if any fails, start no other.",
    }
)
def migrate(
    c: Any,
    database_url: str | None = None,
    migrations_dir: str | None = None,
    dry_run: bool = False,
    to: str | None = None,
    out_of_order: bool = False,
    single_transaction: bool = False,
    upgrade_tracking: bool = False,
    allow_empty: bool = False,
    lint: bool = False,
    json: bool = False,
    targets: str | None = None,
    targets_query: str | None = None,
    concurrency: int = 8,
    fail_fast: bool = False,
    canary: int = 0,
) -> None:
    """Apply pending migrations, each statement alone, one transaction per migration.

    With --to TAG, only up to and including that migration (as Flyway's -target, Alembic's upgrade <rev>).
    Refuses before connecting when the migrations folder does not exist (exit 2), and before running anything
    when the folder is empty while the tracking table has rows (exit 2) or a pending --custom migration is still
    the untouched template (exit 1); --allow-empty accepts both. With --lint, db.lint runs first and an error-level finding refuses
    the run (exit 7).

    With --targets FILE (or --targets-query SQL): the same on many databases at once, each with its own lock,
    transactions and tracking; a failing target stops at its failing migration and the others go on. Exit
    code: the first failed target's."""
    from migrakit.render.run import Progress, choose_format, render_migrate
    from migrakit.workflows import migrate as runner

    fmt = choose_format(json)
    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir)
    if targets or targets_query:
        options = dict(dry_run=dry_run, to=to, out_of_order=out_of_order, single_transaction=single_transaction,
                       upgrade_tracking=upgrade_tracking, allow_empty=allow_empty)  # fmt: skip
        return run_fleet(settings, fmt, "migrate", targets, targets_query, concurrency, options=options, fail_fast=fail_fast, canary=canary)
    single_only(concurrency=concurrency != 8, fail_fast=fail_fast, canary=bool(canary))
    progress, linted = Progress(fmt, github=github_actions()), []  # linted: db.lint's report, with --lint

    def call() -> Any:
        if lint:
            from migrakit.workflows.lint import lint as lint_first
            from migrakit.workflows.lint import refuse_errors

            linted.append(lint_first(settings))
            refuse_errors(linted[0])
        return runner.migrate(
            settings,
            dry_run=dry_run,
            out_of_order=out_of_order,
            single_transaction=single_transaction,
            upgrade_tracking=upgrade_tracking,
            allow_empty=allow_empty,
            on_event=progress,
            to=to,
        )

    summary = lambda report, err: progress.step_summary(report, err, linted)  # noqa: E731
    run_core("db.migrate", render_migrate, call, fmt, settings=settings, summary=summary)


@task(help={**COMMON, "allow_empty": "Accept an empty migrations folder while the tracking table has rows (else exit 2).",
            "json": "Print the status as JSON.", **FLEET_HELP})
def status(
    c: Any, database_url: str | None = None, migrations_dir: str | None = None, allow_empty: bool = False, json: bool = False,
    targets: str | None = None, targets_query: str | None = None, concurrency: int = 8,
) -> None:
    """Show each migration's state (applied, pending, edited) and every disagreement with Drizzle. Changes nothing.

    Exit 3 when something blocks `db.migrate` (drift) or a migration has duplicated tracking rows.
    With --targets FILE (or --targets-query SQL): each target's state (up to date, pending, drift, failed).
    """
    from migrakit.render.run import choose_format, render_status
    from migrakit.workflows import status as runner

    fmt = choose_format(json)
    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir)
    if targets or targets_query:
        return run_fleet(settings, fmt, "status", targets, targets_query, concurrency, options={"allow_empty": allow_empty})
    single_only(concurrency=concurrency != 8)
    run_core("db.status", render_status, lambda: runner.status(settings, allow_empty=allow_empty), fmt, settings=settings)



@task(help={**COMMON, "shadow_url": SHADOW, "json": "Print the result as JSON.", **FLEET_HELP})
def check(
    c: Any, database_url: str | None = None, migrations_dir: str | None = None, shadow_url: str | None = None, json: bool = False,
    targets: str | None = None, targets_query: str | None = None, concurrency: int = 8,
) -> None:
    """Check for drift: compare the database's schema with what all migrations produce. Changes nothing.

    Applies every migration (and the legacy files, while a legacy folder is configured) to a shadow database
    and compares schemas; lists each differing object with the migration or legacy file that creates it, what
    the migrations produce, what the database has and the SQL that would reconcile it, plus the tracking
    table's problems. Legacy files without a row are proven file by file (ran here or not), and the
    `db.bootstrap --adopt ... --only ...` command that records and runs them is printed. Exit 0 when equal,
    3 on drift. With --targets FILE (or --targets-query SQL): every database of the fleet, each on its own
    shadow database.
    """
    from migrakit.render.check import render_check
    from migrakit.render.run import choose_format
    from migrakit.workflows.check import check as core

    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir, shadow_url=shadow_url)
    if targets or targets_query:
        return run_fleet(settings, choose_format(json), "check", targets, targets_query, concurrency, options={})
    single_only(concurrency=concurrency != 8)
    run_core("db.check", render_check, lambda: core(settings), choose_format(json), settings=settings)



@task(
    help={
        **COMMON,
        "dry_run": "Print the plan and every statement; change nothing.",
        "out_of_order": "Also apply pending consolidations older than the newest applied migration.",
        "allow_empty": ALLOW_EMPTY,
        "json": "Print the result as JSON.",
    }
)
def migrate_consolidated(
    c: Any,
    database_url: str | None = None,
    migrations_dir: str | None = None,
    dry_run: bool = False,
    out_of_order: bool = False,
    allow_empty: bool = False,
    json: bool = False,
) -> None:
    """Apply only pending Mode 2 (consolidated) migrations, each file in one transaction.

    For teams that deploy Mode 2 files apart from Mode 1 (`db.migrate` runs both). Refuses while a pending
    Mode 1 migration comes before a pending consolidation.
    """
    from migrakit.render.run import Progress, choose_format, render_migrate
    from migrakit.workflows import migrate as runner

    fmt = choose_format(json)
    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir)
    run_core("db.migrate-consolidated",
        render_migrate,
        lambda: runner.migrate_consolidated(
            settings, dry_run=dry_run, out_of_order=out_of_order, allow_empty=allow_empty, on_event=Progress(fmt)
        ),
        fmt,
        settings=settings,
    )


@task(
    iterable=["only", "adopt"],
    help={
        **COMMON,
        "legacy_dir": "Folder of legacy .sql files (default: [tool.migrakit] legacy_dir).",
        "shadow_url": SHADOW,
        "only": "Run only these legacy files: number (023), range (024-026), tag or file name; repeatable or comma list.",
        "adopt": "Record these legacy files as run without running them, each only if a shadow database proves "
        "everything it creates present and equal here; repeatable or comma list.",
        "dry_run": "Show which legacy files would run or be adopted; change nothing.",
        "json": "Print the result as JSON.",
    },
)
def bootstrap(
    c: Any,
    database_url: str | None = None,
    migrations_dir: str | None = None,
    legacy_dir: str | None = None,
    shadow_url: str | None = None,
    only: list[str] | None = None,
    adopt: list[str] | None = None,
    dry_run: bool = False,
    json: bool = False,
) -> None:
    """Run the legacy folder's SQL files not yet run here, in file-name order, each in one transaction.

    Each file is tracked in Drizzle's table by its hash, with created_at = its position (1, 2, ...), so a
    second run does nothing and a file edited after it ran is drift (exit 3). A legacy runner's own table and
    the tables that exist are never taken as proof that a file ran.
    --only runs just the files named. --adopt records files that already ran here (by hand, by an old runner)
    without running them, each only when the schema proves it (applied step by step to a shadow database,
    everything the file creates, changes or drops must be so here); otherwise exit 3 naming the objects.
    `inv db.check` prints the --adopt/--only command for a partly-run legacy folder.
    """
    from migrakit.render.run import Progress, choose_format, render_bootstrap
    from migrakit.workflows import bootstrap as runner

    fmt = choose_format(json)
    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir, legacy_dir=legacy_dir, shadow_url=shadow_url)
    call = lambda: runner.bootstrap(settings, dry_run=dry_run, only=only or (), adopt=adopt or (), on_event=Progress(fmt))  # noqa: E731
    run_core("db.bootstrap", render_bootstrap, call, fmt, settings=settings)

