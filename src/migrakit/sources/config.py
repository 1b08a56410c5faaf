"""Settings: `[tool.migrakit]` in pyproject.toml, then `MIGRAKIT_*` environment variables, then the importer's
Invoke config (`migrakit.<key>`), then task options. Later sources win. Paths are resolved against the project
root (the folder holding pyproject.toml).

Everything is checked here, once, before any task reads a folder or connects: unknown keys in pyproject (with
"did you mean"; an unknown `MIGRAKIT_*` variable is a warning naming the closest setting), types, durations as
PostgreSQL reads them, the tracking schema/table names, and the database URLs' parameters (keywords, `sslmode`
and friends, `options`). Each failure is a ConfigError (exit 2) naming the key, the value, where it came from
and the fix; passwords never appear in it.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import Any

from migrakit.core.postgres import pgvalues
from migrakit.core.settings import MAX_FILE_MB, PATH_DEFAULTS, PATH_KEYS, Settings, under_root
from migrakit.errors import ConfigError

# The keys are Settings' fields but these (database_url comes from the variable `database_url_env` names).
# search_path: a fleet target's schema; warnings: what loading noticed but did not refuse
_NOT_KEYS = frozenset({"root", "database_url", "origins", "search_path", "warnings"})
# A field's annotation -> the type its value has in pyproject.toml / the environment: str, int, float, bool, list
# (of str), dict (of str). A new field with another annotation fails here, at import, until it is given one.
_KINDS: dict[str, type] = {
    "str": str, "str | None": str, "Path": str, "Path | None": str, "float": float, "int": int, "bool": bool,
    "tuple[str, ...]": list, "Mapping[str, str]": dict,
}  # fmt: skip


def _file_default(f: Field[Any]) -> Any:
    """A field's default as it would be written in pyproject.toml: a relative path, "" for None, a list."""
    if f.name in PATH_DEFAULTS:
        return PATH_DEFAULTS[f.name]
    value = f.default_factory() if f.default_factory is not MISSING else f.default
    if value is None:
        return ""
    return list(value) if isinstance(value, tuple) else dict(value) if isinstance(value, Mapping) else value


