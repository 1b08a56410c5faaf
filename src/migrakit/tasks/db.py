"""Database migrations: apply, inspect and check drizzle-kit folders (Mode 1) and consolidated files (Mode 2)."""

from __future__ import annotations

from typing import Any

from invoke import Collection

from migrakit.tasks._fleet import FLEET_HELP, run_fleet, single_only
from migrakit.tasks._run import run_core, settings_from, task
from migrakit.tasks.embedded import server_status, server_stop

_ALLOW_EMPTY = (
    "Accept an empty migrations folder while the tracking table has rows (else exit 2), and record pending "
    "migrations that hold no SQL as applied, as Drizzle does (else exit 1 before anything runs)."
)
_COMMON = {
    "database_url": "Database URL (default: $DATABASE_URL, else the embedded server in .migrakit/).",
    "migrations_dir": "drizzle-kit migrations folder (default: [tool.migrakit] migrations_dir, 'migrations').",
}


@task(
    help={
        **_COMMON,
        "dry_run": "Print the plan and every statement; change nothing.",
        "to": "Apply pending migrations up to and including TAG (a tag or a unique prefix of one, e.g. 0003); "
        "later ones stay pending. Exit 2 when TAG names no migration; nothing to do when it is applied.",
        "out_of_order": "Also apply pending migrations older than the newest applied one (Drizzle would skip them).",
        "single_transaction": "Run exactly as Drizzle's migrator does: one transaction for all pending migrations, "
        "each breakpoint chunk sent as one query; a file's own COMMIT ends that transaction and what follows runs "
        "without it (see the migration guide). Default: one transaction per migration.",
        "upgrade_tracking": "Drizzle 1.0 folder on Drizzle 0.x's tracking table: upgrade the table first "
        "(see db.upgrade-tracking); without it migrate refuses (exit 5).",
        "allow_empty": _ALLOW_EMPTY,
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
    when the folder is empty while the tracking table has rows (exit 2) or a pending migration holds no SQL
    (exit 1); --allow-empty accepts both. With --lint, db.lint runs first and an error-level finding refuses
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

    def call() -> Any:
        if lint:
            from migrakit.workflows.lint import lint as lint_first
            from migrakit.workflows.lint import refuse_errors

            refuse_errors(lint_first(settings))
        return runner.migrate(
            settings,
            dry_run=dry_run,
            out_of_order=out_of_order,
            single_transaction=single_transaction,
            upgrade_tracking=upgrade_tracking,
            allow_empty=allow_empty,
            on_event=Progress(fmt),
            to=to,
        )

    run_core(render_migrate, call, fmt, settings=settings)


@task(help={**_COMMON, "allow_empty": "Accept an empty migrations folder while the tracking table has rows (else exit 2).",
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
    run_core(render_status, lambda: runner.status(settings, allow_empty=allow_empty), fmt, settings=settings)


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
    run_core(render_generated, call, choose_format(json), settings=settings)


@task(
    help={
        **_COMMON,
        "yes": "Apply the upgrade (without it: print the plan, change nothing, exit 5).",
        "json": "Print the plan or the result as JSON.",
    }
)
def upgrade_tracking(
    c: Any, database_url: str | None = None, migrations_dir: str | None = None, yes: bool = False, json: bool = False
) -> None:
    """Upgrade Drizzle 0.x's tracking table to Drizzle 1.0's (name, applied_at), as Drizzle 1.0 would.

    Matches each row to a migration folder (created_at to the second, then hash), shows the result, and with
    --yes adds the columns and writes the names in one transaction. Nothing is re-run. Exit 3 when a row
    matches no folder, 5 when --yes is needed.
    """
    from migrakit.render.run import choose_format
    from migrakit.render.upgrade import render_upgrade_tracking
    from migrakit.workflows.upgrade_tracking import upgrade_tracking as core

    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir)
    run_core(render_upgrade_tracking, lambda: core(settings, yes=yes), choose_format(json), settings=settings)


@task(
    help={
        "migrations_dir": _COMMON["migrations_dir"],
        "yes": "Convert the folder (without it: print the plan, change nothing, exit 5).",
        "json": "Print the plan or the result as JSON.",
    }
)
def upgrade_layout(c: Any, migrations_dir: str | None = None, yes: bool = False, json: bool = False) -> None:
    """Convert a drizzle-kit journal folder into Drizzle 1.0 folders, as `drizzle-kit up` does.

    Each `<tag>.sql` becomes `<YYYYMMDDHHMMSS>_<name>/migration.sql` (bytes unchanged, so hashes stay) with its
    snapshot as snapshot.json; meta/ is removed. Prints the plan; --yes converts.
    """
    from migrakit.render.run import choose_format
    from migrakit.render.upgrade import render_upgrade_layout
    from migrakit.workflows.upgrade_layout import upgrade_layout as core

    settings = settings_from(c, migrations_dir=migrations_dir)
    run_core(render_upgrade_layout, lambda: core(settings, yes=yes), choose_format(json), settings=settings)


_SHADOW = "Admin URL of a server for the throwaway shadow databases (default: [tool.migrakit] shadow_url, else the embedded server)."


@task(help={**_COMMON, "shadow_url": _SHADOW, "json": "Print the result as JSON.", **FLEET_HELP})
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
    run_core(render_check, lambda: core(settings), choose_format(json), settings=settings)


@task(
    help={
        **_COMMON,
        "shadow_url": _SHADOW,
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
    from migrakit.workflows.baseline import baseline as core

    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir, shadow_url=shadow_url)
    run_core(render_baseline, lambda: core(settings, yes=yes), choose_format(json), settings=settings)


@task(
    help={
        **_COMMON,
        "dry_run": "Print the plan and every statement; change nothing.",
        "out_of_order": "Also apply pending consolidations older than the newest applied migration.",
        "allow_empty": _ALLOW_EMPTY,
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
    run_core(
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
        **_COMMON,
        "legacy_dir": "Folder of legacy .sql files (default: [tool.migrakit] legacy_dir).",
        "shadow_url": _SHADOW,
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
    run_core(render_bootstrap, call, fmt, settings=settings)


@task(
    help={
        "migrations_dir": _COMMON["migrations_dir"],
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
    run_core(render_branch_count, lambda: core(settings, base=base, max_count=max), choose_format(json), settings=settings)


@task(
    help={
        **_COMMON,
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
            from migrakit.errors import MigrakitError
            from migrakit.workflows.lint import finding_lines, lint

            try:
                report.lint = finding_lines(lint(settings, migration=report.plan.stem))
            except MigrakitError as err:
                report.lint = [f"not linted: {err.message} (run `inv db.lint --migration {report.plan.stem}`)"]
        return report

    run_core(
        render_consolidation,
        call,
        choose_format(json),
        settings=settings,
    )


@task(
    help={
        **_COMMON,
        "shadow_url": _SHADOW,
        "all": "Lint every migration in the folder, not only the pending ones (the shadow starts empty).",
        "migration": "Lint only migration TAG (a tag or a unique prefix), on a shadow holding the migrations before it.",
        "fail_on": "Lowest severity that fails the run (exit 7): error (default), warning or info.",
        "github": "Also print GitHub Actions annotations (::error file=...,line=...::...), one per finding.",
        "json": "Print the result as JSON.",
        **FLEET_HELP,
    }
)
def lint(
    c: Any,
    database_url: str | None = None,
    migrations_dir: str | None = None,
    shadow_url: str | None = None,
    all: bool = False,
    migration: str | None = None,
    fail_on: str = "error",
    github: bool = False,
    json: bool = False,
    targets: str | None = None,
    targets_query: str | None = None,
    concurrency: int = 8,
) -> None:
    """Lint pending migrations: what each statement locks, rewrites and breaks, measured on a shadow database.

    Each statement runs on a shadow database holding the target's schema, grouped in transactions as
    db.migrate runs it; the locks its backend holds (pg_locks), the tables it rewrote or scanned and its duration
    are recorded, the target's row estimates and sizes are read (read only), and the rules (see the migration
    guide, "Safe migrations") name the risk and the safe rewrite. `-- migrakit:allow RULE-ID reason` on the line
    above a statement allows it. Exit 0 when no finding reaches --fail-on, else 7. The target is never changed.
    With --targets FILE (or --targets-query SQL): every database of the fleet, each with its own pending
    migrations, shadow and table sizes (exit 7 when any target has a finding at --fail-on)."""
    from migrakit.render.lint import github_annotations, render_lint
    from migrakit.render.run import choose_format
    from migrakit.workflows.lint import lint as core

    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir, shadow_url=shadow_url)
    fmt = choose_format(json)
    if targets or targets_query:
        if github:
            from migrakit.errors import ConfigError

            raise ConfigError("--github does not combine with --targets", state="nothing was run",
                              fix="annotate from one database's run (`inv db.lint --github`); a fleet's findings are "
                              "listed per target")  # fmt: skip
        options = {"every": all, "migration": migration, "fail_on": fail_on}
        return run_fleet(settings, fmt, "lint", targets, targets_query, concurrency, options=options)
    single_only(concurrency=concurrency != 8)

    def render(report: Any, fmt: str) -> str:
        return render_lint(report, fmt) + ("\n" + github_annotations(report) if github and report.findings else "")

    run_core(
        render, lambda: core(settings, every=all, migration=migration, fail_on=fail_on), fmt,
        settings=settings,
    )  # fmt: skip


ns = Collection(
    "db", generate, migrate, status, upgrade_tracking, upgrade_layout, check, baseline,
    migrate_consolidated, bootstrap, count_branch_migrations, consolidate,
)
ns.add_task(lint)
ns.add_task(server_status)
ns.add_task(server_stop)
