"""Shadow databases: throwaway databases that hold what the migrations produce. [I/O]

A shadow lives on the embedded server by default, or on the server of `--shadow-url` / `shadow_url`
(an admin URL: migrakit creates and drops databases there, e.g. the target's own server, to match its
version and extensions). It is dropped afterwards, also when building it fails.

"All migrations" is what a fresh database gets: `db.migrate` (every Mode 1 and Mode 2 migration), then,
while a legacy folder is configured, `db.bootstrap` (each legacy file in order, one transaction each).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator

from ..workflows import runner
from . import server
from ..sources.legacy import load_legacy
from ..core.settings import Settings
from ..errors import MigrakitError
from ..core.migration import Migration


def shadow_server(settings: Settings) -> str:
    """Admin URL of the server that holds shadow databases."""
    if settings.shadow_url:
        return settings.shadow_url
    return server.resolve_target(replace(settings, database_url=None)).url


@contextmanager
def shadow(settings: Settings) -> Iterator[str]:
    """An empty throwaway database on the shadow server; yields its URL, drops it afterwards."""
    with server.shadow_database(shadow_server(settings)) as url:
        yield url


def legacy_migrations(settings: Settings) -> list[Migration]:
    """The legacy folder's files as `db.bootstrap` runs them (none when no legacy folder is configured)."""
    return list(load_legacy(settings.legacy_dir, settings.root, required=False))


def build(settings: Settings, url: str, *, migrations_dir: Path | None = None) -> None:
    """Apply all migrations to the (empty) database at `url`: `db.migrate`, then `db.bootstrap` when there are
    legacy files (a fresh database gets them in that order too)."""
    target = settings.with_overrides(database_url=url, migrations_dir=str(migrations_dir) if migrations_dir else None)
    with failures_on_shadow():
        runner.migrate(target, allow_empty=True, require_migrations=False)  # replays history (empty migrations included)
        if legacy_migrations(settings):
            runner.bootstrap(target)


@contextmanager
def failures_on_shadow() -> Iterator[None]:
    """A MigrakitError raised while building a shadow says so in its state, and its fix names --shadow-url."""
    try:
        yield
    except MigrakitError as err:
        err.state = "on a shadow database (dropped again); the target database was not touched"
        err.fix = (
            f"{err.fix or 'fix the migration'}; if the shadow server lacks an extension the migrations need, point "
            "--shadow-url (or MIGRAKIT_SHADOW_URL) at a server that has it, e.g. the target's own server"
        )
        raise


def version_note(target_url: str, shadow_url: str) -> str | None:
    """A note when the shadow server's major version differs from the target's (definitions may print
    differently across versions and show up as differences)."""
    with server.connect(target_url) as a, server.connect(shadow_url) as b:
        va, vb = server.server_version(a) // 10000, server.server_version(b) // 10000
    if va == vb:
        return None
    return (
        f"the shadow server runs PostgreSQL {vb}, the target {va}: some differences may only be how each version "
        "prints a definition; use --shadow-url with a server of the target's version to be sure"
    )
