"""env.check as text: one line per check, the fix under each failure, then the notes (its JSON: render/json/env.py's
`env_check`). A failed env.check raises its error, whose details are these same lines."""

from __future__ import annotations

from migrakit.core.reports.check import EnvReport, check_lines
from migrakit.render.json import env as _json  # noqa: F401  (registers this command's JSON serializers)


def render_env(report: EnvReport, fmt: str = "plain") -> str:
    """Text; JSON is render/json/env.py's `env_check`."""
    return "\n".join([*check_lines(report.checks), *(f"note: {n}" for n in report.notes)])
