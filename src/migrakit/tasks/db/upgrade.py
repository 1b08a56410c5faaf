"""db tasks that upgrade to Drizzle 1.0: db.upgrade-tracking (the tracking table), db.upgrade-layout (the folder)."""

from __future__ import annotations

from typing import Any

from migrakit.tasks._run import run_core, settings_from, task
from migrakit.tasks.db._help import COMMON

COLLECTION = "db"


@task(
    help={
        **COMMON,
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
    run_core("db.upgrade-tracking", render_upgrade_tracking, lambda: core(settings, yes=yes), choose_format(json), settings=settings)


@task(
    help={
        "migrations_dir": COMMON["migrations_dir"],
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
    run_core("db.upgrade-layout", render_upgrade_layout, lambda: core(settings, yes=yes), choose_format(json), settings=settings)
