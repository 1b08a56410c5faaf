"""db.server-status and db.server-stop as JSON; render/embedded.py is their text."""

from __future__ import annotations

from migrakit.core.reports.embedded import EMBEDDED_PACKAGE, ServerStatus, StopResult
from migrakit.render.json.shapes import Data, serializes


@serializes(ServerStatus)
def server_status(st: ServerStatus) -> Data:
    """core.reports.embedded.ServerStatus (db.server-status): `database_url` is the embedded server's own URL, redacted."""

    return {
        "database_url": st.shown_url,
        "running": st.running,
        "pid": st.pid,
        "data_dir": str(st.data_dir),
        "initialized": st.initialized,
        "data_version": st.data_version,
        "server_version": st.server_version,
        "started_at": st.started_at,
        "package": EMBEDDED_PACKAGE,
        "package_version": st.package_version,
        "stale_pidfile": st.stale_pidfile,
        "database_url_set": st.database_url_set,
        "notes": [st.note] if st.note else [],
    }


@serializes(StopResult)
def server_stop(r: StopResult) -> Data:
    """core.reports.embedded.StopResult (db.server-stop)."""
    return {"changed": r.was_running, "stopped": r.was_running, "pid": r.pid, "data_dir": str(r.data_dir), "seconds": r.seconds}
