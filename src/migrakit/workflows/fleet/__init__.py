"""Fleet: the single-database migrate (or status) run on many targets at once, with a bounded thread pool.

Each target runs exactly `workflows/migrate.migrate` / `workflows/status.status` with its own Settings (its
URL; with a `schema`, the tracking table in that schema and `search_path` set to it in each migration
transaction): its own connections, migration lock, transactions and tracking rows, as a single run on that
database would. Nothing is shared between targets but the folder on disk, read once per target.

Why threads, not psycopg's async connections: the single-database path is synchronous and a target's time is
almost all waiting on its server, which a thread does with the GIL released; `bench/fleet.py` measures the
pool against one-after-another. Reusing the exact path keeps "exactly once" proven once, not twice. This is
the one workflow that calls others, by design: it is the single-database recipe (migrate, rollback, status, check,
lint), per target; nothing calls it back.

Failure semantics (see docs/MIGRATION_GUIDE.md, "Many databases"):
- a failing target stops at its failing migration, as a single run does; the others go on;
- `fail_fast`: after the first failure no new target starts (running ones finish); the rest are `skipped`;
- `canary=N`: the first N targets run first; if any of them fails, no other target starts;
- SIGINT/SIGTERM: no new target starts; each running one is stopped as a single run is (its statement
  cancelled, its migration rolled back: `interrupted`); the fleet exits 130/143.
A rerun does only the work left: up-to-date targets report `up-to-date`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from migrakit.core.drizzle.naming import quoted_table
from migrakit.core.events import EventSink, FleetSink, no_fleet_event
from migrakit.core.fleet_targets import Target, from_rows, parse_file
from migrakit.core.project import ProjectFiles
from migrakit.core.reports.fleet import (
    APPLIED,
    CLEAN,
    DRIFT,
    FINDINGS,
    NO_DRIFT,
    PENDING,
    ROLLED_BACK,
    UP_TO_DATE,
    FleetReport,
    TargetResult,
)
from migrakit.core.settings import Settings
from migrakit.errors import ConfigError
from migrakit.sources.load import load_sources
from migrakit.sources.reading import read_bytes
from migrakit.workflows import check as check_workflow
from migrakit.workflows import migrate as migrate_workflow
from migrakit.workflows import status as status_workflow
from migrakit.workflows.fleet.pool import run
from migrakit.workflows.steps.options import shadow_options

__all__ = ["check", "load_targets", "lint", "migrate", "status"]

DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 256  # two connections per running target: keep far below any server's max_connections


# ------------------------------------------------------------------------------------------ targets
def load_targets(settings: Settings, path: str | None, query: str | None) -> tuple[list[Target], str]:
    """The targets of `--targets FILE` (TOML, relative to the working directory) or `--targets-query SQL`
    (run on DATABASE_URL), and the source's name for messages."""
    if bool(path) == bool(query):
        raise ConfigError(
            "pass either --targets FILE or --targets-query SQL" + (", not both" if path else ""),
            state="nothing was run",
            fix="--targets fleet.toml lists [[targets]] with name and url; --targets-query runs a SELECT of name, "
            "url on DATABASE_URL",
        )
    if path:
        file = Path(path)
        try:
            text = read_bytes(file, path, settings.max_file_bytes).decode("utf-8")  # a FIFO or device: exit 2
        except FileNotFoundError:
            raise ConfigError(
                f"the targets file {path} does not exist",
                file=path,
                state="nothing was run",
                fix="pass the path of a TOML file with one [[targets]] table (name, url) per database",
            ) from None
        except UnicodeDecodeError:
            raise ConfigError(f"the targets file {path} is not UTF-8 text", file=path, state="nothing was run",
                              fix="save it as UTF-8") from None  # fmt: skip
        return parse_file(text, path), path
    from migrakit.db.inspect.targets_query import query_rows

    if not settings.database_url:
        raise ConfigError(
            "--targets-query runs on DATABASE_URL, which is not set",
            state="nothing was run",
            fix="set DATABASE_URL (or pass --database-url) to the database holding the tenants' list",
        )
    columns, rows = query_rows(settings.database_url, query or "")
    return from_rows(rows, columns, "--targets-query"), "--targets-query"


