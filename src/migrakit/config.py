"""Settings: `[tool.migrakit]` in pyproject.toml, then `MIGRAKIT_*` environment variables, then task options.

Later sources win. Paths are resolved against the project root (the folder holding pyproject.toml).
Unknown keys are an error that names the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError

# key -> (type, default). Types: str, int, float, bool, list (of str), dict (of str).
_KEYS: dict[str, tuple[type, Any]] = {
    "migrations_dir": (str, "migrations"),
    "consolidated_dir": (str, "migrations-consolidated"),
    "migrations_schema": (str, "drizzle"),
    "migrations_table": (str, "__drizzle_migrations"),
    "database_url_env": (str, "DATABASE_URL"),
    "embedded_dir": (str, ".migrakit"),
    "base_branch": (str, "main"),
    "legacy_dir": (str, ""),
    "legacy_scripts": (list, []),
    "legacy_table": (str, ""),
    "shadow_url": (str, ""),
    "direct_url": (str, ""),
    "schema": (str, ""),
    "lock_wait_timeout": (float, 60.0),
    "lock_timeout": (str, "5s"),
    "statement_timeout": (str, "0"),
    "lock_retries": (int, 3),
    "pipeline": (bool, True),
    "app": (dict, {}),
}


@dataclass(frozen=True)
class Settings:
    """Everything a task needs to know about the project. Immutable; derive with `with_overrides`."""

    root: Path
    migrations_dir: Path
    consolidated_dir: Path
    migrations_schema: str = "drizzle"
    migrations_table: str = "__drizzle_migrations"
    database_url_env: str = "DATABASE_URL"
    database_url: str | None = None
    embedded_dir: Path = Path(".migrakit")
    base_branch: str = "main"
    legacy_dir: Path | None = None
    legacy_scripts: tuple[str, ...] = ()
    legacy_table: str = ""
    shadow_url: str | None = None  # admin URL of the server for shadow databases; None: the embedded one
    direct_url: str | None = None  # the same database without a transaction pooler, for steps outside a transaction
    schema: Path | None = None
    lock_wait_timeout: float = 60.0
    lock_timeout: str = "5s"
    statement_timeout: str = "0"
    lock_retries: int = 3
    pipeline: bool = True
    app: Mapping[str, str] = field(default_factory=dict)
    # key -> where its value came from ("pyproject.toml [tool.migrakit]", "MIGRAKIT_X", "--x"); absent: the default
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)

    def with_overrides(self, _origin: str = "option", **options: Any) -> "Settings":
        """Apply task options; `None` means "not given" and keeps the current value. `_origin` names where they
        came from in error messages: "option" (the task's --x), or a description such as "Invoke config"."""
        given = {k: v for k, v in options.items() if v is not None}
        unknown = set(given) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError(f"unknown option {sorted(unknown)[0]!r}", fix="check the task's --help")
        for key in ("migrations_dir", "consolidated_dir", "embedded_dir", "legacy_dir", "schema"):
            if key in given:
                given[key] = _path(self.root, str(given[key]))
        label = lambda k: f"--{k.replace('_', '-')}" if _origin == "option" else f"{_origin} ({k})"  # noqa: E731
        origins = {**self.origins, **{k: label(k) for k in given}}
        return replace(self, **given, origins=origins)

    def origin(self, key: str) -> str:
        """Where `key`'s value came from, for an error's fix: "--migrations-dir", "MIGRAKIT_MIGRATIONS_DIR",
        "pyproject.toml [tool.migrakit]" or "the default"."""
        return self.origins.get(key, "the default")

    def is_default(self, key: str) -> bool:
        return key not in self.origins


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` holding pyproject.toml; `start` itself when none does."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return start


def _path(root: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else root / p


def _coerce(key: str, value: Any, source: str) -> Any:
    kind, _ = _KEYS[key]
    if kind is list:
        if isinstance(value, str):
            return [v for v in (s.strip() for s in value.split(",")) if v]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    elif kind is dict:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
    elif kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
    elif kind is float or kind is int:
        try:
            return kind(value)
        except (TypeError, ValueError):
            pass
    elif isinstance(value, str):
        return value
    raise ConfigError(
        f"{source}: {key} must be a {kind.__name__}, got {value!r}",
        fix=f"set {key} to a {kind.__name__} value",
    )


def load_settings(
    root: Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Read pyproject.toml's `[tool.migrakit]`, then `MIGRAKIT_<KEY>` env vars, then `overrides`."""
    root = find_root(root)
    env = os.environ if env is None else env
    values: dict[str, Any] = {k: d for k, (_, d) in _KEYS.items()}
    origins: dict[str, str] = {}

    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"cannot read {pyproject.name}: {exc}", file=str(pyproject), fix="fix the TOML syntax"
            ) from exc
        section = data.get("tool", {}).get("migrakit", {})
        for key, value in section.items():
            if key not in _KEYS:
                raise ConfigError(
                    f"unknown key {key!r} in [tool.migrakit]",
                    file=str(pyproject),
                    fix=f"remove it or use one of: {', '.join(sorted(_KEYS))}",
                )
            values[key] = _coerce(key, value, f"{pyproject.name} [tool.migrakit]")
            origins[key] = f"{pyproject.name} [tool.migrakit]"

    for key in _KEYS:
        name = f"MIGRAKIT_{key.upper()}"
        if name in env and key != "app":
            values[key] = _coerce(key, env[name], name)
            origins[key] = name

    settings = Settings(
        root=root,
        migrations_dir=_path(root, values["migrations_dir"]),
        consolidated_dir=_path(root, values["consolidated_dir"]),
        migrations_schema=values["migrations_schema"],
        migrations_table=values["migrations_table"],
        database_url_env=values["database_url_env"],
        database_url=env.get(values["database_url_env"]) or None,
        embedded_dir=_path(root, values["embedded_dir"]),
        base_branch=values["base_branch"],
        legacy_dir=_path(root, values["legacy_dir"]) if values["legacy_dir"] else None,
        legacy_scripts=tuple(values["legacy_scripts"]),
        legacy_table=values["legacy_table"],
        shadow_url=values["shadow_url"] or None,
        direct_url=values["direct_url"] or None,
        schema=_path(root, values["schema"]) if values["schema"] else None,
        lock_wait_timeout=values["lock_wait_timeout"],
        lock_timeout=values["lock_timeout"],
        statement_timeout=values["statement_timeout"],
        lock_retries=values["lock_retries"],
        pipeline=values["pipeline"],
        app=dict(values["app"]),
        origins=origins,
    )
    return settings.with_overrides(**overrides)
