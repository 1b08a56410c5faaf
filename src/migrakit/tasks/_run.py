"""The one place where core results become output and MigrakitError becomes an exit code."""

from __future__ import annotations

import functools
import logging
import os
import sys
from typing import Any, Callable

import invoke
from invoke.exceptions import Exit

from ..config import Settings, load_settings
from ..errors import MigrakitError

# When a connection drops mid-pipeline, psycopg logs "error ignored terminating <Pipeline>" through logging's
# last-resort handler (stderr) before migrakit reports the failure itself, with its state and fix.
logging.getLogger("psycopg").addHandler(logging.NullHandler())


# One meaning per short flag across every task (docs/MIGRATION_GUIDE.md, "Short flags"). An option not listed here
# has only its long form: Invoke's automatic first-letter flags gave `-s` and `-a` different meanings in different
# tasks. Letters Invoke keeps for its own core flags (-c -d -D -e -f -F -h -l -p -r -R -T -V -w) are never used, so
# `-d` stays --debug and `-h` stays --help after a task name too.
SHORT_FLAGS: dict[str, str] = {
    "database-url": "u",
    "migrations-dir": "m",
    "shadow-url": "s",
    "dry-run": "n",
    "json": "j",
    "yes": "y",
    "to": "t",
    "base": "b",
    "out-of-order": "o",
}


class MigrakitTask(invoke.Task):  # type: ignore[misc]
    """A task whose short flags come from SHORT_FLAGS, and whose MigrakitError (also one raised before
    `run_core`, e.g. by settings_from) becomes its exit code and message, never a traceback."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["auto_shortflags"] = False
        super().__init__(*args, **kwargs)

    def arg_opts(self, name: str, default: Any, taken_names: set[str]) -> dict[str, Any]:
        opts = super().arg_opts(name, default, taken_names)
        short = SHORT_FLAGS.get(opts["names"][0])
        if short and short not in taken_names:
            opts["names"] = [*opts["names"], short]
        return opts

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except (MigrakitError, OSError) as exc:
            err = exc if isinstance(exc, MigrakitError) else _file_error(exc)
            if err is None:
                raise
            secrets = [kwargs.get("database_url") or "", os.environ.get("DATABASE_URL", "")]
            raise _exit(err, "json" if kwargs.get("json") else "plain", secrets) from exc


def _file_error(exc: OSError) -> MigrakitError | None:
    """A file the task had to read or write that the file system refused (a directory where a file belongs, a
    dangling link, no permission, a full disk): the user's environment, not a bug, so an error with the path.
    An OSError without a file name keeps its traceback."""
    if not exc.filename:
        return None
    from pathlib import Path

    path = Path(os.fsdecode(exc.filename))
    try:
        shown = str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        shown = str(path)
    return MigrakitError(
        f"cannot use {shown}: {exc.strerror or type(exc).__name__}",
        file=shown,
        cause=f"{type(exc).__name__} (errno {exc.errno})",
        state="the task stopped at this file; what it printed above is what it did",
        fix=f"make {shown} a readable (and, for tasks that write it, writable) file, or restore it from git",
    )


task = functools.partial(invoke.task, klass=MigrakitTask)


def _exit(err: MigrakitError, fmt: str, secrets: list[str]) -> Exit:
    from ..report import render_error
    from ..server import redact_text

    text = redact_text(render_error(err, fmt), [s for s in secrets if s])
    if fmt == "json":
        print(text)
        return Exit(code=err.exit_code)
    return Exit(text, code=err.exit_code)


def settings_from(c: Any, **options: Any) -> Settings:
    """Settings from pyproject/env, then the importer's Invoke config (`migrakit` key), then task options;
    checked once, here (config.load_settings), before the task reads a folder or connects."""
    configured = dict(c.config.get("migrakit", {}) or {}) if c is not None else {}
    return load_settings(invoke_config=configured, **options)


def run_core(
    render: Callable[[Any, str], str],
    call: Callable[[], Any],
    fmt: str,
    ok: Callable[[Any], bool] = lambda _: True,
    fail_code: int = 1,
    settings: Settings | None = None,
) -> Any:
    """Run `call`, print `render(result, fmt)`; turn MigrakitError into Exit with its code and its fix.

    Everything printed goes through redact_text: the configured database URL's password (also where a
    driver message repeats it bare) and any URL-shaped password are replaced by ***."""
    from ..server import redact_text

    secrets = [settings.database_url] if settings is not None and settings.database_url else []
    try:
        result = call()
    except MigrakitError as err:
        raise _exit(err, "json" if fmt == "json" else "plain", secrets) from err
    print(redact_text(render(result, fmt), secrets))
    sys.stdout.flush()
    if not ok(result):
        raise Exit(code=fail_code)
    return result
