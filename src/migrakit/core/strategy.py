"""The run strategy contract: what one migration run needs from the database. Pure (a Protocol, no driver imported).

Every run strategy in db/run/strategies/ satisfies it (pipelined.Pipelined, plain.Plain, mode2.Mode2,
outside.Outside, drizzle_transaction.SingleTransaction) and so does executor.Executor, which picks one per
migration. tests/integration/test_strategy_conformance.py runs the same scenarios against each on a real server.

What every implementation guarantees:
- `lock` holds the migration lock of the tracking table for the block (one migrator at a time), bounded by
  `timeout` seconds (LockTimeout after that), through any pooler;
- `tracking_rows` reads the tracking table as Drizzle's migrator would ([] before it exists);
- `apply` runs the migrations in order, each with its tracking row (hash and created_at exactly as Drizzle
  writes them) in the transaction that applies it, and each at most once even without the lock (a migration
  found applied or being applied by another migrator raises db.run.guards.AppliedElsewhere, nothing applied);
  it raises on the first failure, the migrations before it staying applied, and returns the tags applied;
- `record` writes the tracking rows of migrations proven applied without running their SQL;
- `applied` lists the tags applied and tracked so far, also after a failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

from migrakit.core.migration import Migration, TrackingRow


@runtime_checkable
class Strategy(Protocol):
    applied: list[str]

    def lock(self, timeout: float) -> AbstractContextManager[object]:
        """Hold the migration lock for the block."""
        ...

    def tracking_rows(self) -> list[TrackingRow]:
        """The tracking table's rows, by id."""
        ...

    def record(self, migrations: Sequence[Migration]) -> list[str]:
        """Write the tracking rows of `migrations` without running them; their tags."""
        ...

    def apply(self, migrations: Sequence[Migration]) -> list[str]:
        """Run `migrations` in order, each with its tracking row; the tags applied so far."""
        ...
