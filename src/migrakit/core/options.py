"""What db/ is told by the layers above it, as small immutable values: workflows/ build them from
core/settings.Settings (workflows/steps/options.py), so db/ never reads Settings and each part of it receives only
what it uses. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from migrakit.core.drizzle.naming import quoted_table

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class TrackingTable:
    """Drizzle's tracking table: its schema and name (the `migrations_schema` and `migrations_table` settings)."""

    schema: str
    name: str

    @property
    def shown(self) -> str:
        """As messages name it: `"drizzle"."__drizzle_migrations"`."""
        return quoted_table(self.schema, self.name)


@dataclass(frozen=True)
class TargetOptions:
    """Which database a command works on: `database_url` when set, else the embedded server whose data lives in
    `embedded_dir` (shown relative to the project's `root`); `network_timeout`: the seconds a silent server is given
    to answer (the `network_timeout` setting)."""

    database_url: str | None
    embedded_dir: Path
    root: Path
    network_timeout: float


@dataclass(frozen=True)
class ShadowOptions:
    """Where shadow databases are made: on the server of `shadow_url` (an admin URL), else on the embedded server
    whose data lives in `embedded_dir`."""

    shadow_url: str | None
    embedded_dir: Path