def target_settings(settings: Settings, t: Target) -> Settings:
    """`settings` for one target: its URL; with a schema, the tracking table in that schema and the
    migrations' search_path set to it. direct_url names DATABASE_URL's database, never a target's: cleared."""
    changed: dict[str, Any] = {"database_url": t.url, "direct_url": None}
    if t.schema:
        changed.update(migrations_schema=t.schema, search_path=t.schema)
    return replace(settings, **changed)


def check_options(targets: list[Target], concurrency: int, canary: int, *, single_transaction: bool = False) -> None:
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ConfigError(f"--concurrency {concurrency} is out of range", state="nothing was run",
                          fix=f"pass a number from 1 to {MAX_CONCURRENCY} (default {DEFAULT_CONCURRENCY})")  # fmt: skip
    if canary < 0:
        raise ConfigError(f"--canary {canary} is negative", state="nothing was run",
                          fix="pass how many targets to migrate first (0: no canary)")  # fmt: skip
    schemas = [t.name for t in targets if t.schema]
    if single_transaction and schemas:
        raise ConfigError(
            f"--single-transaction cannot set the search_path of schema targets ({', '.join(schemas[:3])})",
            state="nothing was run",
            fix="drop --single-transaction for a fleet with schemas (each migration then runs in its own "
            "transaction with SET LOCAL search_path)",
        )


# ------------------------------------------------------------------------------------------ the recipes
def migrate(
    settings: Settings,
    targets: list[Target],
    *,
    source: str,
    concurrency: int = DEFAULT_CONCURRENCY,
    fail_fast: bool = False,
    canary: int = 0,
    on_event: FleetSink = no_fleet_event,
    **options: Any,
) -> FleetReport:
    """`migrate_workflow.migrate(**options)` on every target (see the module's docstring for the failure semantics)."""
    if options.get("dry_run"):
        raise ConfigError(
            "--dry-run does not combine with --targets",
            state="nothing was run",
            fix="run `inv db.status --targets FILE` to see what each target has pending",
        )
    check_options(targets, concurrency, canary, single_transaction=bool(options.get("single_transaction")))
    src = load_sources(settings)  # once: every target runs the same files (a bad folder is exit 2 here)

    def one(t: Target, events: EventSink) -> TargetResult:
        mine = target_settings(settings, t)
        report = migrate_workflow.migrate(mine, on_event=events, sources=_for(src, mine), **options)
        return TargetResult(t, APPLIED if report.applied else UP_TO_DATE, applied=list(report.applied), report=report)

    return run("migrate", targets, one, source, concurrency, fail_fast, canary, on_event)


def rollback(
    settings: Settings,
    targets: list[Target],
    *,
    source: str,
    concurrency: int = DEFAULT_CONCURRENCY,
    fail_fast: bool = False,
    canary: int = 0,
    on_event: FleetSink = no_fleet_event,
    **options: Any,
) -> FleetReport:
    """`rollback_workflow.rollback(yes=True, to=TAG, **options)` on every target, with db.migrate's failure
    semantics; a schema target's downs run with its schema as the search_path and its tracking table, as db.migrate
    runs its migrations. Only --to TAG and --yes: a rerun after a failure then does only the work left (`--steps N`
    would undo N more on the targets that succeeded), and a fleet has no one plan to print."""
    from migrakit.workflows import rollback as rollback_workflow

    if options.get("to") is None or options.get("steps") or not options.get("yes") or options.get("dry_run"):
        raise ConfigError(
            "db.rollback --targets needs --to TAG and --yes (not --steps, not --dry-run)",
            state="nothing was run",
            fix="see one target's plan with `inv db.rollback --database-url URL --to TAG`, then `inv db.rollback "
            "--targets FILE --to TAG --yes`: a rerun after a failure undoes only what is still after TAG",
        )
    check_options(targets, concurrency, canary, single_transaction=bool(options.get("single_transaction")))
    src = load_sources(settings)  # once: every target runs the same files (a bad folder is exit 2 here)

    def one(t: Target, events: EventSink) -> TargetResult:
        mine = target_settings(settings, t)
        report = rollback_workflow.rollback(mine, on_event=events, sources=_for(src, mine), **options)
        return TargetResult(t, ROLLED_BACK if report.undone else UP_TO_DATE, undone=list(report.undone), report=report)

    return run("rollback", targets, one, source, concurrency, fail_fast, canary, on_event)


