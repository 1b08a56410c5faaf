"""Lock rules: a lock that blocks writes held while work is done under it (taken by the statement itself or by an
earlier one of its transaction), LOCK TABLE, CREATE TRIGGER, and locks taken with lock_timeout off. Judged on
what the lint probe measured (pg_locks, scans, rewrites, rows written), so a DO block is judged too. Pure.
Cases: tests/lint_cases/locking/."""

from __future__ import annotations

from collections.abc import Iterator

from migrakit.core.lint.rule import ERROR, WARNING, Finding, Rule, Seen
from migrakit.core.postgres.actions import LOCK_MODES, WRITE_BLOCKING

LOCK_HELD_DURING_WORK = Rule(
    "lock-held-during-work",
    ERROR,
    "a lock that blocks writes is held while the statement scans, rewrites or writes a table with rows",
    "split the migration where the lock is taken: end it after the statement that takes the lock, and move the "
    "work into a migration of its own (the lock is released at COMMIT)",
    "a lock lasts until COMMIT: every write to the locked table waits while the work runs, however short the "
    "statement that took the lock was",
)
LOCK_TABLE = Rule(
    "lock-table",
    WARNING,
    "LOCK TABLE in a mode that blocks writes",
    "leave locking to the statements that need it; if the lock is needed, keep the migration to that one "
    "statement and a short lock_timeout",
    "the lock lasts until COMMIT: everything after it in the migration runs while writes to the table wait",
)
CREATE_TRIGGER = Rule(
    "create-trigger",
    WARNING,
    "CREATE TRIGGER on a table with rows",
    "create the trigger in a migration of its own with a short lock_timeout (retried), after the function it "
    "calls; make the function cheap, it runs on every write from then on",
    "the trigger takes ShareRowExclusiveLock on the table: writes wait for it (and behind any long query on the "
    "table), and the function then runs inside every write",
)
MISSING_LOCK_TIMEOUT = Rule(
    "missing-lock-timeout",
    WARNING,
    "lock taken with migrakit's lock_timeout disabled",
    "set lock_timeout (e.g. '5s', the default) in [tool.migrakit] or MIGRAKIT_LOCK_TIMEOUT, or SET "
    "lock_timeout at the top of the migration",
    "a lock that waits behind a long query queues every later query on the table behind it: without a bound "
    "the wait can take the application down",
    scales=False,
)
RULES = (LOCK_HELD_DURING_WORK, LOCK_TABLE, CREATE_TRIGGER, MISSING_LOCK_TIMEOUT)
_QUIET = frozenset({MISSING_LOCK_TIMEOUT.id, "suppression-without-reason", "unknown-rule"})  # say nothing of work


def check(seen: Seen) -> Iterator[Finding]:
    for a in seen.actions:
        rel = a.relation
        if a.kind == "lock_table" and seen.existing(rel) and a.lock in WRITE_BLOCKING:
            yield seen.finding(
                LOCK_TABLE,
                f"LOCK TABLE {rel}{seen.size(rel)} takes {a.lock}: writes wait until the migration commits",
                rel,
            )
        elif a.kind == "create_trigger" and seen.existing(rel) and seen.has_rows(rel):
            yield seen.finding(
                CREATE_TRIGGER,
                f"CREATE TRIGGER {a.detail['name']} takes ShareRowExclusiveLock on {rel}{seen.size(rel)}",
                rel,
            )
    yield from _held_during_work(seen)
    if seen.target.lock_timeout_disabled and not seen.timeout_set:
        blocking = sorted({r for r, mode in seen.measured.locks if mode in WRITE_BLOCKING and seen.existing(r)})
        if blocking:
            yield seen.finding(
                MISSING_LOCK_TIMEOUT,
                f"takes a lock that blocks writes on {', '.join(blocking)} with no lock_timeout: it may queue all "
                "traffic behind a long query",
            )


def work(seen: Seen) -> dict[str, str]:
    """Tables with rows on the target this statement read whole, rewrote or wrote rows of (measured): relation ->
    what it did. A single-row INSERT ... VALUES and index lookups are not work."""
    m = seen.measured
    if not seen.measured_ok:
        return {}
    out: dict[str, str] = {}
    for r in m.seq_scans:
        out[r] = "scans"
    for r in m.rewrites:
        if r not in m.indexes:
            out[r] = "rewrites"
    values_only = any(a.kind == "insert" and a.detail.get("values") for a in seen.actions)
    for r, n in m.writes.items():
        if n > 0 and not values_only and out.get(r) != "rewrites":
            out[r] = f"writes {n} row(s) of"
    return {r: what for r, what in out.items() if seen.existing(r) and seen.has_rows(r)}


def _held_during_work(seen: Seen) -> Iterator[Finding]:
    done = work(seen)
    if not done or any(a.kind == "refresh_matview" for a in seen.actions):  # the view's lock: tables.py's rule
        return
    strongest: dict[str, str] = {}
    for r, mode in seen.measured.held:
        stronger = r not in strongest or LOCK_MODES.index(mode) > LOCK_MODES.index(strongest[r])
        if mode in WRITE_BLOCKING and seen.existing(r) and seen.has_rows(r) and stronger:
            strongest[r] = mode
    if not strongest:
        return
    takers: dict[int, list[tuple[str, str]]] = {}
    for r, mode in sorted(strongest.items()):
        takers.setdefault(seen.taker(r, mode), []).append((r, mode))
    doing = " and ".join(f"{what} {r}{seen.size(r)}" for r, what in done.items())
    earlier = sorted(i for i in takers if i != seen.index)
    if earlier:
        by = earlier[0]
        locks = "; ".join(f"{mode} on {r}" for r, mode in takers[by])
        yield seen.finding(
            LOCK_HELD_DURING_WORK,
            f"holds {locks}, taken by {seen.statement(by)}, while it {doing}: writes to the locked table(s) wait "
            "until the migration commits",
            takers[by][0][0],
            fix=_split_fix(seen, by),
        )
    elif seen.index in takers and not [f for f in seen.fired if f.rule not in _QUIET]:
        locks = "; ".join(f"{mode} on {r}" for r, mode in takers[seen.index])
        inside = " (measured inside its DO block)" if any(a.kind == "do" for a in seen.actions) else ""
        yield seen.finding(
            LOCK_HELD_DURING_WORK,
            f"takes {locks} and {doing}{inside}: writes to the locked table(s) wait until it is done",
            takers[seen.index][0][0],
            fix="find the form that takes a weaker lock (CONCURRENTLY, NOT VALID then VALIDATE), or run it in a "
            "maintenance window",
        )


def _split_fix(seen: Seen, by: int) -> str:
    kinds = {a.kind for a in seen.actions}
    if "validate_constraint" in kinds:
        return (f"end the migration after statement {by}: put VALIDATE CONSTRAINT in a migration of its own, where "
                "it takes only ShareUpdateExclusiveLock and writes go on during its scan")  # fmt: skip
    if kinds & {"update", "delete", "insert", "merge"}:
        return (f"move statement {seen.index} (the backfill) into a migration of its own after statement {by}'s "
                "has committed, and write the rows in batches, each committed")  # fmt: skip
    return (f"move statement {seen.index} into a later migration, so the lock statement {by} took is released at "
            "COMMIT before this work starts")  # fmt: skip
