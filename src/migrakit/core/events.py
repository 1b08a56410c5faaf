"""What a run reports while it happens: one frozen dataclass per event, `Event` their union. Pure.

The workflows and the db layer emit instances to an `EventSink` (a callable taking one event); render/run.py's
`Progress` turns them into text, matching on the type. An event carries data, never text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from migrakit.core.migration import Migration


@dataclass(frozen=True)
class TargetChosen:
    """The database the run talks to, redacted for display."""

    display: str


@dataclass(frozen=True)
class LockWait:
    """The migration lock is held by another session; `holder` is (pid, application_name, backend_start) or None."""

    holder: tuple[Any, ...] | None


@dataclass(frozen=True)
class LockAcquired:
    """The migration lock was granted after a wait (not sent when it was free at once)."""


@dataclass(frozen=True)
class TrackingUpgraded:
    """The tracking table got Drizzle 1.0's columns; `rows` rows were named."""

    rows: int


@dataclass(frozen=True)
class Planned:
    """Under the lock: `count` migrations will run (`tags`: which, in order)."""

    count: int
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Queued:
    """Several migrations were sent as one pipelined batch; each gets a `Started` once it has really run."""

    migrations: tuple[Migration, ...]


@dataclass(frozen=True)
class Started:
    """A migration began running (or, pipelined, its first command's result arrived)."""

    migration: Migration
    statements: int


@dataclass(frozen=True)
class StatementDone:
    """Statement `number` (1-based) of a migration that runs outside a transaction completed and was recorded."""

    migration: Migration
    number: int


@dataclass(frozen=True)
class Resumed:
    """A migration that stopped halfway in an earlier run resumes after its `done` completed statements."""

    migration: Migration
    done: int
    statements: int


@dataclass(frozen=True)
class Done:
    """A migration and its tracking row are committed."""

    migration: Migration


@dataclass(frozen=True)
class Recorded:
    """A consolidation's tracking row was written without running it (proven applied by hash)."""

    migration: Migration


@dataclass(frozen=True)
class LockRetry:
    """A migration hit lock_timeout and runs again (`attempt` of `retries`); `migration` is its tag."""

    migration: str
    attempt: int
    retries: int


@dataclass(frozen=True)
class AppliedElsewhereSeen:
    """A migration transaction found another migrator first (`busy`: its transaction was open; else the row is
    tracked): rolled back, the run re-plans. `migration` is the tag."""

    migration: str
    busy: bool


@dataclass(frozen=True)
class DroppedInvalidIndex:
    """The INVALID index `index` (quoted, schema-qualified) an earlier failed CREATE INDEX CONCURRENTLY left was
    dropped."""

    migration: Migration
    index: str


@dataclass(frozen=True)
class IndexAlreadyBuilt:
    """An interrupted run had built the index `index`; the statement is recorded as done without running again."""

    migration: Migration
    index: str


@dataclass(frozen=True)
class DrizzleTransactionEnded:
    """--single-transaction: the file's own COMMIT (`committed`) or ROLLBACK ended the run's transaction."""

    migration: Migration
    committed: bool


@dataclass(frozen=True)
class Finished:
    """The run is over (success or not)."""


Event = (
    TargetChosen | LockWait | LockAcquired | TrackingUpgraded | Planned | Queued | Started | StatementDone | Resumed
    | Done | Recorded | LockRetry | AppliedElsewhereSeen | DroppedInvalidIndex | IndexAlreadyBuilt
    | DrizzleTransactionEnded | Finished
)
EventSink = Callable[[Event], None]


def no_event(_: Event) -> None:
    """The sink that drops every event."""
    return None


# ------------------------------------------------------------------------ a fleet run (workflows/fleet/)
# Emitted from the pool's threads; render/fleet.FleetView draws them. `result` and `report` are the workflow's
# TargetResult and FleetReport (typed there; core does not import workflows).


@dataclass(frozen=True)
class FleetStarted:
    targets: tuple[str, ...]
    concurrency: int


@dataclass(frozen=True)
class TargetStarted:
    target: str


@dataclass(frozen=True)
class TargetRunning:
    """The target started this migration."""

    target: str
    migration: Migration


@dataclass(frozen=True)
class TargetWaits:
    """The target waits for its migration lock (another migrator holds it)."""

    target: str


@dataclass(frozen=True)
class TargetFinished:
    target: str
    result: Any


@dataclass(frozen=True)
class FleetTick:
    """The fleet looked at its running targets (a few times a second): a live view redraws its clocks."""


@dataclass(frozen=True)
class FleetInterrupted:
    """SIGINT or SIGTERM: no other target starts; these are stopped (statement cancelled, migration rolled back)."""

    running: tuple[str, ...]


@dataclass(frozen=True)
class FleetFinished:
    report: Any


FleetEvent = (
    FleetStarted | TargetStarted | TargetRunning | TargetWaits | TargetFinished | FleetTick | FleetInterrupted
    | FleetFinished
)
FleetSink = Callable[[FleetEvent], None]


def no_fleet_event(_: FleetEvent) -> None:
    """The fleet sink that drops every event."""
    return None
