"""migrakit's Invoke collections: `db`, `legacy`, `env`, plus `dev` and `build`.

Import them into your own tasks.py:

    from invoke import Collection
    from migrakit.tasks import db, legacy, env, ns as migrakit_ns   # or: ns = migrakit_ns
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any, NoReturn

from invoke import Collection

from migrakit.errors import ConfigError, MigrakitError
from migrakit.tasks import _program
from migrakit.tasks import db as _db_module
from migrakit.tasks import env as _env_module
from migrakit.tasks import legacy as _legacy_module
from migrakit.tasks._run import task
from migrakit.tasks.db.migrate import migrate as _migrate

db = _db_module.ns
env = _env_module.ns
legacy = _legacy_module.ns


_SHELL_WORDS = {
    ".", "source", "exec", "cd", "set", "export", "eval", "(", "{", "if", "for", "while", "case", "true", ":"
}  # fmt: skip
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def _fail(err: MigrakitError) -> NoReturn:
    from migrakit.tasks._run import _exit

    raise _exit(err, "plain", [])  # the one place errors become exit codes


def _app_command(c: Any, which: str) -> str:
    """The `[tool.migrakit.app]` command for `which`, with {python} filled in, checked before anything runs: it is
    configured, it parses as a shell command, and its program exists (on PATH, or as a path from the current
    directory). Otherwise exit 2 with the fix; nothing has touched the database yet."""
    from migrakit.sources.config import find_root, load_settings

    try:
        app = dict(load_settings().app)
    except MigrakitError as err:
        _fail(err)
    app.update((c.config.get("migrakit", {}) or {}).get("app", {}) or {})
    where = str(find_root(None) / "pyproject.toml")
    state = f"nothing ran: `inv {which}` checks its app command before migrating, so the database was not touched"
    command = app.get(which)
    if not command or not str(command).strip():
        _fail(ConfigError(
            f"no app command configured for {which!r}", file=where, state=state,
            fix=f'set [tool.migrakit.app] {which} = "..." in pyproject.toml, e.g. "{{python}} -m yourapp" '
            f"({{python}} is this virtualenv's python); or run `inv db.migrate` alone",
        ))  # fmt: skip
    command = str(command).replace("{python}", shlex.quote(sys.executable))
    try:
        words = shlex.split(command)
    except ValueError as exc:
        _fail(ConfigError(
            f"the app command for {which!r} is not a valid shell command: {command}", file=where, cause=str(exc),
            state=state, fix=f"fix the quoting of [tool.migrakit.app] {which} in pyproject.toml",
        ))  # fmt: skip
    while words and _ASSIGNMENT.match(words[0]):  # FOO=1 program ...: the program comes after the assignments
        words.pop(0)
    program = words[0] if words else ""
    if not program or program in _SHELL_WORDS:
        return command
    if "/" in program:
        path = Path(program)
        problem = None if os.access(path, os.X_OK) and path.is_file() else (
            "no such file" if not path.exists() else "not an executable file"
        )  # fmt: skip
    else:
        problem = None if shutil.which(program) else "not found on PATH"
    if problem:
        _fail(ConfigError(
            f"the app command for {which!r} cannot run: {program!r}: {problem}", file=where,
            cause=f"[tool.migrakit.app] {which} = {app.get(which)!r}", state=state,
            fix=f"install {program!r} (or activate the environment that has it), or fix [tool.migrakit.app] {which} "
            "in pyproject.toml",
        ))  # fmt: skip
    return command


def _app(c: Any, which: str) -> None:
    command = _app_command(c, which)
    print(f"running app: {command}", flush=True)
    c.run(command, pty=False)


@task
def _check_dev_app(c: Any) -> None:
    _app_command(c, "dev")


@task
def _check_build_app(c: Any) -> None:
    _app_command(c, "build")


@task(pre=[_check_dev_app, _env_module.check, _migrate])
def dev(c: Any) -> None:
    """Check the app command and the environment, apply migrations, then start the app's dev command.

    Without a [tool.migrakit.app] dev command (or with one whose program cannot be found) it exits 2 before
    touching the database."""
    _app(c, "dev")


@task(pre=[_check_build_app, _env_module.check, _migrate])
def build(c: Any) -> None:
    """Check the app command and the environment, apply migrations, then run the app's build command.

    Without a [tool.migrakit.app] build command (or with one whose program cannot be found) it exits 2 before
    touching the database."""
    _app(c, "build")


ns = Collection(db, legacy, env, dev, build)

# Under `inv`, a project's tasks.py is importing these collections now: its typos exit 2 with the closest names,
# and hints name its task names (tasks/_program.py).
_program.register(ns)
_program.adopt_running_inv()

__all__ = ["ns", "db", "legacy", "env", "dev", "build"]
