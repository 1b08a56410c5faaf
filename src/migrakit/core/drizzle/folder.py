"""A Mode 1 folder as data: its path, layout and migrations. Pure (sources/folders.py reads it from disk)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from migrakit.core.drizzle.journal import Journal
from migrakit.core.migration import Layout, Migration

if TYPE_CHECKING:
    from pathlib import Path

JOURNAL, V1, EMPTY = Layout.JOURNAL, Layout.V1, Layout.EMPTY


@dataclass(frozen=True)
class Folder:
    """A Mode 1 folder as read from disk."""

    path: Path  # Path for its readers (sources/, workflows/); nothing here touches it
    layout: Layout
    migrations: tuple[Migration, ...]
    journal: Journal | None = None
    orphans: tuple[str, ...] = ()  # .sql files no journal entry names (Drizzle ignores them)
    warnings: tuple[str, ...] = field(default=())
