"""Fleet: the single-database migrate (or status) run on many targets at once, with a bounded thread pool.

Each target runs exactly `workflows/migrate.migrate` / `workflows/status.status` with its own Settings (its
URL; with a `schema`, the tracking table in that schema and `search_path` set to it in each migration
transaction): its own connections, migration lock, transactions and tracking rows, as a single run on that
database would. Nothing is shared between targets but the folder on disk, read once per target.

Why threads, not psycopg's async connections: the single-database path is synchronous and a target's time is
almost all waiting on its server, which a thread does with the GIL released; `bench/fleet.py` measures the
pool against one-after-another. Reusing the exact path keeps "exactly once" proven once, not twice. This is
the one workflow that calls others, by design: it is the single-database recipe (migrate, status, check, lint), per
target; nothing calls it back.

Failure semantics (see docs/MIGRATION_GUIDE.md, "Many databases"):
- a failing target stops at its failing migration, as a single run does; the others go on;
- `fail_fast`: after the first failure no new target starts (running ones finish); the rest are `skipped`;
- `canary=N`: the first N targets run first; if any of them fails, no other target starts;
- SIGINT/SIGTERM: no new target starts; each running one is stopped as a single run is (its statement
  cancelled, its migration rolled back: `interrupted`); the fleet exits 130/143.
A rerun does only the work left: up-to-date targets report `up-to-date`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from migrakit.core.drizzle.naming import quoted_table
from migrakit.core.events import (
    Event,
    EventSink,
    FleetEvent,
    FleetFinished,
    FleetInterrupted,
    FleetSink,
    FleetStarted,
    FleetTick,
    LockWait,
    Started,
    TargetFinished,
    TargetRunning,
    TargetStarted,
    TargetWaits,
    no_fleet_event,
)
from migrakit.core.fleet_targets import Target, from_rows, parse_file
from migrakit.core.project import ProjectFiles
from migrakit.core.settings import Settings
from migrakit.db.connect import server, stop
from migrakit.errors import ConfigError, Interrupted, LintFindings, MigrakitError, Signalled, signal_of
from migrakit.sources.load import load_sources
from migrakit.workflows import check as check_workflow
from migrakit.workflows import migrate as migrate_workflow
from migrakit.workflows import status as status_workflow

DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 256  # two connections per running target: keep far below any server's max_connections
_POLL = 0.25  # seconds between looks at the running targets (and the live view's clock)


# statuses of a target in a fleet run
APPLIED, UP_TO_DATE, FAILED, SKIPPED = "applied", "up-to-date", "failed", "skipped"
INTERRUPTED = "interrupted"  # stopped by SIGINT/SIGTERM: its statement cancelled, its migration rolled back
PENDING, DRIFT = "pending", "drift"  # db.status --targets (and db.check: drift)
NO_DRIFT = "no-drift"  # db.check --targets
CLEAN, FINDINGS = "clean", "findings"  # db.lint --targets


@dataclass
class TargetResult:
    target: Target
    status: str
    applied: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    error: MigrakitError | None = None
    seconds: float = 0.0
    report: Any = None  # the target's MigrateReport / StatusReport, when it ran to the end

    @property
    def shown_url(self) -> str:
        """The target's URL as it may be printed."""
        return server.redact_url(self.target.url)


