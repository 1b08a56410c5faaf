"""db.generate-down's computation: each migration's down file, computed and proven on two shadow databases.

For migration i: `before` holds the migrations before it, `after` those and i (db.migrate's executor, replayed by
workflows/steps/shadow_build.replay). The down is results' diff from `after` to `before` (the differ db.generate
uses), as the exact text of the file to write; then it is run on `after` by db.rollback's own code
(db/run/rollback.Undoer: guards, statements, the tracking row deleted), and `before` and `after` are compared:
equal, the down is proven; else the difference is named and nothing is written. The next migration then replays onto
both (so `after` also proves that migrating forward again works). A shadow a failed proof left wrong is replaced by
a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace

from migrakit.core.differences import difference_lines
from migrakit.core.migration import Migration, drizzle_hash
from migrakit.core.postgres.statements import BREAKPOINT
from migrakit.core.project import ProjectFiles
from migrakit.core.rollback import DownResult, Step, cannot_restore, down_file_of, down_text
from migrakit.core.settings import Settings
from migrakit.db import tracking
from migrakit.db.connect import server
from migrakit.db.connect.session import open_target
from migrakit.db.inspect import schema_diff as schema
from migrakit.db.inspect import shadow
from migrakit.db.run.rollback import Undoer
from migrakit.errors import MigrakitError
from migrakit.workflows.steps import shadow_build
from migrakit.workflows.steps.options import ignored_tables, shadow_options, target_options


def compute_downs(
    settings: Settings,
    src: ProjectFiles,
    wanted: Sequence[Migration],
    on_done: Callable[[DownResult], None] = lambda _: None,
) -> list[DownResult]:
    """The down of each migration in `wanted` (Mode 1 migrations of `src`, any order), computed and proven in
    run order on two shadows of the shadow server (db/inspect/shadow.py)."""
    ids = {id(m) for m in wanted}
    order = [i for i, m in enumerate(src.migrations) if id(m) in ids]
    schema_name, table = settings.migrations_schema, settings.migrations_table
    exclude = (*schema.BOOKKEEPING_SCHEMAS, schema_name)
    ignored = ignored_tables(settings)
    admin = shadow.shadow_server(shadow_options(settings))
    results: list[DownResult] = []
    with ExitStack() as stack:

        def fresh() -> Settings:
            return settings.with_overrides(database_url=stack.enter_context(server.shadow_database(admin)))

        before, after = fresh(), fresh()
        for i in order:
            m = src.migrations[i]
            with shadow.failures_on_shadow():
                history = {"legacy": False, "out_of_order": True}  # one migration at a time, in journal order
                shadow_build.replay(before, replace(src, migrations=src.migrations[:i]), **history)
                shadow_build.replay(after, replace(src, migrations=src.migrations[: i + 1]), **history)
            assert before.database_url is not None and after.database_url is not None
            stmts = drops_last(schema.diff_statements(after.database_url, before.database_url, exclude, ignored))
            notes = tuple(cannot_restore(m))
            text = down_text(m, stmts, notes, BREAKPOINT)
            down = Migration(m.tag, m.when, down_file_of(m), text, drizzle_hash(text.encode("utf-8")), name=m.name)
            try:
                _undo(after, m, down, schema_name, table)
                diff = schema.compare(before.database_url, after.database_url, exclude, ignored)
                lines = tuple(line for d in diff.differences for line in difference_lines(d, ""))
                result = DownResult(m, text, stmts, notes, diff.equal, lines or tuple(diff.statements))
            except MigrakitError as err:
                result = DownResult(m, text, stmts, notes, False, (f"{err.message}: {err.cause or ''}".strip(),))
            if not result.proven:
                after = fresh()  # the failed down left it neither before nor after: start the next one afresh
            results.append(result)
            on_done(result)
    return results


# What results' ordered diff drops before the tables that use it (seen: `drop type` before the table whose
# column has that type); a down is mostly drops, so these move after every other statement, in their order.
_DROPPED_LAST = ("drop type ", "drop domain ", "drop function ", "drop extension ", "drop schema ")


def drops_last(statements: Sequence[str]) -> tuple[str, ...]:
    """`statements` with the drops of types, domains, functions, extensions and schemas moved to the end (stable);
    the shadow proof then checks the order holds."""
    last = [s for s in statements if s.lower().startswith(_DROPPED_LAST)]
    return tuple(s for s in statements if s not in last) + tuple(last)


def _undo(on: Settings, m: Migration, down: Migration, schema_name: str, table: str) -> None:
    """Run `down` on the shadow as db.rollback runs it (its guards, statements and the row's deletion)."""
    with open_target(target_options(on)) as (_, conn):
        rows = tracking.read_rows(conn, schema_name, table)
        row = next(r for r in reversed(rows) if r.hash == m.hash)
        Undoer(conn, schema_name, table, lambda _: None).run([Step(m, row, down)])
