"""The one place where core results become output and MigrakitError becomes an exit code."""

from __future__ import annotations

import logging
import sys
from typing import Any, Callable

from invoke.exceptions import Exit

from ..config import Settings, load_settings
from ..errors import MigrakitError

# When a connection drops mid-pipeline, psycopg logs "error ignored terminating <Pipeline>" through logging's
# last-resort handler (stderr) before migrakit reports the failure itself, with its state and fix.
logging.getLogger("psycopg").addHandler(logging.NullHandler())


def settings_from(c: Any, **options: Any) -> Settings:
    """Settings from pyproject/env, then the importer's Invoke config (`migrakit` key), then task options."""
    configured = dict(c.config.get("migrakit", {}) or {}) if c is not None else {}
    configured = {k: v for k, v in configured.items() if k != "app"}
    merged = {**configured, **{k: v for k, v in options.items() if v is not None}}
    return load_settings(**merged)


def _task_name(frame_depth: int = 2) -> str:
    """`db.migrate`, `legacy.retire`, ...: the collection (module) and task (function) that called run_core."""
    frame = sys._getframe(frame_depth)
    module = frame.f_globals.get("__name__", "").rsplit(".", 1)[-1]
    return f"{module}.{frame.f_code.co_name.replace('_', '-')}"


def run_core(
    render: Callable[[Any, str], str],
    call: Callable[[], Any],
    fmt: str,
    ok: Callable[[Any], bool] = lambda _: True,
    fail_code: int = 1,
    settings: Settings | None = None,
    task: str | None = None,
) -> Any:
    """Run `call`, print `render(result, fmt)` (JSON: render/json.py's document for `task`, the calling
    task's name by default); turn MigrakitError into Exit with its code and its fix.

    Everything printed goes through redact_text: the configured database URL's password (also where a
    driver message repeats it bare) and any URL-shaped password are replaced by ***."""
    from ..render import json as as_json
    from ..report import render_error
    from ..server import redact_text

    task = task or _task_name()
    url = settings.database_url if settings is not None else None
    secrets = [url] if url else []
    try:
        result = call()
    except MigrakitError as err:
        if fmt == "json":
            print(redact_text(as_json.dumps(as_json.error_document(task, err, database_url=url)), secrets))
            raise Exit(code=err.exit_code) from err
        raise Exit(redact_text(render_error(err), secrets), code=err.exit_code) from err
    code = 0 if ok(result) else fail_code
    if fmt == "json":
        text = as_json.dumps(as_json.document(task, result, exit_code=code, database_url=url))
    else:
        text = render(result, fmt)
    print(redact_text(text, secrets))
    sys.stdout.flush()
    if code:
        raise Exit(code=code)
    return result
