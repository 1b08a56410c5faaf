"""Connections and databases: the one module that opens connections to PostgreSQL. [I/O]

The target is `DATABASE_URL` when set, else the embedded PostgreSQL (db/connect/embedded.py, the `migrakit[embedded]`
extra) whose data lives in `.migrakit/`. The embedded server is started once and left running, so the next command
(in another process) reuses it. URLs and passwords never leave this module unredacted: use `redact_url` /
`redact_text` for anything that is printed.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from migrakit.core import redact
from migrakit.db.connect import answer, stop
from migrakit.errors import ConfigError, DatabaseUnavailable

_FIX_URL = "check DATABASE_URL (host, port, user, password, database) or unset it to use the embedded database"

# ------------------------------------------------------------------------------------------ redaction
# The rules live in core/redact.py (pure); this layer gives them libpq's own parse of each connection string
# (psycopg's conninfo_to_dict) and the process's command line and environment.
def redact_url(url: str) -> str:
    """`url` as it may be printed: core.redact.shown_url with libpq's parse."""
    return redact.shown_url(url, conninfo_to_dict)


def redact_text(text: str, urls: Iterable[str] = (), *, short_in_quotes: bool = True) -> str:
    """`text` with `urls` (and the process's own URLs) redacted and every password piece masked:
    core.redact.redact_all with libpq's parse, this process's arguments and environment."""
    return redact.redact_all(
        text, urls, parse=conninfo_to_dict, argv=sys.argv, env=os.environ, short_in_quotes=short_in_quotes
    )


def check_url(url: str, what: str = "database URL") -> None:
    """ConfigError (exit 2) before any connection for a URL libpq would misread: another database's scheme, a
    string libpq cannot parse, or an unencoded `@` or `/` in the password. Never echoes the string."""
    shown = redact_url(url)
    s = redact.scheme(url)
    if s is not None and s not in redact.POSTGRES_SCHEMES:
        raise ConfigError(
            f"the {what} is a {s}:// URL ({shown}), not a PostgreSQL one",
            state="nothing was run (the database was not contacted)",
            fix="use postgresql://<user>:<password>@<host>:<port>/<database> (or postgres://); "
            "migrakit only migrates PostgreSQL",
        )
    try:
        conninfo_to_dict(url)
    except Exception as exc:
        raise ConfigError(
            f"malformed {what} {shown}",
            cause=_QUOTED_VALUE.sub(
                '"…"', str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            ),
            state="nothing was run (the database was not contacted)",
            fix="use postgresql://<user>:<password>@<host>:<port>/<database> (percent-encode special characters in the "
            "password: @ as %40, / as %2F, % as %25) or a key=value string (host=... dbname=... password='...')",
        ) from None
    if redact.misread_userinfo(url):
        raise ConfigError(
            f"the password in the {what} {shown} holds an unencoded @ or /",
            cause="libpq ends the password at the first @ or / and reads the rest as the host, port or database",
            state="nothing was run (the database was not contacted)",
            fix="percent-encode the password's special characters: @ as %40, / as %2F, % as %25 "
            "(python -c 'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=\"\"))' PASSWORD)",
        )


_QUOTED_VALUE = re.compile(r"\"[^\"]*\"|'[^']*'")


# ------------------------------------------------------------------------------------------ connecting
# libpq's TCP keepalives (client side: no server setting, so nothing stays on a pooled server connection): a
# migrator on a silent network notices within about a minute. Options the URL sets itself win.
KEEPALIVES = {"keepalives": "1", "keepalives_idle": "30", "keepalives_interval": "10", "keepalives_count": "3"}
# libpq's tcp_user_timeout (milliseconds): data sent and not acknowledged for this long ends the connection (a
# network that died while migrakit sends; the kernel's own limit is about 15 min). The keepalives' own bound.
# Only on Linux 5.11 and later: earlier kernels count a zero window (a server busy with a long statement while
# a pipelined batch waits to be read) against it, which would cut a long migration short.
TCP_USER_TIMEOUT = {"tcp_user_timeout": "60000"}


def _kernel_counts_zero_window(system: str, release: str) -> bool:
    """Whether TCP_USER_TIMEOUT would also end a connection whose peer only keeps its window closed (Linux
    before 5.11); other systems ignore libpq's tcp_user_timeout."""
    if system != "Linux":
        return True
    try:
        major, minor = (int(part) for part in re.findall(r"\d+", release)[:2])
    except ValueError:
        return True
    return (major, minor) < (5, 11)


def _defaults() -> dict[str, str]:
    import platform

    if _kernel_counts_zero_window(platform.system(), platform.release()):
        return KEEPALIVES
    return {**KEEPALIVES, **TCP_USER_TIMEOUT}


_DEFAULTS = _defaults()


def _keepalives(url: str) -> dict[str, Any]:
    try:
        given = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return {}  # connect reports the malformed URL
    return {k: v for k, v in _DEFAULTS.items() if k not in given}


_SETTING_REFUSED = re.compile(
    r'invalid value for parameter|unrecognized configuration parameter|invalid command-line argument for server'
    r'|parameter "[^"]*" cannot be (changed|set)|invalid \w+ value: "|invalid integer value "|could not match \d+ port'
)


