"""A shadow database built: "all migrations" applied to a fresh database (db/inspect/shadow.py makes and drops
it). [I/O]

"All migrations" is what a fresh database gets: what `db.migrate` runs (every Mode 1 and Mode 2 migration),
then, while a legacy folder is configured, what `db.bootstrap` runs (each legacy file in order, one
transaction each), applied here with the executor directly (a step, not the db.migrate workflow).
"""

from __future__ import annotations

from migrakit.core.drizzle.folder import V1
from migrakit.core.plan.run_plan import check_statements, legacy_failure, refuse_blocking
from migrakit.core.project import ProjectFiles
from migrakit.core.settings import Settings
from migrakit.db import tracking
from migrakit.db.connect.session import open_target
from migrakit.db.inspect.shadow import failures_on_shadow
from migrakit.db.run.executor import Executor
from migrakit.errors import MigrakitError
from migrakit.workflows.steps.apply import execute
from migrakit.workflows.steps.options import executor_options, target_options


def build(settings: Settings, url: str, src: ProjectFiles) -> None:
    """Apply all migrations of `src` (sources/load.py) to the (empty) database at `url` as `db.migrate` would,
    then the legacy files as `db.bootstrap` would (a fresh database gets them in that order too)."""
    with failures_on_shadow():
        replay(settings.with_overrides(database_url=url), src)


def replay(settings: Settings, src: ProjectFiles, *, legacy: bool = True, out_of_order: bool = False) -> None:
    """Apply every migration of `src` (empty ones included: history is replayed), then, with `legacy`, each
    legacy file in its own transaction, to the database of `settings` (a fresh one): the executor called
    directly, no migration lock (nobody else knows the database). `out_of_order`: a shadow that already holds a
    prefix of the history (db.generate-down replays one migration at a time) takes the next in journal order even
    where its `when` is older than a row's, as Drizzle's migrator took it on a fresh database in one run."""
    v1 = src.folder.layout == V1
    options = executor_options(settings, v1=v1)
    schema, table = settings.migrations_schema, settings.migrations_table
    with open_target(target_options(settings)) as (_, conn):
        p = src.plan(tracking.read_rows(conn, schema, table), out_of_order=out_of_order)
        refuse_blocking(p)
        check_statements(p, allow_empty=True)
        tracking.ensure_table(conn, schema, table, v1=v1)
        execute(conn, p, list(p.pending), options)
        if not (legacy and src.legacy):
            return
        legacy_plan = src.legacy_plan(tracking.read_rows(conn, schema, table))
        check_statements(legacy_plan)
        refuse_blocking(legacy_plan)
        executor = Executor(conn, options)
        done: list[str] = []
        try:
            for m in legacy_plan.pending:  # file order, each file in its own transaction
                executor.apply([m])
                done.append(m.tag)
        except MigrakitError as err:
            legacy_failure(err, done)
            raise
