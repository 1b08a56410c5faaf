"""Settings: `[tool.migrakit]` in pyproject.toml, then `MIGRAKIT_*` environment variables, then the importer's
Invoke config (`migrakit.<key>`), then task options. Later sources win. Paths are resolved against the project
root (the folder holding pyproject.toml).

Everything is checked once, at load, before any task reads a folder or connects: unknown keys in pyproject (with
"did you mean"; an unknown `MIGRAKIT_*` variable is a warning naming the closest setting: here), types, durations
as PostgreSQL reads them and the tracking schema/table names (sources/config_keys.py), and the database URLs'
parameters (keywords, `sslmode` and friends, `options`: sources/config_urls.py). Each failure is a ConfigError
(exit 2) naming the key, the value, where it came from and the fix; passwords never appear in it.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from migrakit.core.settings import PATH_KEYS, Settings, under_root
from migrakit.errors import ConfigError
from migrakit.sources.config_keys import KEYS, OPTIONAL, STATE, check_values, coerce, did_you_mean, env_name
from migrakit.sources.config_urls import check_url


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


# ------------------------------------------------------------------------------------------ loading
def _check_env_names(env: Mapping[str, str]) -> list[str]:
    """Warnings for `MIGRAKIT_*` variables that are no setting (a team's own, e.g. MIGRAKIT_VERSION pinning the
    install in CI, or a typo), each naming the closest setting; the run goes on. MIGRAKIT_DATABASE_URL stays an
    error: ignoring it would run against another database (DATABASE_URL's, or the embedded server)."""
    settings_env = {env_name(k) for k in KEYS if k != "app"}
    warnings = []
    for name in sorted(env):
        if not name.startswith("MIGRAKIT_") or name in settings_env or name in NON_SETTING_ENV:
            continue
        if name == "MIGRAKIT_DATABASE_URL":
            raise ConfigError(
                f"unknown environment variable {name}: the database URL is not a MIGRAKIT_ setting", state=STATE,
                fix="set DATABASE_URL (or the variable [tool.migrakit] database_url_env names), or pass --database-url",
            )  # fmt: skip
        if name == "MIGRAKIT_APP":
            hint = 'the app commands are set in pyproject.toml: [tool.migrakit.app] dev = "...", build = "..."'
        else:
            # compare what follows MIGRAKIT_: the shared prefix would make any two names look alike
            known = {n.removeprefix("MIGRAKIT_"): n for n in settings_env}
            word = name.removeprefix("MIGRAKIT_")
            close = did_you_mean(word, known)
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
            f"cannot read {pyproject.name}: {exc}", file=pyproject.name, state=STATE, fix="fix the TOML syntax"
        ) from exc
    except RecursionError:
        raise ConfigError(f"{pyproject.name} is nested too deep to read", file=pyproject.name, state=STATE,
                          fix="fix the TOML: arrays or tables thousands of levels deep are no configuration") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read {pyproject.name}: {exc.strerror}", file=pyproject.name, state=STATE,
            fix="make it readable by this user",
        ) from exc  # fmt: skip
    tool = data.get("tool", {})
    section = tool.get("migrakit", {}) if isinstance(tool, dict) else {}
    if not isinstance(section, dict):
        raise ConfigError(
            "[tool.migrakit] in pyproject.toml is not a table", file=pyproject.name, state=STATE,
            fix='write it as a table: [tool.migrakit] followed by key = "value" lines',
        )  # fmt: skip
    for key in section:
        if key not in KEYS:
            guess = did_you_mean(key, KEYS)
            raise ConfigError(
                f"unknown key {key!r} in [tool.migrakit]" + (f"; did you mean {guess!r}?" if guess else ""),
                file=pyproject.name,
                state=STATE,
                fix=(f"rename it to {guess}" if guess else "remove it") + f"; the keys are: {', '.join(sorted(KEYS))}",
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
    values: dict[str, Any] = {k: d for k, (_, d) in KEYS.items()}
    origins: dict[str, str] = {k: "default" for k in KEYS}

    section, pyproject = _read_pyproject(root)
    for key, value in section.items():
        origins[key] = f"pyproject.toml [tool.migrakit] {key}"
        try:
            values[key] = coerce(key, value, origins[key])
        except ConfigError as err:
            err.file = pyproject
            raise
    warnings = _check_env_names(env)
    for key in KEYS:
        name = env_name(key)
        if name in env and key != "app":
            origins[key] = f"environment variable {name}"
            values[key] = coerce(key, env[name], origins[key])

    database_url = None
    layers = [(dict(invoke_config or {}), "Invoke config migrakit.{}"), (overrides, "option --{}")]
    for given, label in layers:
        for key, value in given.items():
            if value is None or key == "app" and label.startswith("Invoke"):
                continue
            origin = label.format(key.replace("_", "-") if label.startswith("option") else key)
            if key == "database_url":
                database_url, origins["database_url"] = str(value), origin
            elif key in KEYS:
                values[key], origins[key] = coerce(key, value, origin), origin
            else:
                raise ConfigError(f"unknown option {key!r} ({origin})", state=STATE, fix="check the task's --help")
    if database_url is None:
        database_url = env.get(values["database_url_env"]) or None
        origins["database_url"] = f"environment variable {values['database_url_env']}"

    check_values(values, origins)
    urls = (("database_url", database_url), ("shadow_url", values["shadow_url"]), ("direct_url", values["direct_url"]))
    for key, url in urls:
        if url:
            check_url(key, url, origins[key], env)
    if not database_url:  # the embedded server: libpq still reads PGOPTIONS / PGSSLMODE from the environment
        check_url("the embedded server's URL", "", "embedded", env)

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
    if key in OPTIONAL and not value:
        return None
    if key in PATH_KEYS:
        return under_root(root, value)
    kind = KEYS[key][0]
    return tuple(value) if kind is list else dict(value) if kind is dict else value
