"""Shadow databases: throwaway databases that hold what the migrations produce. [I/O]

A shadow lives on the embedded server by default, or on the server of `--shadow-url` / `shadow_url`
(an admin URL: migrakit creates and drops databases there, e.g. the target's own server, to match its
version and extensions). It is dropped afterwards, also when building it fails.

"All migrations" is what a fresh database gets: what `db.migrate` runs (every Mode 1 and Mode 2 migration),
then, while a legacy folder is configured, what `db.bootstrap` runs (each legacy file in order, one
transaction each), applied here with the executor directly (db must not call a workflow).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from migrakit.core.drizzle.folder import V1
from migrakit.core.plan.run_plan import check_statements, legacy_failure, refuse_blocking
from migrakit.core.project import Sources
from migrakit.core.settings import Settings
from migrakit.db import tracking
from migrakit.db.apply_plan import execute
from migrakit.db.connect import server, session
from migrakit.db.connect.session import executor_options, open_target
from migrakit.db.run.executor import Executor
from migrakit.errors import MigrakitError


def shadow_server(settings: Settings) -> str:
    """Admin URL of the server that holds shadow databases."""
    if settings.shadow_url:
        return settings.shadow_url
    return session.resolve_target(replace(settings, database_url=None)).url


@contextmanager
def shadow(settings: Settings, *, wait_drop: bool = True) -> Iterator[str]:
    """An empty throwaway database on the shadow server; yields its URL, drops it afterwards (without waiting for
    the server to finish when not `wait_drop`: db.lint's output does not wait for it)."""
    with server.shadow_database(shadow_server(settings), wait_drop=wait_drop) as url:
        yield url


CREATE_SECONDS = 120.0  # a bound for waiting on a shadow database made on a thread


@contextmanager
def shadow_ahead(settings: Settings, *, wait_drop: bool = True) -> Iterator[Callable[[], str]]:
    """`shadow`, made on a thread while the caller reads the target: yields a function returning its URL once it
    exists (a bounded wait; the thread's error, if creating it failed). Dropped afterwards. The server is found
    (the embedded one started) here first: the thread only sends CREATE DATABASE."""
    from concurrent.futures import ThreadPoolExecutor

    made = server.shadow_database(shadow_server(settings), wait_drop=wait_drop)
    with ThreadPoolExecutor(1, thread_name_prefix="migrakit-shadow") as pool:
        future = pool.submit(made.__enter__)
        try:
            yield lambda: future.result(timeout=CREATE_SECONDS)
        finally:
            if future.exception(timeout=CREATE_SECONDS) is None:  # it exists: drop it
                made.__exit__(None, None, None)


def ignored_tables(settings: Settings) -> tuple[str, ...]:
    """Tables that are bookkeeping, not schema: the legacy runner's tracking table (left out of comparisons)."""
    return (settings.legacy_table,) if settings.legacy_table else ()


def build(settings: Settings, url: str, src: Sources) -> None:
    """Apply all migrations of `src` (sources/load.py) to the (empty) database at `url` as `db.migrate` would,
    then the legacy files as `db.bootstrap` would (a fresh database gets them in that order too)."""
    with failures_on_shadow():
        replay(settings.with_overrides(database_url=url), src)


def replay(settings: Settings, src: Sources, *, legacy: bool = True) -> None:
    """Apply every migration of `src` (empty ones included: history is replayed), then, with `legacy`, each
    legacy file in its own transaction, to the database of `settings` (a fresh one): the executor called
    directly, no migration lock (nobody else knows the database)."""
    v1 = src.folder.layout == V1
    options = executor_options(settings, v1=v1)
    schema, table = settings.migrations_schema, settings.migrations_table
    with open_target(settings) as (_, conn):
        p = src.plan(tracking.read_rows(conn, schema, table))
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


@contextmanager
def failures_on_shadow() -> Iterator[None]:
    """A MigrakitError raised while building a shadow says so in its state, and its fix names --shadow-url."""
    try:
        yield
    except MigrakitError as err:
        err.state = "on a shadow database (dropped again); the target database was not touched"
        err.fix = (
            f"{err.fix or 'fix the migration'}; if the shadow server lacks an extension the migrations need, point "
            "--shadow-url (or MIGRAKIT_SHADOW_URL) at a server that has it, e.g. the target's own server"
        )
        raise


def version_note(target_url: str, shadow_url: str) -> str | None:
    """A note when the shadow server's major version differs from the target's (definitions may print
    differently across versions and show up as differences)."""
    with server.connect(target_url) as a, server.connect(shadow_url) as b:
        va, vb = server.server_version(a) // 10000, server.server_version(b) // 10000
    if va == vb:
        return None
    return (
        f"the shadow server runs PostgreSQL {vb}, the target {va}: some differences may only be how each version "
        "prints a definition; use --shadow-url with a server of the target's version to be sure"
    )