def _diagnose(message: str) -> tuple[str, str]:
    """(what went wrong, fix) for a libpq connection failure. libpq gives no SQLSTATE before the
    session exists, so this is the one place that reads message text."""
    low = message.lower()
    if re.search(r'database "[^"]*" does not exist', low):
        return "the database does not exist", "create it (CREATE DATABASE) or fix the database name; " + _FIX_URL
    if re.search(r'authentication failed|no password supplied|pg_hba\.conf|role "[^"]*" does not exist', low):
        return "authentication failed", (
            "check the user and password in DATABASE_URL, or unset it to use the embedded database"
        )
    if "permission denied for database" in low:
        return "permission denied", "GRANT CONNECT on the database to the role; " + _FIX_URL
    if "timeout expired" in low or "timed out" in low:  # not "lock_timeout" in a refused setting's message
        return "the server did not answer in time", "check that the server is running and reachable; " + _FIX_URL
    return "the server is unreachable", "check that the server is running and reachable; " + _FIX_URL


# Client-side TCP keepalives and tcp_user_timeout (libpq parameters; ignored on unix sockets): while migrakit
# waits for a result, a server or network that went silent is noticed after about idle + interval * count = 60 s,
# and the wait ends with a lost-connection error (exit 6). A live server answers the probes, so a long statement
# is not cut short. Parameters the URL sets itself win. A network frozen with TCP alive answers them all: every
# wait is also watched by answer.py (network_timeout).
def connect(
    url: str,
    *,
    autocommit: bool = False,
    application_name: str = "migrakit",
    connect_timeout: int = 10,
) -> psycopg.Connection:
    """Open a connection (no server-side prepared statements), with `connect_timeout`, TCP keepalives
    (`KEEPALIVES`, `TCP_USER_TIMEOUT`) and every wait bounded (answer.py). Failures raise DatabaseUnavailable
    (ConfigError for a malformed URL) whose text never contains the password."""
    check_url(url)
    try:
        conn = answer.open_watched(
            url,
            autocommit=autocommit,
            application_name=application_name,
            connect_timeout=connect_timeout,
            prepare_threshold=None,
            **_keepalives(url),
        )
        stop.opened(conn)  # a fleet's target thread: a signal cancels its statements (stop.py)
        return conn
    except psycopg.OperationalError as exc:
        cause = redact_text(str(exc).strip(), [url])
        # libpq or the server refused a parameter: a setting to fix, not a network problem
        if _SETTING_REFUSED.search(str(exc)):
            raise ConfigError(
                f"cannot connect to {redact_url(url)}: a connection parameter or setting was refused",
                cause=cause,
                state="nothing was run",
                fix="fix the parameter named above in the URL's query (sslmode, options=-c name=value, ...) or in "
                "PGOPTIONS / PGSSLMODE; `SHOW name` on any session lists a setting's valid values",
            ) from None
        what, fix = _diagnose(str(exc))
        # `from None`: the driver's message may echo the URL; the redacted text is in `cause`.
        raise DatabaseUnavailable(f"cannot connect to {redact_url(url)}: {what}", cause=cause, fix=fix) from None
    except psycopg.ProgrammingError as exc:  # the URL/DSN itself does not parse
        raise ConfigError(
            f"malformed database URL {redact_url(url)}",
            cause=_QUOTED_VALUE.sub('"…"', str(exc).strip()),  # libpq quotes the piece it could not read
            fix="use postgresql://<user>:<password>@<host>:<port>/<database> (percent-encode special characters)",
        ) from None


def conninfo(conn: psycopg.Connection[Any]) -> str:
    """The conninfo of `conn`, password included, to open another connection like it (the lock's, the lock
    watch's, the pooler probe's, the failpoint's)."""
    info = conn.info
    return psycopg.conninfo.make_conninfo(info.dsn, password=info.password) if info.password else info.dsn


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


def create_database(url: str, name: str, template: str | None = None, *, throwaway: bool = False) -> str:
    """CREATE DATABASE `name` (optionally from `template`) on `url`'s server; return its URL. A `throwaway` one
    commits without waiting for its WAL to reach the disk (nothing in it must survive a crash)."""
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with connect(url, autocommit=True) as conn:
        try:
            conn.execute(query)
            if throwaway:
                conn.execute(sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(sql.Identifier(name)))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise DatabaseUnavailable(
                f"cannot create database {name!r} on {redact_url(url)}: permission denied",
                cause=redact_text(str(exc).strip(), [url]),
                fix="grant CREATEDB to the role in DATABASE_URL, or unset it to use the embedded database",
            ) from None
    return with_database(url, name)


DROP_SECONDS = 120  # a bound for a drop the caller does not wait for (the server's statement_timeout)


def drop_database(url: str, name: str, *, wait: bool = True) -> None:
    """DROP DATABASE IF EXISTS `name` WITH (FORCE): ends its sessions first (PostgreSQL 13+). Without `wait`, the
    statement is sent and the connection closed: the server finishes the drop on its own (bounded by
    statement_timeout) while the caller goes on (the drop's checkpoint can take a second on a busy server)."""
    query = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    if wait:
        with connect(url, autocommit=True) as conn:
            conn.execute(query)
        return
    conn = connect(url, autocommit=True)
    try:
        conn.execute(f"SET statement_timeout = '{DROP_SECONDS}s'")
        conn.pgconn.send_query(query.as_bytes(conn))
        deadline = time.monotonic() + 10
        while conn.pgconn.flush() and time.monotonic() < deadline:  # the query is in the server's hands once sent
            time.sleep(0.001)
    finally:
        conn.close()  # not `with`: its exit would wait for the drop's result


@contextmanager
def shadow_database(url: str, prefix: str = "migrakit_shadow", *, wait_drop: bool = True) -> Iterator[str]:
    """A throwaway empty database on `url`'s server; yields its URL and drops it afterwards (without waiting for
    the server to finish, when not `wait_drop`)."""
    import uuid  # here: the read-only commands never make a shadow database

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    shadow_url = create_database(url, name, throwaway=True)
    try:
        yield shadow_url
    finally:
        drop_database(url, name, wait=wait_drop)
