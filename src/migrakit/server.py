"""Connections and databases: the one module that opens connections to PostgreSQL. [I/O]

The target is `DATABASE_URL` when set, else an embedded PostgreSQL (the `pgserver` package) whose data
lives in `.migrakit/`. The embedded server is started once and left running, so the next command (in
another process) reuses it. URLs and passwords never leave this module unredacted: use `redact_url` /
`redact_text` for anything that is printed.
"""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator
from urllib.parse import quote, unquote

import psycopg
from psycopg import sql

from .errors import ConfigError, DatabaseUnavailable

if TYPE_CHECKING:
    from .config import Settings

EMBEDDED_DATABASE = "migrakit"
MASK = "***"
_FIX_URL = "check DATABASE_URL (host, port, user, password, database) or unset it to use the embedded database"

# ------------------------------------------------------------------------------------------ redaction
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&#\s]*)", re.IGNORECASE)
_KV_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'&]+)", re.IGNORECASE)
_ANY_URL_PASSWORD = re.compile(r"(postgres(?:ql)?://[^\s:/@'\"]*:)([^\s'\"]+)(@)", re.IGNORECASE)


def _userinfo_password_span(url: str) -> tuple[int, int] | None:
    """(start, end) of the password in `scheme://user:password@host...`, or None.

    The userinfo ends at the last `@` before the query (a password may hold an unencoded `@`)."""
    m = _SCHEME.match(url)
    if not m:
        return None
    start, query = m.end(), url.find("?", m.end())
    at = url.rfind("@", start, query if query >= 0 else len(url))
    if at < 0:
        at = url.rfind("@", start)
    colon = url.find(":", start, at) if at >= 0 else -1
    return (colon + 1, at) if colon >= 0 else None


def _passwords(url: str) -> set[str]:
    """Every non-empty password in `url` (URL or key=value DSN), as written and percent-decoded."""
    found: set[str] = set()
    span = _userinfo_password_span(url)
    if span:
        found.add(url[span[0] : span[1]])
    pattern = _QUERY_PASSWORD if _SCHEME.match(url) else _KV_PASSWORD
    for m in pattern.finditer(url):
        value = m.group(2)
        if value.startswith("'") and value.endswith("'") and len(value) >= 2:
            found.add(value)
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        found.add(value)
    found |= {unquote(p) for p in found}
    return {p for p in found if p}


def redact_url(url: str) -> str:
    """`url` with its password (userinfo, `?password=`, or `password=` in a key=value DSN) as `***`."""
    try:
        if _SCHEME.match(url):
            span = _userinfo_password_span(url)
            if span and span[1] > span[0]:
                url = url[: span[0]] + MASK + url[span[1] :]
            return _QUERY_PASSWORD.sub(lambda m: m.group(1) + MASK, url)
        return _KV_PASSWORD.sub(lambda m: m.group(1) + MASK, url)
    except Exception:  # never let redaction be the thing that fails
        return "<url hidden>"


def redact_text(text: str, urls: Iterable[str] = ()) -> str:
    """`text` with each of `urls` redacted, their passwords masked wherever they appear, and any
    `postgres(ql)://user:password@` or `password=...` scrubbed."""
    urls = [u for u in urls if u]
    secrets: set[str] = set()
    for url in sorted(urls, key=len, reverse=True):
        secrets |= _passwords(url)
        text = text.replace(url, redact_url(url))
    text = _ANY_URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), text)
    text = _KV_PASSWORD.sub(lambda m: m.group(1) + MASK, text)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


# ------------------------------------------------------------------------------------------ connecting
def _diagnose(message: str) -> tuple[str, str]:
    """(what went wrong, fix) for a libpq connection failure. libpq gives no SQLSTATE before the
    session exists, so this is the one place that reads message text."""
    low = message.lower()
    if re.search(r'database "[^"]*" does not exist', low):
        return "the database does not exist", "create it (CREATE DATABASE) or fix the database name; " + _FIX_URL
    if re.search(r'authentication failed|no password supplied|pg_hba\.conf|role "[^"]*" does not exist', low):
        return "authentication failed", "check the user and password in DATABASE_URL, or unset it to use the embedded database"
    if "permission denied for database" in low:
        return "permission denied", "GRANT CONNECT on the database to the role; " + _FIX_URL
    if "timeout" in low:
        return "the server did not answer in time", "check that the server is running and reachable; " + _FIX_URL
    return "the server is unreachable", "check that the server is running and reachable; " + _FIX_URL


# Client-side TCP keepalives (libpq parameters; ignored on unix sockets): while migrakit waits for a result, a
# server or network that went silent is noticed after about idle + interval * count = 60 s, and the wait ends
# with a lost-connection error (exit 6). A live server answers the probes, so a long statement is not cut short.
# Parameters the URL sets itself win.
KEEPALIVES = {"keepalives": "1", "keepalives_idle": "30", "keepalives_interval": "10", "keepalives_count": "3"}


