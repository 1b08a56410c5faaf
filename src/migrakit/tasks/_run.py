"""The one place where a task's result becomes output and its exit status: a MigrakitError's `exit_code`, or the
returned report's `exit_code` property (e.g. 5 for a plan printed without --yes). Tasks never pick a code."""

from __future__ import annotations

import functools
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import invoke
from invoke.exceptions import Exit

from migrakit.errors import Fix, Interrupted, MigrakitError, Signalled, signal_of
from migrakit.tasks._program import retarget

if TYPE_CHECKING:  # `migrakit --help` / `--list` import every tasks module: they read no settings
    from migrakit.core.settings import Settings


class _RedactInvokeLog(logging.Filter):
    """`inv -d` / `migrakit -d` log every parsed argument, `--database-url` included: mask passwords first."""

    def filter(self, record: logging.LogRecord) -> bool:
        from migrakit.db.connect.server import redact_text

        try:
            record.msg, record.args = redact_text(record.getMessage()), ()
        except Exception:  # never let a log line be the leak or the crash
            record.msg, record.args = "<debug line hidden>", ()
        return True


logging.getLogger("invoke").addFilter(_RedactInvokeLog())

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


class MigrakitTask(invoke.Task):
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
            fmt = "json" if kwargs.get("json") else "plain"
            module = sys.modules[self.body.__module__].__dict__
            raise _exit(err, fmt, secrets, f"{_collection(module)}.{self.name.replace('_', '-')}") from exc


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
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop (pathlib's resolve)
        shown = str(path)
    return MigrakitError(
        f"cannot use {shown}: {exc.strerror or type(exc).__name__}",
        file=shown,
        cause=f"{type(exc).__name__} (errno {exc.errno})",
        state="the task stopped at this file; what it printed above is what it did",
        fix=f"make {shown} a readable (and, for tasks that write it, writable) file, or restore it from git",
    )


task = functools.partial(invoke.task, klass=MigrakitTask)


def _write(text: str) -> None:
    """Print a task's output. A reader that closed the pipe early (`inv db.status | head`) is not an error
    worth a traceback: the rest goes to /dev/null and the task ends with its own exit code."""
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _exit(err: MigrakitError, fmt: str, secrets: list[str], task: str = "", database_url: str | None = None) -> Exit:
    """The Exit for `err`: its text on stderr (JSON: the error document on stdout), its exit code; every field
    redacted first (see run_core)."""
    from migrakit.db.connect.server import redact_url
    from migrakit.render.error_text import render_error
    from migrakit.render.json import document as as_json

    secrets = [s for s in secrets if s]
    redact_error(err, secrets)
    if isinstance(err.fix, Fix):  # the task the fix names, as the user calls it here (`migrakit db.x`, `inv db.x`)
        err.fix = Fix(retarget(err.fix), retarget(err.fix.command) if err.fix.command else None)
    if fmt == "json":
        document = as_json.error_document(task, err, shown_url=redact_url(database_url) if database_url else None)
        _write(shown(as_json.dumps(document), secrets, short_in_quotes=False))
        return Exit(code=err.exit_code)
    text = render_error(err)
    if github_actions():
        from migrakit.render.error_text import github_error

        text = retarget(github_error(err)) + "\n" + text
    return Exit(shown(text, secrets, short_in_quotes=True), code=err.exit_code)


def shown(text: str, secrets: list[str], *, short_in_quotes: bool) -> str:
    """What migrakit prints, from what a renderer wrote: passwords masked (db/connect/server.redact_text), and
    every `inv db.x` hint naming the program the user ran and the task's name there (_program.retarget)."""
    from migrakit.db.connect.server import redact_text

    return retarget(redact_text(text, secrets, short_in_quotes=short_in_quotes))


def github_actions() -> bool:
    """Running as a GitHub Actions step (the runner sets GITHUB_ACTIONS=true)."""
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _step_summary(summary: Callable[[Any, MigrakitError | None], str] | None, result: Any, err: MigrakitError | None,
                  secrets: list[str]) -> None:  # fmt: skip
    """Append `summary(result, err)` (markdown) to GitHub Actions' job summary file, when there is one."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary is None or not path or not github_actions():
        return
    try:
        with open(path, "a", encoding="utf-8") as out:
            out.write(shown(summary(result, err), secrets, short_in_quotes=False) + "\n")
    except OSError as exc:  # a summary that cannot be written never changes the task's outcome
        print(f"warning: cannot append to GITHUB_STEP_SUMMARY ({path}): {exc.strerror}", file=sys.stderr)


def settings_from(c: Any, **options: Any) -> Settings:
    """Settings from pyproject/env, then the importer's Invoke config (`migrakit` key), then task options;
    checked once, here (config.load_settings), before the task reads a folder or connects.

    Refuses (exit 2) under `inv --dry` (or INVOKE_RUN_DRY): Invoke's dry run only echoes shell commands, and
    migrakit sends SQL without the shell, so the task would run for real."""
    if c is not None and _invoke_dry(c):
        raise Exit(
            "error: `inv --dry` (Invoke's run.dry) is not a dry run of migrakit's tasks: it only echoes shell "
            "commands, and migrakit sends its SQL without the shell, so this task would change the database\n"
            "  state: nothing was run\n"
            "  fix:   drop --dry (and unset INVOKE_RUN_DRY); for a dry run use the task's option: "
            "`inv db.migrate --dry-run` (also db.migrate-consolidated, db.bootstrap); "
            "`inv db.status` shows what is pending",
            code=2,
        )
    from migrakit.sources.config import load_settings

    configured = dict(c.config.get("migrakit", {}) or {}) if c is not None else {}
    settings = load_settings(invoke_config=configured, **options)
    for warning in settings.warnings:  # the run goes on; stdout stays the report's (JSON included)
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    return settings


def _collection(module: dict[str, Any]) -> str:
    """The Invoke collection of a tasks module's tasks: its `COLLECTION`, else the module's own name."""
    return str(module.get("COLLECTION") or module.get("__name__", "").rsplit(".", 1)[-1])


def _invoke_dry(c: Any) -> bool:
    try:
        return bool(c.config.run.dry)
    except (AttributeError, KeyError):
        return False


@contextmanager
def _long_lived_heap() -> Iterator[None]:
    """What exists when a task starts (the modules it imported, Invoke's parser) lives until it ends: the garbage
    collector skips it (`gc.freeze`) instead of scanning it again whenever the task's allocations trigger a
    collection (db.status on 10,000 migrations makes ~100,000 objects: ~35 ms). Unfrozen afterwards."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def _signals() -> Iterator[None]:
    """SIGINT and SIGTERM stop the task as Ctrl-C does (errors.Signalled, a KeyboardInterrupt: psycopg cancels
    the statement it waits for, the migration's transaction is rolled back, the error says what stayed applied;
    exit 130 or 143). A second signal exits at once, without waiting for the cancel or the rollback: the server
    rolls back the open transaction when it sees the session close. Only in the main thread (where Python runs
    signal handlers); the previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum: int, frame: object) -> None:
        if received:
            os.write(2, f"interrupted again ({signal.Signals(signum).name}): exiting now; the server rolls back "
                        "the open transaction when it sees the connection close\n".encode())  # fmt: skip
            os._exit(128 + received[0])
        received.append(signum)
        raise Signalled(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _told(call: Callable[[], Any]) -> Any:
    """`call()`; a silent server no step of it translated (db/connect/answer.NoAnswer) is its error (exit 6)."""
    from migrakit.db.connect.answer import STOPPED, NoAnswer

    try:
        return call()
    except NoAnswer as silent:
        raise silent.unavailable(STOPPED) from None


def run_core(
    task: str,
    render: Callable[[Any, str], str],
    call: Callable[[], Any],
    fmt: str,
    settings: Settings | None = None,
    summary: Callable[[Any, MigrakitError | None], str] | None = None,
) -> Any:
    """Run `call` for `task` (its full name, e.g. `db.migrate`: the JSON document's `task`), print
    `render(result, fmt)` (JSON: render/json/document.py's document) and exit with the report's `exit_code`; turn
    MigrakitError into Exit with its code and its fix.

    Nothing printed holds a password: an error's fields are redacted one by one before rendering (libpq quotes
    what it could not read, so short password pieces are masked inside quotes there), then the whole output
    again by shape and by every long password piece (JSON: not inside quotes, where its keys are). The URLs
    are the configured database, shadow and direct URLs, plus those in the environment and on the command line."""
    from migrakit.db.connect.server import redact_url
    from migrakit.render.json import document as as_json

    url = settings.database_url if settings is not None else None
    given = (settings.database_url, settings.shadow_url, settings.direct_url) if settings is not None else ()
    urls = [u for u in given if u]
    with _long_lived_heap(), _signals():
        try:
            result = _told(call)
        except MigrakitError as err:
            _step_summary(summary, None, err, urls)
            raise _exit(err, fmt, urls, task, url) from err
        except KeyboardInterrupt as stop:  # stopped outside a migration (the workflow names those it stopped)
            stopped = Interrupted(
                f"interrupted by {stop.name if isinstance(stop, Signalled) else 'SIGINT'}",
                state="a transaction open at that moment was rolled back; what this task printed above is what it did",
                fix="run the task again; `inv db.status` shows what is applied",
                signum=signal_of(stop),
            )
            raise _exit(stopped, fmt, urls, task, url) from None
        _step_summary(summary, result, None, urls)
        code = int(result.exit_code)  # every report class carries it (0, or e.g. 5: the plan needs --yes)
        if fmt == "json":
            shown_url = redact_url(url) if url else None
            text = as_json.dumps(as_json.document(task, result, exit_code=code, shown_url=shown_url))
        else:
            text = render(result, fmt)
        _write(shown(text, urls, short_in_quotes=fmt != "json"))
    sys.stdout.flush()
    if code:
        raise Exit(code=code)
    return result


def redact_error(err: MigrakitError, urls: list[str]) -> None:
    """Mask passwords in each text field of `err` (in place), before any renderer quotes them."""
    from migrakit.db.connect.server import redact_text

    for name in ("message", "file", "cause", "state", "fix"):
        value = getattr(err, name)
        if isinstance(value, str):
            setattr(err, name, redact_text(value, urls))
    err.details = [redact_text(d, urls) for d in err.details]
