"""Applying a plan's pending migrations: the direct connection some need behind a transaction pooler, and
the run that records proven consolidations, applies the rest and re-plans when another migrator got there
first. [I/O] The executor runs each migration; this decides which connection and when to re-plan."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg

from migrakit.core import events
from migrakit.core.events import EventSink, no_event
from migrakit.core.migration import Migration
from migrakit.core.plan.planner import Plan
from migrakit.core.plan.run_plan import run_state
from migrakit.core.settings import Settings
from migrakit.db import tracking
from migrakit.db.connect import pooler, server, session
from migrakit.db.run.executor import Executor
from migrakit.db.run.guards import AppliedElsewhere
from migrakit.db.run.strategies.base import Options
from migrakit.errors import ConfigError, Interrupted, MigrakitError, Signalled, signal_of

REPLAN_PAUSE = 0.2  # seconds between re-plans while another migration transaction is open (AppliedElsewhere.busy)


def direct_connection(conn: Any, settings: Settings, target: session.Target, run: list[Migration]) -> Any:
    """A direct connection (direct_url) for the migrations that must run outside a transaction, when `conn` goes
    through a transaction pooler; None when none is needed. Refuses (ConfigError, exit 2) when one is needed and
    direct_url is not set, before anything runs. Detection costs nothing when no such migration is pending."""
    outside = [m for m in run if m.runs_outside_transaction]
    if not outside:
        return None
    found = pooler.detect(conn, target.url)
    if not found.transaction:
        return None
    m = outside[0]
    if not settings.direct_url:
        raise ConfigError(
            f"{m.tag} must run outside a transaction, and {target.display} goes through a transaction pooler "
            f"({found.name}): its session settings and statements could land on other server connections",
            file=m.path,
            migration=m.tag,
            cause=found.evidence,
            state="nothing was run",
            fix="set direct_url (MIGRAKIT_DIRECT_URL) to a direct or session-pooled URL of the same database "
            "(Supabase: port 5432 instead of 6543; Neon: the host without -pooler); migrakit runs only such "
            "migrations there",
        )
    direct = server.connect(settings.direct_url, autocommit=True)
    try:
        same = (
            direct.execute("SELECT current_database()").fetchone()
            == conn.execute("SELECT current_database()").fetchone()
        )
        pooled = same and pooler.detect(direct, settings.direct_url).transaction
    except BaseException:
        direct.close()
        raise
    if not same or pooled:
        shown = server.redact_url(settings.direct_url)
        direct.close()
        raise ConfigError(
            f"direct_url {shown} "
            + ("names another database" if not same else "goes through a transaction pooler too"),
            migration=m.tag,
            state="nothing was run",
            fix=(
                "set direct_url (MIGRAKIT_DIRECT_URL) to a direct or session-pooled URL "
                "of the same database as DATABASE_URL"
            ),
        )
    return direct


def execute(
    conn: Any,
    p: Plan,
    run: list[Migration],
    options: Options,
    on_event: EventSink = no_event,
    *,
    replan: Callable[[], tuple[Plan, list[Migration]]] | None = None,
    direct: Any = None,
    wait: float = 60.0,
    create_table: bool = False,
) -> tuple[list[str], list[str], Plan]:
    """Record the consolidations proven by hash (no SQL of theirs runs), then apply `run`. (applied, recorded,
    the last plan). When a migration transaction finds its migration applied by another migrator (or another
    migrator's transaction open), `replan` re-reads the tracking table and the run goes on with what is left,
    for at most `wait` seconds. `create_table`: the tracking table is missing; it is created before anything
    runs, by the first pipelined batch when that comes first (executor.Executor), or on its own."""
    applied: list[str] = []
    recorded: list[str] = []
    deadline = time.monotonic() + wait
    while True:
        if not run and not p.recorded_without_running:
            if create_table:  # as Drizzle does, also when nothing runs
                tracking.ensure_table(conn, options.schema, options.table, v1=options.v1, exists=False)
            return applied, recorded, p
        executor = Executor(conn, options, on_event, direct=direct, create_table=create_table)
        create_table = False  # created by this executor before anything else (or it raised)
        try:
            recorded += executor.record(p.recorded_without_running)
            executor.apply(run)
            return applied + executor.applied, recorded, p
        except AppliedElsewhere as err:
            applied += executor.applied
            if replan is None or time.monotonic() > deadline:
                err.state = run_state(err.state, applied, recorded, single_transaction=options.single_transaction)
                raise
            on_event(events.AppliedElsewhereSeen(err.migration or "", err.busy))
            if err.busy:
                time.sleep(REPLAN_PAUSE)
            p, run = replan()
        except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM (errors.Signalled): the statement was cancelled
            raise interrupted(conn, stop, run, applied + executor.applied, recorded, options) from None
        except MigrakitError as err:
            err.state = run_state(
                err.state, applied + executor.applied, recorded, single_transaction=options.single_transaction
            )
            # what this run applied and kept (a fleet reports it per target); --single-transaction keeps nothing
            err.applied_in_run = [] if options.single_transaction else applied + executor.applied
            raise


def interrupted(
    conn: Any, stop: BaseException, run: list[Migration], applied: list[str], recorded: list[str], options: Options
) -> Interrupted:
    """The error of a run stopped by a signal: the statement running was cancelled (psycopg does so when a
    KeyboardInterrupt stops its wait; pipeline.Commands in a pipeline), the migration's transaction is rolled
    back here if it is still open; it names what stayed applied, what was rolled back and what did not run."""
    if not conn.closed and not conn.broken:
        try:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()
        except psycopg.Error:
            conn.close()  # the server rolls back the transaction of a closed session
    m: Migration | None = getattr(stop, "migration", None)
    number: int | None = getattr(stop, "statement", None)
    name = stop.name if isinstance(stop, Signalled) else "SIGINT"
    kept = [] if options.single_transaction else applied
    lost = [t.tag for t in run if t.tag not in kept]
    where = "between migrations"
    if m is not None:
        at = f" at statement {number} of {len(m.statements)}" if number else ""
        where = f"while {m.tag} ran{at}: its statement was cancelled and its transaction rolled back"
    parts = [f"applied and kept in this run: {', '.join(kept) or 'none'}"]
    if lost:
        parts.append(f"not applied (rolled back or not started): {', '.join(lost)}")
    if recorded:
        parts.append(f"recorded without running: {', '.join(recorded)}")
    parts.append("the tracking table holds exactly the migrations kept; no statement of this run is still running")
    err = Interrupted(
        f"interrupted by {name} {where}",
        migration=m.tag if m is not None else None,
        file=m.path if m is not None else None,
        statement_no=number,
        state="; ".join(parts),
        fix="run `inv db.migrate` again: it applies the migrations not applied",
        signum=signal_of(stop),
    )
    err.applied_in_run = kept  # a fleet reports it per target
    return err
