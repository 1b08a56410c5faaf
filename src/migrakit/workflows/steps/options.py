"""What each part of db/ is told, built from the settings (core/options.py's values): db/ never reads Settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from migrakit.core.options import ShadowOptions, TargetOptions, TrackingTable
from migrakit.core.settings import Settings

if TYPE_CHECKING:
    from migrakit.db.run.strategies.base import Options


def target_options(settings: Settings) -> TargetOptions:
    return TargetOptions(settings.database_url, settings.embedded_dir, settings.root, settings.network_timeout)


def tracking_table(settings: Settings) -> TrackingTable:
    return TrackingTable(settings.migrations_schema, settings.migrations_table)


def shadow_options(settings: Settings) -> ShadowOptions:
    return ShadowOptions(settings.shadow_url, settings.embedded_dir)


def ignored_tables(settings: Settings) -> tuple[str, ...]:
    """Tables that are bookkeeping, not schema: the legacy runner's tracking table (left out of comparisons)."""
    return (settings.legacy_table,) if settings.legacy_table else ()


def executor_options(settings: Settings, *, v1: bool, single_transaction: bool = False) -> Options:
    """How the executor runs migrations (db/run/strategies/base.Options). Its module is imported here, on first
    use: db.status never loads the executor."""
    from migrakit.db.run.strategies.base import Options

    return Options(
        schema=settings.migrations_schema,
        table=settings.migrations_table,
        v1=v1,
        single_transaction=single_transaction,
        pipeline=settings.pipeline,
        lock_timeout=settings.lock_timeout,
        statement_timeout=settings.statement_timeout,
        lock_retries=settings.lock_retries,
        search_path=settings.search_path,
    )
