"""The settings' keys (`[tool.migrakit]`, `MIGRAKIT_*`): their types and defaults, derived from core/settings.Settings,
each value coerced to its key's type, and the checks the types alone do not make (ranges, durations as PostgreSQL
reads them, the tracking table's names). Each failure is a ConfigError (exit 2) naming the key, the value, where it
came from and the fix. sources/config.py reads and merges the values; sources/config_urls.py checks the URLs."""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import MISSING, Field, fields
from typing import Any

from migrakit.core.postgres import pgvalues
from migrakit.core.settings import MAX_FILE_MB, PATH_DEFAULTS, PATH_KEYS, Settings
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
KEYS: dict[str, tuple[type, Any]] = {
    f.name: (_KINDS[str(f.type)], _file_default(f)) for f in fields(Settings) if f.name not in _NOT_KEYS
}
OPTIONAL = frozenset(f.name for f in fields(Settings) if str(f.type).endswith("| None"))  # "" means None


STATE = "nothing was run: settings are checked before any folder is read or any connection is made"


def env_name(key: str) -> str:
    return f"MIGRAKIT_{key.upper()}"


def _show(value: Any) -> str:
    return repr(value) if not isinstance(value, str) or len(value) <= 80 else repr(value[:77] + "...")


def did_you_mean(word: str, choices: Any, cutoff: float = 0.6) -> str | None:
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return found[0] if found else None


def _bad(
    key: str, value: Any, origin: str, problem: str, fix: str, cause: str | None = None, file: str | None = None
) -> ConfigError:
    return ConfigError(f"{key} = {_show(value)} ({origin}) {problem}", cause=cause, state=STATE, fix=fix, file=file)


_INT = re.compile(r"\s*[+-]?\d+\s*")
_BOOLS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
_TYPE_NAMES = {
    str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "a list of strings",
    dict: "a table of strings",
}  # fmt: skip


def coerce(key: str, value: Any, origin: str) -> Any:
    """`value` as `key`'s type. Strings (environment variables, the command line) are parsed; values from TOML or
    Invoke config must already have the type (a boolean is not a number, a number is not a string)."""
    kind, default = KEYS[key]
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


# ------------------------------------------------------------------------------------------ value checks
def check_values(values: dict[str, Any], origins: dict[str, str]) -> None:
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
                       fix=f"use a plain name such as {KEYS[key][1]!r} (Drizzle's default)")  # fmt: skip
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", values["database_url_env"]):
        raise _bad("database_url_env", values["database_url_env"], origins["database_url_env"],
                   "is not an environment variable name", fix="name a variable, e.g. DATABASE_URL")  # fmt: skip
