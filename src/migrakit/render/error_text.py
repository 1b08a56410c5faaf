"""A MigrakitError as text: the one place errors become words (their JSON: render/json/shapes.py's `error`).

The error carries data (message, file, migration, cause, state, details, fix); this lays it out, one labelled
line each, the fix last.
"""

from __future__ import annotations

from migrakit.errors import MigrakitError


def render_error(err: MigrakitError, fmt: str = "plain") -> str:
    """The error as text (JSON errors: render/json/document.py's error_document)."""
    where = err.file or ""
    if err.file and err.line:
        where += f":{err.line}:{err.col}"
    lines = [f"error: {err.message}"]
    for label, value in (
        ("file", where),
        ("migration", err.migration if err.migration and err.migration not in err.message else None),
        ("cause", err.cause),
        ("state", err.state),
    ):
        if value:
            lines.append(f"  {label + ':':<7}{' ' if len(label) < 7 else ' '}{value}")
    lines.extend(f"  {d}" for d in err.details)
    if err.fix:
        lines.append(f"  fix:    {err.fix}")
    return "\n".join(lines)
