"""migrakit's Invoke collections: `db`, `legacy`, `env`, plus `dev` and `build`.

Import them into your own tasks.py:

    from invoke import Collection
    from migrakit.tasks import db, legacy, env, ns as migrakit_ns   # or: ns = migrakit_ns
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

from invoke import Collection
from invoke.exceptions import Exit

from . import db as _db_module
from . import env as _env_module
from . import legacy as _legacy_module
from ._run import task

db = _db_module.ns
env = _env_module.ns
legacy = _legacy_module.ns


def _app(c: Any, which: str) -> None:
    from ..config import load_settings

    app = dict(load_settings().app)  # a ConfigError here becomes exit 2 (MigrakitTask)
    app.update((c.config.get("migrakit", {}) or {}).get("app", {}) or {})
    command = app.get(which)
    if not command:
        raise Exit(
            f"error: no app command configured for {which!r}\n"
            f"  fix:   set [tool.migrakit.app] {which} = \"...\" in pyproject.toml",
            code=2,
        )
    command = command.replace("{python}", shlex.quote(sys.executable))
    print(f"running app: {command}", flush=True)
    c.run(command, pty=False)


@task(pre=[_env_module.check, _db_module.migrate])
def dev(c: Any) -> None:
    """Check the environment, apply migrations, then start the app's dev command."""
    _app(c, "dev")


@task(pre=[_env_module.check, _db_module.migrate])
def build(c: Any) -> None:
    """Check the environment, apply migrations, then run the app's build command."""
    _app(c, "build")


ns = Collection(db, legacy, env, dev, build)

__all__ = ["ns", "db", "legacy", "env", "dev", "build"]