def connect(
    url: str,
    *,
    autocommit: bool = False,
    application_name: str = "migrakit",
    connect_timeout: int = 10,
) -> psycopg.Connection:
    """Open a connection (no server-side prepared statements), with `connect_timeout` and TCP keepalives
    (`KEEPALIVES`). Failures raise DatabaseUnavailable (ConfigError for a malformed URL) whose text never
    contains the password."""
    try:
        given = psycopg.conninfo.conninfo_to_dict(url)
        return psycopg.connect(
            url,
            autocommit=autocommit,
            application_name=application_name,
            connect_timeout=connect_timeout,
            prepare_threshold=None,
            **{k: v for k, v in KEEPALIVES.items() if k not in given},
        )
    except psycopg.OperationalError as exc:
        what, fix = _diagnose(str(exc))
        cause = redact_text(str(exc).strip(), [url])
        # `from None`: the driver's message may echo the URL; the redacted text is in `cause`.
        raise DatabaseUnavailable(f"cannot connect to {redact_url(url)}: {what}", cause=cause, fix=fix) from None
    except psycopg.ProgrammingError as exc:  # the URL/DSN itself does not parse
        raise ConfigError(
            f"malformed database URL {redact_url(url)}",
            cause=redact_text(str(exc).strip(), [url]),
            fix="use postgresql://user:password@host:port/database (percent-encode special characters)",
        ) from None


def server_version(conn: psycopg.Connection) -> int:
    """The server's version number, e.g. 160002 for 16.2."""
    return conn.info.server_version


# ------------------------------------------------------------------------------------------ databases
_URL_PARTS = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)(?P<path>/[^?#]*)?(?P<tail>[?#].*)?", re.S)


def with_database(url: str, dbname: str) -> str:
    """The URL of database `dbname` on the same server, with the same user and options."""
    m = _URL_PARTS.fullmatch(url)
    if not m:  # key=value DSN
        return psycopg.conninfo.make_conninfo(url, dbname=dbname)
    tail = m.group("tail") or ""
    if re.search(r"[?&]dbname=", tail):  # a query `dbname` wins over the path in libpq
        tail = re.sub(r"([?&]dbname=)[^&#]*", lambda q: q.group(1) + quote(dbname, safe=""), tail)
    return f"{m.group('head')}/{quote(dbname, safe='')}{tail}"


def create_database(url: str, name: str, template: str | None = None) -> str:
    """CREATE DATABASE `name` (optionally from `template`) on `url`'s server; return its URL."""
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with connect(url, autocommit=True) as conn:
        try:
            conn.execute(query)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise DatabaseUnavailable(
                f"cannot create database {name!r} on {redact_url(url)}: permission denied",
                cause=redact_text(str(exc).strip(), [url]),
                fix="grant CREATEDB to the role in DATABASE_URL, or unset it to use the embedded database",
            ) from None
    return with_database(url, name)


def drop_database(url: str, name: str) -> None:
    """DROP DATABASE IF EXISTS `name` WITH (FORCE): ends its sessions first (PostgreSQL 13+)."""
    with connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def shadow_database(url: str, prefix: str = "migrakit_shadow") -> Iterator[str]:
    """A throwaway empty database on `url`'s server; yields its URL and drops it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    shadow_url = create_database(url, name)
    try:
        yield shadow_url
    finally:
        drop_database(url, name)


# ------------------------------------------------------------------------------------------ target
@dataclass(frozen=True)
class Target:
    """Where migrations go. `display` is safe to print."""

    url: str
    embedded: bool
    display: str


def resolve_target(settings: Settings) -> Target:
    """`settings.database_url` when set; else the embedded server in `settings.embedded_dir`
    (started if needed, left running) and its `migrakit` database (created if missing)."""
    if settings.database_url:
        return Target(settings.database_url, False, redact_url(settings.database_url))
    folder = Path(settings.embedded_dir)
    try:
        shown = folder.resolve().relative_to(Path(settings.root).resolve())
    except ValueError:
        shown = folder
    url = _embedded_url(folder)
    return Target(url, True, f"{redact_url(url)} (embedded, data in {shown}/)")


def _embedded_url(folder: Path) -> str:
    pgdata = folder / "pgdata"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        gitignore = folder / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("# migrakit's embedded PostgreSQL; never commit it\n*\n", encoding="utf-8")
        pgdata.mkdir(exist_ok=True)  # pgserver's own mkdir races with a second process
        _remove_stale_pidfile(pgdata)
        import warnings

        with warnings.catch_warnings():  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import pgserver

        admin = pgserver.get_server(pgdata, cleanup_mode=None).get_uri()  # stays up after we exit
    except ImportError as exc:
        raise ConfigError(
            "no database: DATABASE_URL is not set and the embedded server (pgserver) is not installed",
            cause=str(exc),
            fix="set DATABASE_URL, or `pip install pgserver`",
        ) from exc
    except Exception as exc:  # initdb / pg_ctl / permissions: an environment problem, not a bug
        raise DatabaseUnavailable(
            f"cannot start the embedded PostgreSQL in {pgdata}",
            cause=f"{type(exc).__name__}: {exc}".strip(),
            fix=f"see the server log {pgdata / 'log'}; delete {folder} to start over, or set DATABASE_URL",
        ) from exc
    try:
        with connect(admin, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (EMBEDDED_DATABASE,)).fetchone():
                try:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(EMBEDDED_DATABASE)))
                except psycopg.errors.DuplicateDatabase:  # another process was faster
                    pass
    except DatabaseUnavailable as err:
        err.fix = f"stop the server (pg_ctl -D {pgdata} stop) or delete {folder} to start over, or set DATABASE_URL"
        raise
    return with_database(admin, EMBEDDED_DATABASE)


def _remove_stale_pidfile(pgdata: Path) -> None:
    """Delete postmaster.pid when its pid now belongs to a process that is not postgres (pid reuse
    after a reboot or container restart); pgserver would take that process for the server."""
    pidfile = pgdata / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return
    import psutil  # a dependency of pgserver

    try:
        if psutil.Process(pid).name() != "postgres":
            pidfile.unlink()
    except psutil.Error:  # no such process: pgserver and postgres handle a dead pid themselves
        pass
