"""What each part of db/ is told, built from the settings (core/options.py's values): db/ never reads Settings."""

from __future__ import annotations

from migrakit.core.options import ShadowOptions, TrackingTable
from migrakit.core.settings import Settings


def tracking_table(settings: Settings) -> TrackingTable:
    return TrackingTable(settings.migrations_schema, settings.migrations_table)


def shadow_options(settings: Settings) -> ShadowOptions:
    return ShadowOptions(settings.shadow_url, settings.embedded_dir)


def ignored_tables(settings: Settings) -> tuple[str, ...]:
    """Tables that are bookkeeping, not schema: the legacy runner's tracking table (left out of comparisons)."""
    return (settings.legacy_table,) if settings.legacy_table else ()
