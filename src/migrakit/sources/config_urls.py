"""The database URLs of the settings (database_url, shadow_url, direct_url) checked as libpq reads them, with the
libpq environment variables that apply to them: unknown keywords, values libpq would refuse, settings in `options`
the server would refuse. Messages never echo the URL (it may hold a password)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from migrakit.core.postgres import pgvalues
from migrakit.errors import ConfigError
from migrakit.sources.config_keys import STATE, did_you_mean

# libpq's keywords with a fixed set of values (compared case-sensitively, as libpq does).
_URL_CHOICES: dict[str, tuple[str, ...]] = {
    "sslmode": ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    "gssencmode": ("disable", "prefer", "require"),
    "channel_binding": ("disable", "prefer", "require"),
    "target_session_attrs": ("any", "read-write", "read-only", "primary", "standby", "prefer-standby"),
    "load_balance_hosts": ("disable", "random"),
    "sslcertmode": ("disable", "allow", "require"),
    "sslnegotiation": ("postgres", "direct"),
}
# libpq environment variables for those keywords and `options`: libpq uses them when the URL does not set the key.
_PG_ENV = {"sslmode": "PGSSLMODE", "gssencmode": "PGGSSENCMODE", "channel_binding": "PGCHANNELBINDING",
           "target_session_attrs": "PGTARGETSESSIONATTRS", "load_balance_hosts": "PGLOADBALANCEHOSTS",
           "sslcertmode": "PGSSLCERTMODE", "sslnegotiation": "PGSSLNEGOTIATION", "options": "PGOPTIONS"}  # fmt: skip
# Server settings someone may put in `options`, for "did you mean" (the server itself refuses unknown names).
_COMMON_SETTINGS = (
    *pgvalues.DURATION_SETTINGS, "search_path", "application_name", "default_transaction_read_only",
    "transaction_read_only", "default_transaction_isolation", "work_mem", "maintenance_work_mem", "timezone",
    "datestyle", "client_encoding", "role", "synchronous_commit", "jit", "client_min_messages", "row_security",
    "default_tablespace", "temp_buffers", "check_function_bodies", "session_replication_role", "log_statement",
    "log_min_duration_statement", "deadlock_timeout", "extra_float_digits", "intervalstyle", "plan_cache_mode",
    "max_parallel_workers_per_gather", "default_toast_compression", "lc_messages", "standard_conforming_strings",
    "bytea_output",
)  # fmt: skip
_BOOL_SETTINGS = (
    "default_transaction_read_only", "transaction_read_only", "jit", "row_security", "check_function_bodies",
)  # fmt: skip
_GUC_NAME = re.compile(r"[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)*")


def _libpq_keywords() -> frozenset[str]:
    from psycopg import pq

    return frozenset(o.keyword.decode() for o in pq.Conninfo.get_defaults())


def _written_keys(url: str) -> list[tuple[str, str]]:
    """(keyword, value) pairs as written in a URL's query or a key=value DSN (without validating anything)."""
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", url):
        from urllib.parse import parse_qsl, urlsplit

        try:
            return parse_qsl(urlsplit(url).query, keep_blank_values=True)
        except ValueError:
            return []
    return [(m.group(1), m.group(2)) for m in re.finditer(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\S*)", url)]


def check_url(name: str, url: str, origin: str, env: Mapping[str, str]) -> None:
    """The connection parameters of `url` (the one named `name`, from `origin`), and the libpq environment
    variables that apply to it: unknown keywords, values libpq would refuse, settings in `options` the server
    would refuse. A URL that does not parse at all is left to the connection, which says so without echoing it.
    Messages name the parameter and where the URL came from, never the URL itself (it may hold a password)."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    shown = origin if origin.startswith(("environment", "option", "Invoke")) else f"{name} ({origin})"
    try:
        params = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    except ProgrammingError:
        known = _libpq_keywords()
        for key, value in _written_keys(url):
            if key not in known and not (key == "ssl" and value == "true") and key != "password":
                guess = did_you_mean(key, known)
                raise ConfigError(
                    f"{name} ({shown}) has a connection parameter libpq does not know: {key!r}"
                    + (f"; did you mean {guess!r}?" if guess else ""),
                    state=STATE,
                    fix=(f"rename {key} to {guess}" if guess else f"remove {key}")
                    + " (the parameters are listed in PostgreSQL's libpq documentation, 'Parameter Key Words')",
                ) from None
        return  # malformed in another way: the connection reports it (redacted)
    sources = {key: (value, f"in {shown}") for key, value in params.items()}
    for key, var in _PG_ENV.items():
        if key not in sources and env.get(var):
            sources[key] = (env[var], f"environment variable {var}")
    for key, choices in _URL_CHOICES.items():
        if key in sources and sources[key][0] not in choices:
            value, where = sources[key]
            guess = did_you_mean(value.lower(), choices, cutoff=0.5)
            raise ConfigError(
                f"{key}={value!r} ({where}) is not a value libpq accepts"
                + (f"; did you mean {guess!r}?" if guess else ""),
                state=STATE,
                fix=f"use one of {', '.join(choices)} (lower case)",
            )
    if "options" in sources:
        _check_options(*sources["options"])


def _check_options(options: str, where: str) -> None:
    """`-c name=value` settings in libpq's `options`: the name's spelling, the value of durations and booleans."""
    fix_tail = "options take `-c name=value` settings separated by spaces, e.g. options=-c%20lock_timeout%3D5s in a URL"
    settings, stray = pgvalues.option_settings(options)
    if stray is not None:
        raise ConfigError(
            f"options {options!r} ({where}) has an argument the server would refuse: {stray!r}",
            state=STATE,
            fix="a space inside a value must be escaped with a backslash (-c search_path=a,\\ b); "
            "write durations without a space (5s, not 5 seconds); " + fix_tail,
        )
    for setting in settings:
        label = f"options {setting.written!r} ({where})"
        if setting.value is None:
            raise ConfigError(f"{label} has no value", state=STATE, fix=f"write -c {setting.name}=VALUE; {fix_tail}")
        if not _GUC_NAME.fullmatch(setting.name):
            raise ConfigError(f"{label}: {setting.name!r} is not a setting name", state=STATE, fix=fix_tail)
        if setting.name in pgvalues.DURATION_SETTINGS:
            try:
                pgvalues.parse_duration(setting.value, setting.name)
            except pgvalues.InvalidValue as exc:
                raise ConfigError(
                    f"{label}: {setting.value!r} is not a duration PostgreSQL accepts for {setting.name}",
                    cause=exc.reason,
                    state=STATE,
                    fix="write a number and one of us, ms, s, min, h, d, e.g. 5s (a bare number is milliseconds)",
                ) from None
        elif setting.name in _BOOL_SETTINGS and pgvalues.parse_bool(setting.value) is None:
            raise ConfigError(f"{label}: {setting.value!r} is not a boolean", state=STATE, fix="write on or off")
        elif "." not in setting.name and setting.name not in _COMMON_SETTINGS:
            guess = did_you_mean(setting.name, _COMMON_SETTINGS, cutoff=0.8)
            if guess:
                raise ConfigError(
                    f"{label}: PostgreSQL has no setting {setting.name!r}; did you mean {guess!r}?",
                    state=STATE,
                    fix=f"write -c {guess}={setting.value}",
                )
