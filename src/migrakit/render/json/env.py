"""env.check as JSON; render/env.py is its text."""

from __future__ import annotations

from migrakit.render.json.shapes import Data, check, serializes
from migrakit.workflows.env_check import EnvReport


@serializes(EnvReport)
def env_check(r: EnvReport) -> Data:
    """envcheck.EnvReport (env.check)."""
    database = next((c.found for c in r.checks if c.name == "database reachable" and c.ok), None)
    return {"database": database, "checks": [check(c) for c in r.checks], "notes": list(r.notes)}
