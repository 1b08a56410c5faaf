"""`db.server-status` and `db.server-stop` as text (their JSON: render/json/embedded.py)."""

from __future__ import annotations

from pathlib import Path

from migrakit.core.reports.embedded import EMBEDDED_INSTALL_FIX as INSTALL_FIX
from migrakit.core.reports.embedded import EMBEDDED_PACKAGE as PACKAGE
from migrakit.core.reports.embedded import ServerStatus, StopResult
from migrakit.render.json import embedded as _json  # noqa: F401  (registers this command's JSON serializers)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def render_server_status(status: ServerStatus, fmt: str) -> str:
    url = status.shown_url  # JSON: render/json/embedded.py server_status
    data = _shown(status.data_dir)
    if status.initialized:
        data += f" (created by PostgreSQL {status.data_version})"
    else:
        data += " (not created yet: the first task run without DATABASE_URL creates and starts it)"
    package = f"{PACKAGE} {status.package_version}" if status.package_version else f"not installed: {INSTALL_FIX}"
    if status.running:
        lines = [f"embedded PostgreSQL: running (pid {status.pid}, since {status.started_at})", f"  data:    {data}"]
        lines.append(f"  url:     {url}")
        version = f"PostgreSQL {status.server_version}" if status.server_version else "unknown"
        lines.append(f"  version: {version} ({package})")
        lines.append("  stop:    inv db.server-stop")
    else:
        state = "not running" + (
            " (postmaster.pid is stale: no live server of this data directory)" if status.stale_pidfile else ""
        )
        lines = [f"embedded PostgreSQL: {state}", f"  data:    {data}", f"  package: {package}"]
        if status.package_version:
            lines.append("  start:   any task run without DATABASE_URL starts it (e.g. inv db.status)")
    if status.note:
        lines.append(f"  note:    {status.note}")
    if status.database_url_set:
        lines.append("  note:    DATABASE_URL is set: tasks use that server, not this one")
    return "\n".join(lines)


def render_server_stop(result: StopResult, fmt: str) -> str:
    if not result.was_running:
        return f"the embedded PostgreSQL is not running (data in {_shown(result.data_dir)}): nothing to stop"
    return (
        f"stopped the embedded PostgreSQL (pid {result.pid}, data in {_shown(result.data_dir)}) in {result.seconds} s; "
        "the next task run without DATABASE_URL starts it again"
    )