@dataclass
class FleetReport:
    command: str  # "migrate", "status", "check" or "lint"
    source: str  # the targets file, or "--targets-query"
    results: list[TargetResult]
    concurrency: int
    fail_fast: bool = False
    canary: int = 0
    stopped: str | None = None  # why targets were skipped
    seconds: float = 0.0
    signum: int = 0  # the signal that stopped the run (SIGINT 2, SIGTERM 15), 0: none

    def of(self, status: str) -> list[TargetResult]:
        return [r for r in self.results if r.status == status]

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def exit_code(self) -> int:
        """The shell's code for the signal that stopped the run (130 SIGINT, 143 SIGTERM); else the exit code
        of the first failed target in the targets' order (its error's own code); for db.lint, 7 when a target
        has a finding at --fail-on; for db.status and db.check, 3 when a target has drift; 0 when every target
        succeeded."""
        if self.signum:
            return 128 + self.signum
        failed = self.of(FAILED)
        if failed:
            return failed[0].error.exit_code if failed[0].error is not None else 1
        if self.of(SKIPPED):  # interrupted: never green while targets were left out
            return 1
        if self.of(FINDINGS):
            return LintFindings.exit_code
        return 3 if self.of(DRIFT) else 0


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
            text = file.read_text(encoding="utf-8")
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

    return _run("migrate", targets, one, source, concurrency, fail_fast, canary, on_event)


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

    return _run("status", targets, one, source, concurrency, False, 0, on_event)


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

    return _run("check", targets, one, source, concurrency, False, 0, on_event)


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

    return _run("lint", targets, one, source, concurrency, False, 0, on_event)


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
    return replace(settings, shadow_url=shadow.shadow_server(settings))


def _for(src: ProjectFiles, settings: Settings) -> ProjectFiles:
    """The folders read once, with this target's tracking table (named in the problems' fix SQL)."""
    table = quoted_table(settings.migrations_schema, settings.migrations_table)
    return src if table == src.table else replace(src, table=table)


def _run(
    command: str,
    targets: list[Target],
    one: Callable[[Target, EventSink], TargetResult],
    source: str,
    concurrency: int,
    fail_fast: bool,
    canary: int,
    on_event: FleetSink,
) -> FleetReport:
    start = time.monotonic()
    one = _naming_source(one, source)
    results: dict[str, TargetResult] = {}
    stopped: str | None = None
    signum = 0
    on_event(FleetStarted(tuple(t.name for t in targets), concurrency))
    waves = [targets[:canary], targets[canary:]] if 0 < canary < len(targets) else [targets]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(targets)), thread_name_prefix="migrakit-fleet") as pool:
        for number, wave in enumerate(waves):
            if stopped:
                break
            failed, signum = _wave(pool, wave, one, concurrency, fail_fast, results, on_event)
            if signum:
                stopped = (
                    f"interrupted by {Signalled(signum).name}: no other target was started; each running target's "
                    "statement was cancelled and its migration rolled back"
                )
            elif failed and fail_fast:
                stopped = f"--fail-fast: {failed[0]} failed, so no other target was started"
            elif failed and canary and number == 0 and len(waves) > 1:
                stopped = (
                    f"--canary {canary}: {', '.join(failed)} failed among the first {canary} target(s), "
                    "so no other target was started"
                )
    for t in targets:
        results.setdefault(t.name, TargetResult(t, SKIPPED))
    report = FleetReport(
        command, source, [results[t.name] for t in targets], concurrency, fail_fast, canary, stopped,
        time.monotonic() - start, signum,
    )  # fmt: skip
    on_event(FleetFinished(report))
    return report


def _wave(
    pool: ThreadPoolExecutor,
    wave: list[Target],
    one: Callable[[Target, EventSink], TargetResult],
    concurrency: int,
    fail_fast: bool,
    results: dict[str, TargetResult],
    on_event: FleetSink,
) -> tuple[list[str], int]:
    """Run `wave`, at most `concurrency` targets at a time; with fail_fast, start none after a failure (those
    running finish). SIGINT or SIGTERM starts no other target and stops the running ones as a single run stops
    (db/connect/stop.py: their statement cancelled, their migration rolled back); a second signal exits at once
    (tasks/_run.py). Returns (the targets that failed, the signal that stopped the wave or 0)."""
    queue = list(wave)
    running: dict[Future[TargetResult], Target] = {}
    failed: list[str] = []
    signum = 0
    while queue or running:
        while queue and len(running) < concurrency and not (fail_fast and failed) and not signum:
            t = queue.pop(0)
            running[pool.submit(_guarded, one, t, on_event)] = t
        if not running:
            break
        try:
            done, _ = wait(running, timeout=_POLL, return_when=FIRST_COMPLETED)  # each target's own waits are bounded
        except KeyboardInterrupt as exc:  # the first signal (the second exits in its handler)
            if not signum:
                signum = signal_of(exc)
                on_event(FleetInterrupted(tuple(t.name for t in running.values())))
                stop.stop(signum)
            done = set()
        on_event(FleetTick())
        for future in done:
            t = running.pop(future)
            try:
                result = future.result()
            except KeyboardInterrupt as exc:  # a stop seen after _guarded's own handling: where, unknown
                result = _stopped(t, exc, None)
            results[t.name] = result
            if result.status == FAILED:
                failed.append(t.name)
    return failed, signum