def status(
    settings: Settings,
    targets: list[Target],
    *,
    source: str,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_event: FleetSink = no_fleet_event,
    allow_empty: bool = False,
) -> FleetReport:
    """`workflows/status.status` on every target: up-to-date, pending (with the tags), drift (exit 3) or failed."""
    check_options(targets, concurrency, 0)
    src = load_sources(settings)

    def one(t: Target, events: EventSink) -> TargetResult:
        mine = target_settings(settings, t)
        report = status_workflow.status(mine, allow_empty=allow_empty, sources=_for(src, mine))
        state = DRIFT if not report.ok else PENDING if report.plan.pending else UP_TO_DATE
        return TargetResult(t, state, pending=[m.tag for m in report.plan.pending], report=report)

    return run("status", targets, one, source, concurrency, False, 0, on_event)


def check(
    settings: Settings,
    targets: list[Target],
    *,
    source: str,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_event: FleetSink = no_fleet_event,
) -> FleetReport:
    """`db.check` (workflows/check.check: the migrations built on a shadow database, compared with the target) on every
    target: no-drift, drift (exit 3) or failed. Whole databases only: a schema target is refused (the shadow
    is built without the tenant's search_path, so the comparison would be wrong)."""
    shared = _on_shadows("db.check", settings, targets, concurrency)

    def one(t: Target, events: EventSink) -> TargetResult:
        report = check_workflow.check(target_settings(shared, t))
        return TargetResult(
            t, DRIFT if report.drifted else NO_DRIFT, pending=[m.tag for m in report.plan.pending], report=report
        )

    return run("check", targets, one, source, concurrency, False, 0, on_event)


def lint(
    settings: Settings,
    targets: list[Target],
    *,
    source: str,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_event: FleetSink = no_fleet_event,
    every: bool = False,
    migration: str | None = None,
    fail_on: str = "error",
) -> FleetReport:
    """`db.lint` (workflows/lint.lint) on every target: its pending migrations measured on a shadow database of
    its own schema, judged with its own table sizes: clean, findings (exit 7 when one reaches --fail-on) or
    failed. Whole databases only, as db.check (the shadow is built without a tenant's search_path)."""
    from migrakit.workflows import lint as lint_workflow

    shared = _on_shadows("db.lint", settings, targets, concurrency)

    def one(t: Target, events: EventSink) -> TargetResult:
        report = lint_workflow.lint(target_settings(shared, t), every=every, migration=migration, fail_on=fail_on)
        tags = [m.tag for m in report.migrations]
        return TargetResult(t, CLEAN if report.ok else FINDINGS, pending=tags, report=report)

    return run("lint", targets, one, source, concurrency, False, 0, on_event)


def _on_shadows(task: str, settings: Settings, targets: list[Target], concurrency: int) -> Settings:
    """The checks db.check and db.lint make before any target is touched (options, whole databases only, the
    folder: a bad one is exit 2 here), and `settings` with the shadow server, the embedded one started once and
    not per thread. Whole databases only: the shadow is built without a tenant's search_path."""
    from migrakit.db.inspect import shadow

    check_options(targets, concurrency, 0)
    schemas = [t.name for t in targets if t.schema]
    if schemas:
        raise ConfigError(
            f"{task} --targets compares whole databases; {', '.join(schemas[:3])} name a schema",
            state="nothing was run",
            fix="check schema targets with `inv db.status --targets FILE` (tracking table against the folder), or "
            "list whole databases in the targets file",
        )
    load_sources(settings)
    return replace(settings, shadow_url=shadow.shadow_server(shadow_options(settings)))


def _for(src: ProjectFiles, settings: Settings) -> ProjectFiles:
    """The folders read once, with this target's tracking table (named in the problems' fix SQL)."""
    table = quoted_table(settings.migrations_schema, settings.migrations_table)
    return src if table == src.table else replace(src, table=table)

