"""db.server-status and db.server-stop: the embedded PostgreSQL of .migrakit/ (part of the db collection)."""

from __future__ import annotations

from typing import Any

from migrakit.tasks._run import run_core, settings_from, task

COLLECTION = "db"  # tasks/db/__init__.py adds these to the db collection: db.server-status, db.server-stop


# ------------------------------------------------------------------------------------------ the embedded server
@task(help={"json": "Print the status as JSON."})
def server_status(c: Any, json: bool = False) -> None:
    """Show whether the embedded PostgreSQL (.migrakit/) runs: pid, data directory, URL, version. Starts nothing."""
    from migrakit.db.connect.embedded import status
    from migrakit.render.embedded import render_server_status

    settings = settings_from(c)
    fmt = "json" if json else "plain"
    call = lambda: status(settings.embedded_dir, database_url_set=bool(settings.database_url))  # noqa: E731
    run_core("db.server-status", render_server_status, call, fmt)


@task(help={"json": "Print the result as JSON."})
def server_stop(c: Any, json: bool = False) -> None:
    """Stop the embedded PostgreSQL cleanly (fast shutdown, at most 30 s); says so when nothing runs."""
    from migrakit.db.connect.embedded import stop
    from migrakit.render.embedded import render_server_stop

    settings = settings_from(c)
    run_core("db.server-stop", render_server_stop, lambda: stop(settings.embedded_dir), "json" if json else "plain", settings=settings)
