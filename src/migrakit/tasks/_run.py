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
    return load_settings().with_overrides("Invoke config migrakit", **configured).with_overrides(**options)


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
    from ..report import render_error
    from ..server import redact_text

    secrets = [settings.database_url] if settings is not None and settings.database_url else []
    try:
        result = call()
    except MigrakitError as err:
        text = redact_text(render_error(err, "json" if fmt == "json" else "plain"), secrets)
        if fmt == "json":
            print(text)
            raise Exit(code=err.exit_code) from err
        raise Exit(text, code=err.exit_code) from err
    print(redact_text(render(result, fmt), secrets))
    sys.stdout.flush()
    if not ok(result):
        raise Exit(code=fail_code)
    return result
