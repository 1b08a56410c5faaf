"""env.check as JSON; render/env.py is its text."""

from __future__ import annotations

from migrakit.core.reports.check import EnvReport
from migrakit.render.json.shapes import Data, check, serializes


@serializes(EnvReport)
def env_check(r: EnvReport) -> Data:
    """core.reports.check.EnvReport (env.check)."""
    database = next((c.found for c in r.checks if c.name == "database reachable" and c.ok), None)
    return {"database": database, "checks": [check(c) for c in r.checks], "notes": list(r.notes)}