def _naming_source(
    one: Callable[[Target, EventSink], TargetResult], source: str
) -> Callable[[Target, EventSink], TargetResult]:
    """`one`, whose errors' fixes name the target's url in the targets file (or query) instead of DATABASE_URL,
    which a fleet target does not come from (and of which the embedded database is no alternative)."""

    def named(t: Target, events: EventSink) -> TargetResult:
        try:
            return one(t, events)
        except MigrakitError as err:
            if err.fix and "DATABASE_URL" in err.fix:
                fix = re.sub(r",? or unset it to use the embedded database", "", err.fix)
                err.fix = fix.replace("DATABASE_URL", f"the url of target {t.name} in {source}")
            raise

    return named


def _guarded(one: Callable[[Target, EventSink], TargetResult], t: Target, on_event: FleetSink) -> TargetResult:
    """Run one target; any failure becomes its result (redacted), never the fleet's."""
    start = time.monotonic()
    lock = threading.Lock()

    def events(event: FleetEvent) -> None:
        with lock:
            on_event(event)

    def run_events(event: Event) -> None:
        """The target's own run events, as the fleet's view shows them: which migration runs, a lock wait."""
        if isinstance(event, Started):
            events(TargetRunning(t.name, event.migration))
        elif isinstance(event, LockWait):
            events(TargetWaits(t.name))

    events(TargetStarted(t.name))
    try:
        with stop.stoppable():
            result = one(t, run_events)
    except KeyboardInterrupt as exc:  # stopped outside a migration (connecting, planning, taking the lock)
        result = _stopped(t, exc, "its run stopped before or between its migrations")
    except MigrakitError as err:
        status = INTERRUPTED if isinstance(err, Interrupted) else FAILED
        result = TargetResult(t, status, error=err, applied=list(getattr(err, "applied_in_run", [])))
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        result = TargetResult(t, FAILED, error=MigrakitError(
            f"target {t.name} failed: {type(exc).__name__}",
            cause=first or None,
            state="unknown: `inv db.status --targets` shows what is applied on each target",
            fix="run this target alone (`inv db.migrate --database-url ...`) to see the full error, and report it",
        ))  # fmt: skip
    result.seconds = time.monotonic() - start
    if result.error is not None:
        _redact(result.error, [t.url])
    events(TargetFinished(t.name, result))
    return result


def _stopped(t: Target, exc: BaseException, where: str | None) -> TargetResult:
    """A target stopped by a signal where no migration ran (or where is unknown): its open transaction, if
    any, was rolled back; what it kept is what db.status shows."""
    name = exc.name if isinstance(exc, Signalled) else "SIGINT"
    err = Interrupted(
        f"target {t.name} interrupted by {name}",
        state=(where + "; " if where else "") + "a transaction open at that moment was rolled back; "
        "`inv db.status --targets` shows what is applied",
        fix="run the same command again: it applies what is left",
        signum=signal_of(exc),
    )
    return TargetResult(t, INTERRUPTED, error=err)


def _redact(err: MigrakitError, urls: Iterable[str]) -> None:
    """Mask passwords in every text field of `err`, with the target's URL among the known ones."""
    urls = list(urls)
    for name in ("message", "file", "cause", "state", "fix"):
        value = getattr(err, name)
        if isinstance(value, str):
            setattr(err, name, server.redact_text(value, urls))
    err.details = [server.redact_text(d, urls) for d in err.details]
