"""db.rollback and db.generate-down: undo applied migrations with their down files, and write those files."""

from __future__ import annotations

from typing import Any

from migrakit.tasks._fleet import FLEET_HELP, run_fleet, single_only
from migrakit.tasks._run import run_core, settings_from, task
from migrakit.tasks.db._help import COMMON, SHADOW

COLLECTION = "db"


@task(
    help={
        **COMMON,
        "to": "Undo every applied migration after TAG (a tag or a unique prefix); TAG stays applied.",
        "steps": "Undo the newest N applied migrations (N >= 1).",
        "yes": "Roll back. Without it the plan is printed (each migration, newest first, its down statements, the "
        "rows at risk) and the exit code is 5.",
        "allow_data_loss": "Run down statements that destroy data (DROP TABLE/COLUMN, TRUNCATE, DELETE) on tables "
        "with rows; without it --yes refuses them (exit 5, naming each).",
        "dry_run": "Print the plan and every down statement; change nothing (exit 0).",
        "single_transaction": "Undo every migration in one transaction (default: one transaction per migration).",
        "json": "Print the result as JSON.",
        **FLEET_HELP,
        "fail_fast": "With --targets: after the first failed target, start no other (running ones finish).",
        "canary": "With --targets: roll back the first N targets first; if any fails, start no other.",
    }
)
def rollback(
    c: Any,
    database_url: str | None = None,
    migrations_dir: str | None = None,
    to: str | None = None,
    steps: int = 0,
    yes: bool = False,
    allow_data_loss: bool = False,
    dry_run: bool = False,
    single_transaction: bool = False,
    json: bool = False,
    targets: str | None = None,
    targets_query: str | None = None,
    concurrency: int = 8,
    fail_fast: bool = False,
    canary: int = 0,
) -> None:
    """Roll back the newest applied migrations (--steps N) or those after a migration (--to TAG), newest first.

    Each migration is undone in its own transaction under the migration lock: its tracking row is checked (present,
    with its file's hash), its down file runs (`<tag>.down.sql`, or `down.sql` in a Drizzle 1.0 folder), then
    exactly that row is deleted; Drizzle's migrator and `inv db.migrate` apply it again on their next run. Refuses
    before anything runs: a missing down file (exit 2; `inv db.generate-down --tags TAG` writes one), an edited applied
    migration (exit 3), a consolidated (Mode 2) migration (exit 2), data loss on tables with rows without
    --allow-data-loss (exit 5).
    With --targets FILE (or --targets-query SQL) --to TAG --yes: every database (or schema) of the fleet, as
    db.migrate --targets runs it (a failing target stops at its migration, the others go on; --fail-fast, --canary N; the
    exit code is the first failed target's)."""
    from migrakit.render.rollback import RollbackProgress, render_rollback
    from migrakit.render.run import choose_format
    from migrakit.workflows.rollback import rollback as core

    fmt = choose_format(json)
    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir)
    if targets or targets_query:
        options = {"to": to, "steps": steps or None, "yes": yes, "dry_run": dry_run,
                   "allow_data_loss": allow_data_loss, "single_transaction": single_transaction}  # fmt: skip
        return run_fleet(settings, fmt, "rollback", targets, targets_query, concurrency, options=options,
                         fail_fast=fail_fast, canary=canary)  # fmt: skip
    single_only(concurrency=concurrency != 8, fail_fast=fail_fast, canary=bool(canary))
    run_core(
        "db.rollback",
        render_rollback,
        lambda: core(settings, to=to, steps=steps or None, yes=yes, dry_run=dry_run, allow_data_loss=allow_data_loss,
                     single_transaction=single_transaction, on_event=RollbackProgress(fmt)),
        fmt,
        settings=settings,
    )  # fmt: skip



@task(
    help={
        **COMMON,
        "shadow_url": SHADOW,
        "all": "Every Mode 1 migration that has no down file yet.",
        "force": "Rewrite down files that exist.",
        "json": "Print the result as JSON.",
        "tags": "The migrations (tags or unique prefixes), comma-separated: `inv db.generate-down --tags 0003,0004`.",
    },
)
def generate_down(
    c: Any,
    tags: str = "",
    database_url: str | None = None,
    migrations_dir: str | None = None,
    shadow_url: str | None = None,
    all: bool = False,
    force: bool = False,
    json: bool = False,
) -> None:
    """Write the down file of each migration (--tags TAG[,TAG...], or --all) that lacks one, proven on shadow databases.

    On two shadow databases: the schema after the migration is diffed to the schema before it (the differ
    db.generate uses); the down is then run as db.rollback runs it, and written (`<tag>.down.sql`, or `down.sql`
    in a Drizzle 1.0 folder) only when the schemas are then equal. What a down cannot restore (dropped values,
    deleted rows, written data, an added enum value) is named in its header and in the output. Exit 1 when a down
    could not be proven (nothing written for it; the difference is printed)."""
    from migrakit.render.rollback import render_downs
    from migrakit.render.run import choose_format
    from migrakit.workflows.generate_down import generate_down as core

    fmt = choose_format(json)
    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir, shadow_url=shadow_url)
    wanted = [t.strip() for t in tags.split(",") if t.strip()]
    run_core("db.generate-down", render_downs, lambda: core(settings, wanted, every=all, force=force), fmt, settings=settings)

