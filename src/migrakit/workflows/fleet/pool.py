"""A fleet's pool: one recipe per target on a bounded thread pool, with --fail-fast, --canary and signals
(workflows/fleet/__init__.py holds the recipes, and the failure semantics in its docstring); each target's
result and the fleet's report are core/reports/fleet.py's."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

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
)
from migrakit.core.fleet_targets import Target
from migrakit.core.reports.fleet import FAILED, INTERRUPTED, SKIPPED, FleetReport, TargetResult
from migrakit.db.connect import answer, server, stop
from migrakit.errors import Interrupted, MigrakitError, Signalled, signal_of

_POLL = 0.25  # seconds between looks at the running targets (and the live view's clock)


def run(
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
        results[t.name].shown_url = server.redact_url(t.url)
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
    except answer.NoAnswer as silent:  # a silent server no step of the run translated (db/connect/answer.py)
        result = TargetResult(t, FAILED, error=silent.unavailable(answer.STOPPED))
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