# key -> (type as written, default as written), from Settings (core/settings.py): defaults are written once, there.
_KEYS: dict[str, tuple[type, Any]] = {
    f.name: (_KINDS[str(f.type)], _file_default(f)) for f in fields(Settings) if f.name not in _NOT_KEYS
}
_OPTIONAL = frozenset(f.name for f in fields(Settings) if str(f.type).endswith("| None"))  # "" means None


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` holding pyproject.toml; `start` itself when none does."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return start


# MIGRAKIT_* variables that are not settings but are read elsewhere (tests, corpus tools, failure injection).
NON_SETTING_ENV = frozenset(
    {
        "MIGRAKIT_TEST_DATABASE_URL",
        "MIGRAKIT_SHARED",
        "MIGRAKIT_CORPUS",
        "MIGRAKIT_REGEN_GOLDENS",
        "MIGRAKIT_FAILPOINT",
    }
)
_STATE = "nothing was run: settings are checked before any folder is read or any connection is made"


def _env_name(key: str) -> str:
    return f"MIGRAKIT_{key.upper()}"


def _show(value: Any) -> str:
    return repr(value) if not isinstance(value, str) or len(value) <= 80 else repr(value[:77] + "...")


def _did_you_mean(word: str, choices: Any, cutoff: float = 0.6) -> str | None:
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return found[0] if found else None


def _bad(
    key: str, value: Any, origin: str, problem: str, fix: str, cause: str | None = None, file: str | None = None
) -> ConfigError:
    return ConfigError(f"{key} = {_show(value)} ({origin}) {problem}", cause=cause, state=_STATE, fix=fix, file=file)


_INT = re.compile(r"\s*[+-]?\d+\s*")
_BOOLS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
_TYPE_NAMES = {
    str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "a list of strings",
    dict: "a table of strings",
}  # fmt: skip


def _coerce(key: str, value: Any, origin: str) -> Any:
    """`value` as `key`'s type. Strings (environment variables, the command line) are parsed; values from TOML or
    Invoke config must already have the type (a boolean is not a number, a number is not a string)."""
    kind, default = _KEYS[key]
    if kind is list:
        if isinstance(value, str):
            return [v for v in (s.strip() for s in value.split(",")) if v]
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return list(value)
    elif kind is dict:
        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            return {str(k): v for k, v in value.items()}
    elif kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _BOOLS:
            return _BOOLS[value.strip().lower()]
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INT.fullmatch(value):
            return int(value)
    elif kind is float:
        number: float | None = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
        if number is not None and math.isfinite(number):
            return number
    elif isinstance(value, str):
        return value
    elif isinstance(value, os.PathLike) and key in PATH_KEYS:
        return os.fspath(value)
    examples = {
        bool: "true or false (in the environment: 1/0, true/false, yes/no, on/off)",
        int: f"a whole number such as {default}",
        float: f"a number of seconds such as {default:g}" if isinstance(default, float) else "a number",
        list: '["a", "b"] (in the environment: a,b)',
        dict: '[tool.migrakit.app] with string values',
        str: f'"{default}"' if default else 'a quoted string',
    }
    if kind is str and key in ("lock_timeout", "statement_timeout") and isinstance(value, (int, float)):
        examples[str] = (
            f'a quoted duration such as "5s" or "500ms" (a bare number is milliseconds for PostgreSQL: "{value}")'
        )
    raise _bad(key, value, origin, f"is not {_TYPE_NAMES[kind]}", f"set {key} to {examples[kind]}")


_typed = _coerce


# ------------------------------------------------------------------------------------------ value checks
def _check_values(values: dict[str, Any], origins: dict[str, str]) -> None:
    """Ranges, durations and names: what the types alone do not catch."""
    for key in ("lock_timeout", "statement_timeout"):
        try:
            pgvalues.parse_duration(values[key], key)
        except pgvalues.InvalidValue as exc:
            raise _bad(
                key, values[key], origins[key], "is not a duration PostgreSQL accepts",
                cause=exc.reason,
                fix="write a number and one of PostgreSQL's units us, ms, s, min, h, d, e.g. '5s', '500ms' or '2min' "
                "(a bare number is milliseconds; '0' means no limit)",
            ) from None
    if values["lock_wait_timeout"] < 0:
        raise _bad("lock_wait_timeout", values["lock_wait_timeout"], origins["lock_wait_timeout"], "is negative",
                   fix="set lock_wait_timeout to the seconds to wait for another migrator "
                   "(0: do not wait)")  # fmt: skip
    if values["max_file_mb"] < 1:
        raise _bad("max_file_mb", values["max_file_mb"], origins["max_file_mb"], "is below 1",
                   fix=f"set max_file_mb to the largest file to read, in MiB (default {MAX_FILE_MB})")  # fmt: skip
    if values["network_timeout"] < 0:
        raise _bad("network_timeout", values["network_timeout"], origins["network_timeout"], "is negative",
                   fix="set network_timeout to the seconds a silent server gets to answer (0: no check)")  # fmt: skip
    if values["lock_retries"] < 0:
        raise _bad("lock_retries", values["lock_retries"], origins["lock_retries"], "is negative",
                   fix="set lock_retries to how many times to retry after lock_timeout (0: never)")  # fmt: skip
    for key in ("migrations_schema", "migrations_table"):
        problem = pgvalues.identifier_problem(values[key])
        if problem:
            raise _bad(key, values[key], origins[key], "cannot name the tracking table", cause=problem,
                       fix=f"use a plain name such as {_KEYS[key][1]!r} (Drizzle's default)")  # fmt: skip
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", values["database_url_env"]):
        raise _bad("database_url_env", values["database_url_env"], origins["database_url_env"],
                   "is not an environment variable name", fix="name a variable, e.g. DATABASE_URL")  # fmt: skip


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


def _check_url(name: str, url: str, origin: str, env: Mapping[str, str]) -> None:
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
                guess = _did_you_mean(key, known)
                raise ConfigError(
                    f"{name} ({shown}) has a connection parameter libpq does not know: {key!r}"
                    + (f"; did you mean {guess!r}?" if guess else ""),
                    state=_STATE,
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
            guess = _did_you_mean(value.lower(), choices, cutoff=0.5)
            raise ConfigError(
                f"{key}={value!r} ({where}) is not a value libpq accepts"
                + (f"; did you mean {guess!r}?" if guess else ""),
                state=_STATE,
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
            state=_STATE,
            fix="a space inside a value must be escaped with a backslash (-c search_path=a,\\ b); "
            "write durations without a space (5s, not 5 seconds); " + fix_tail,
        )
    for setting in settings:
        label = f"options {setting.written!r} ({where})"
        if setting.value is None:
            raise ConfigError(f"{label} has no value", state=_STATE, fix=f"write -c {setting.name}=VALUE; {fix_tail}")
        if not _GUC_NAME.fullmatch(setting.name):
            raise ConfigError(f"{label}: {setting.name!r} is not a setting name", state=_STATE, fix=fix_tail)
        if setting.name in pgvalues.DURATION_SETTINGS:
            try:
                pgvalues.parse_duration(setting.value, setting.name)
            except pgvalues.InvalidValue as exc:
                raise ConfigError(
                    f"{label}: {setting.value!r} is not a duration PostgreSQL accepts for {setting.name}",
                    cause=exc.reason,
                    state=_STATE,
                    fix="write a number and one of us, ms, s, min, h, d, e.g. 5s (a bare number is milliseconds)",
                ) from None
        elif setting.name in _BOOL_SETTINGS and pgvalues.parse_bool(setting.value) is None:
            raise ConfigError(f"{label}: {setting.value!r} is not a boolean", state=_STATE, fix="write on or off")
        elif "." not in setting.name and setting.name not in _COMMON_SETTINGS:
            guess = _did_you_mean(setting.name, _COMMON_SETTINGS, cutoff=0.8)
            if guess:
                raise ConfigError(
                    f"{label}: PostgreSQL has no setting {setting.name!r}; did you mean {guess!r}?",
                    state=_STATE,
                    fix=f"write -c {guess}={setting.value}",
                )


# ------------------------------------------------------------------------------------------ loading
def _check_env_names(env: Mapping[str, str]) -> list[str]:
    """Warnings for `MIGRAKIT_*` variables that are no setting (a team's own, e.g. MIGRAKIT_VERSION pinning the
    install in CI, or a typo), each naming the closest setting; the run goes on. MIGRAKIT_DATABASE_URL stays an
    error: ignoring it would run against another database (DATABASE_URL's, or the embedded server)."""
    settings_env = {_env_name(k) for k in _KEYS if k != "app"}
    warnings = []
    for name in sorted(env):
        if not name.startswith("MIGRAKIT_") or name in settings_env or name in NON_SETTING_ENV:
            continue
        if name == "MIGRAKIT_DATABASE_URL":
            raise ConfigError(
                f"unknown environment variable {name}: the database URL is not a MIGRAKIT_ setting", state=_STATE,
                fix="set DATABASE_URL (or the variable [tool.migrakit] database_url_env names), or pass --database-url",
            )  # fmt: skip
        if name == "MIGRAKIT_APP":
            hint = 'the app commands are set in pyproject.toml: [tool.migrakit.app] dev = "...", build = "..."'
        else:
            # compare what follows MIGRAKIT_: the shared prefix would make any two names look alike
            known = {n.removeprefix("MIGRAKIT_"): n for n in settings_env}
            word = name.removeprefix("MIGRAKIT_")
            close = _did_you_mean(word, known)
            closest = known[close or max(sorted(known), key=lambda k: difflib.SequenceMatcher(None, word, k).ratio())]
            hint = f"did you mean {closest}?" if close else f"the closest setting is {closest}"
        warnings.append(f"environment variable {name} is not a migrakit setting and is ignored; {hint}")
    return warnings


def _read_pyproject(root: Path) -> tuple[dict[str, Any], str | None]:
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return {}, None
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read {pyproject.name}: {exc}", file=pyproject.name, state=_STATE, fix="fix the TOML syntax"
        ) from exc
    except RecursionError:
        raise ConfigError(f"{pyproject.name} is nested too deep to read", file=pyproject.name, state=_STATE,
                          fix="fix the TOML: arrays or tables thousands of levels deep are no configuration") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read {pyproject.name}: {exc.strerror}", file=pyproject.name, state=_STATE,
            fix="make it readable by this user",
        ) from exc  # fmt: skip
    tool = data.get("tool", {})
    section = tool.get("migrakit", {}) if isinstance(tool, dict) else {}
    if not isinstance(section, dict):
        raise ConfigError(
            "[tool.migrakit] in pyproject.toml is not a table", file=pyproject.name, state=_STATE,
            fix='write it as a table: [tool.migrakit] followed by key = "value" lines',
        )  # fmt: skip
    for key in section:
        if key not in _KEYS:
            guess = _did_you_mean(key, _KEYS)
            raise ConfigError(
                f"unknown key {key!r} in [tool.migrakit]" + (f"; did you mean {guess!r}?" if guess else ""),
                file=pyproject.name,
                state=_STATE,
                fix=(f"rename it to {guess}" if guess else "remove it") + f"; the keys are: {', '.join(sorted(_KEYS))}",
            )
    return section, pyproject.name


def load_settings(
    root: Path | None = None,
    env: Mapping[str, str] | None = None,
    invoke_config: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> Settings:
    """Read pyproject.toml's `[tool.migrakit]`, then `MIGRAKIT_<KEY>` env vars, then `invoke_config` (the
    importer's `migrakit` Invoke config), then `overrides` (task options; None means "not given"), and check
    the result. Raises ConfigError (exit 2) for anything the database or Drizzle would refuse later."""
    root = find_root(root)
    env = os.environ if env is None else env
    values: dict[str, Any] = {k: d for k, (_, d) in _KEYS.items()}
    origins: dict[str, str] = {k: "default" for k in _KEYS}

    section, pyproject = _read_pyproject(root)
    for key, value in section.items():
        origins[key] = f"pyproject.toml [tool.migrakit] {key}"
        try:
            values[key] = _typed(key, value, origins[key])
        except ConfigError as err:
            err.file = pyproject
            raise
    warnings = _check_env_names(env)
    for key in _KEYS:
        name = _env_name(key)
        if name in env and key != "app":
            origins[key] = f"environment variable {name}"
            values[key] = _typed(key, env[name], origins[key])

    database_url = None
    layers = [(dict(invoke_config or {}), "Invoke config migrakit.{}"), (overrides, "option --{}")]
    for given, label in layers:
        for key, value in given.items():
            if value is None or key == "app" and label.startswith("Invoke"):
                continue
            origin = label.format(key.replace("_", "-") if label.startswith("option") else key)
            if key == "database_url":
                database_url, origins["database_url"] = str(value), origin
            elif key in _KEYS:
                values[key], origins[key] = _typed(key, value, origin), origin
            else:
                raise ConfigError(f"unknown option {key!r} ({origin})", state=_STATE, fix="check the task's --help")
    if database_url is None:
        database_url = env.get(values["database_url_env"]) or None
        origins["database_url"] = f"environment variable {values['database_url_env']}"

    _check_values(values, origins)
    urls = (("database_url", database_url), ("shadow_url", values["shadow_url"]), ("direct_url", values["direct_url"]))
    for key, url in urls:
        if url:
            _check_url(key, url, origins[key], env)
    if not database_url:  # the embedded server: libpq still reads PGOPTIONS / PGSSLMODE from the environment
        _check_url("the embedded server's URL", "", "embedded", env)

    return Settings(
        root=root,
        database_url=database_url,
        origins={k: v for k, v in origins.items() if v != "default"},
        warnings=tuple(warnings),
        **{key: _field_value(root, key, value) for key, value in values.items()},
    )


def _field_value(root: Path, key: str, value: Any) -> Any:
    """A checked value as written into the Settings field `key`: a path under the root, None for "" where the
    field may be None, a tuple for a list."""
    if key in _OPTIONAL and not value:
        return None
    if key in PATH_KEYS:
        return under_root(root, value)
    kind = _KEYS[key][0]
    return tuple(value) if kind is list else dict(value) if kind is dict else value
