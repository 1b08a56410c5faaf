"""The project's settings as one immutable value (loading and checking them: sources/config.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import PurePath
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from migrakit.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

PATH_KEYS = ("migrations_dir", "consolidated_dir", "embedded_dir", "legacy_dir", "schema")
# The defaults of the path settings that have one, relative to the project root (a Path needs the root, so they
# cannot be field defaults). Every other default is the field's own below: together the one place defaults are
# written; sources/config_keys.py derives the keys, their types and defaults from them.
PATH_DEFAULTS: Mapping[str, str] = MappingProxyType(
    {"migrations_dir": "migrations", "consolidated_dir": "migrations-consolidated", "embedded_dir": ".migrakit"}
)


MIB = 1 << 20
# A migration file (or journal, manifest) larger than this many MiB is refused (exit 2) before it is read: a file
# symlinked to /dev/zero, or one grown by mistake, would otherwise fill the memory. 256: a 200 MB migration fits.
MAX_FILE_MB = 256


def under_root(root: Path, value: str) -> Path:
    """`value` as a path, relative to the project root unless absolute (no file system access)."""
    return root / value if not PurePath(value).is_absolute() else type(root)(value)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything a task needs to know about the project. Immutable; derive with `with_overrides`. Each field but
    `root`, `database_url`, `search_path`, `origins` and `warnings` is a `[tool.migrakit]` key (and a
    MIGRAKIT_<KEY> variable) of that name."""

    root: Path
    migrations_dir: Path  # default: PATH_DEFAULTS
    consolidated_dir: Path  # default: PATH_DEFAULTS
    migrations_schema: str = "drizzle"
    migrations_table: str = "__drizzle_migrations"
    database_url_env: str = "DATABASE_URL"
    database_url: str | None = None
    embedded_dir: Path  # default: PATH_DEFAULTS
    base_branch: str = "main"
    legacy_dir: Path | None = None
    legacy_scripts: tuple[str, ...] = ()
    legacy_table: str = ""
    shadow_url: str | None = None  # admin URL of the server for shadow databases; None: the embedded one
    direct_url: str | None = None  # a direct/session URL for steps that cannot run through a transaction pooler
    schema: Path | None = None
    lock_wait_timeout: float = 60.0
    network_timeout: float = 30.0  # silence before a new connection checks the server (db/connect/answer.py)
    lock_timeout: str = "5s"
    statement_timeout: str = "0"
    lock_retries: int = 3
    pipeline: bool = True
    max_file_mb: int = MAX_FILE_MB  # the largest migration, journal or manifest read, in MiB
    app: Mapping[str, str] = field(default_factory=dict)
    search_path: str | None = (
        None  # a fleet target's schema (workflows/fleet/), SET LOCAL in each migration; not a key
    )
    # key -> where its value came from ("pyproject.toml [tool.migrakit] x", "environment variable MIGRAKIT_X",
    # "option --x", "Invoke config migrakit.x"); absent: the default
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)
    # what loading noticed and did not refuse (an unknown MIGRAKIT_* variable): printed on stderr by the task
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def with_overrides(self, **options: Any) -> Settings:
        """Apply options given by code or a task (`None` means "not given" and keeps the current value); error
        messages name them as `option --x`, as load_settings does."""
        given = {k: v for k, v in options.items() if v is not None}
        unknown = set(given) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError(f"unknown option {sorted(unknown)[0]!r}", fix="check the task's --help")
        for key in PATH_KEYS:
            if key in given:
                given[key] = under_root(self.root, str(given[key]))
        origins = {**self.origins, **{k: f"option --{k.replace('_', '-')}" for k in given}}
        return replace(self, **given, origins=origins)

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mb * MIB

    def origin(self, key: str) -> str:
        """Where `key`'s value came from, for an error's fix: "option --migrations-dir", "environment variable
        MIGRAKIT_MIGRATIONS_DIR", "pyproject.toml [tool.migrakit] migrations_dir" or "the default"."""
        return self.origins.get(key, "the default")

    def is_default(self, key: str) -> bool:
        return key not in self.origins
