"""The one place where core results become output and MigrakitError becomes an exit code."""

from __future__ import annotations

import logging
import sys
from typing import Any, Callable

from invoke.exceptions import Exit

from ..config import Settings, load_settings
from ..errors import MigrakitError

class _RedactInvokeLog(logging.Filter):
    """`inv -d` / `migrakit -d` log every parsed argument, `--database-url` included: mask passwords first."""

    def filter(self, record: logging.LogRecord) -> bool:
        from ..server import redact_text

        try:
            record.msg, record.args = redact_text(record.getMessage()), ()
        except Exception:  # never let a log line be the leak or the crash
            record.msg, record.args = "<debug line hidden>", ()
        return True


logging.getLogger("invoke").addFilter(_RedactInvokeLog())

# When a connection drops mid-pipeline, psycopg logs "error ignored terminating <Pipeline>" through logging's
# last-resort handler (stderr) before migrakit reports the failure itself, with its state and fix.
logging.getLogger("psycopg").addHandler(logging.NullHandler())


def settings_from(c: Any, **options: Any) -> Settings:
    """Settings from pyproject/env, then the importer's Invoke config (`migrakit` key), then task options.

    Refuses (exit 2) under `inv --dry` (or INVOKE_RUN_DRY): Invoke's dry run only echoes shell commands, and
    migrakit sends SQL without the shell, so the task would run for real."""
    if c is not None and _invoke_dry(c):
        raise Exit(
            "error: `inv --dry` (Invoke's run.dry) is not a dry run of migrakit's tasks: it only echoes shell "
            "commands, and migrakit sends its SQL without the shell, so this task would change the database\n"
            "  state: nothing was run\n"
            "  fix:   drop --dry (and unset INVOKE_RUN_DRY); for a dry run use the task's option: "
            "`inv db.migrate --dry-run` (also db.migrate-consolidated, db.bootstrap); `inv db.status` shows what is pending",
            code=2,
        )
    configured = dict(c.config.get("migrakit", {}) or {}) if c is not None else {}
    configured = {k: v for k, v in configured.items() if k != "app"}
    return load_settings().with_overrides("Invoke config migrakit", **configured).with_overrides(**options)


def _invoke_dry(c: Any) -> bool:
    try:
        return bool(c.config.run.dry)
    except (AttributeError, KeyError):
        return False


def run_core(
    render: Callable[[Any, str], str],
    call: Callable[[], Any],
    fmt: str,
    ok: Callable[[Any], bool] = lambda _: True,
    fail_code: int = 1,
    settings: Settings | None = None,
) -> Any:
    """Run `call`, print `render(result, fmt)`; turn MigrakitError into Exit with its code and its fix.

    Nothing printed holds a password: an error's fields are redacted one by one before rendering (libpq quotes
    what it could not read, so short password pieces are masked inside quotes there), then the whole output
    again by shape and by every long password piece (JSON: not inside quotes, where its keys are). The URLs
    are the configured database and shadow URLs, plus those in the environment and on the command line."""
    from ..report import render_error
    from ..server import redact_text

    urls = [u for u in (settings.database_url, settings.shadow_url) if u] if settings is not None else []
    json = fmt == "json"
    try:
        result = call()
    except MigrakitError as err:
        redact_error(err, urls)
        text = redact_text(render_error(err, "json" if json else "plain"), urls, short_in_quotes=not json)
        if json:
            print(text)
            raise Exit(code=err.exit_code) from err
        raise Exit(text, code=err.exit_code) from err
    print(redact_text(render(result, fmt), urls, short_in_quotes=not json))
    sys.stdout.flush()
    if not ok(result):
        raise Exit(code=fail_code)
    return result


def redact_error(err: MigrakitError, urls: list[str]) -> None:
    """Mask passwords in each text field of `err` (in place), before any renderer quotes them."""
    from ..server import redact_text

    for name in ("message", "file", "cause", "state", "fix"):
        value = getattr(err, name)
        if isinstance(value, str):
            setattr(err, name, redact_text(value, urls))
    err.details = [redact_text(d, urls) for d in err.details]
