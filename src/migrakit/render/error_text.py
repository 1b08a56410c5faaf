"""A MigrakitError as text: the one place errors become words (their JSON: render/json/shapes.py's `error`).

The error carries data (message, file, migration, cause, state, details, fix); this lays it out, one labelled
line each, the fix last.
"""

from __future__ import annotations

from migrakit.errors import MigrakitError


def github_error(err: MigrakitError) -> str:
    """The error as a GitHub Actions annotation (`::error file=…,line=…,col=…::message`), shown on the file's
    line in a pull request; the full error follows it in the log."""
    fields = (("file", err.file), ("line", err.line), ("col", err.col))
    where = ",".join(f"{key}={github_property(str(value))}" for key, value in fields if value)
    text = err.message + (f": {err.cause}" if err.cause else "") + (f" (fix: {err.fix})" if err.fix else "")
    return f"::error {where}::{github_data(text)}" if where else f"::error::{github_data(text)}"


def github_data(text: str) -> str:
    """GitHub's workflow-command escaping of a message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text: str) -> str:
    """... and of a property's value (also `:` and `,`)."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


def render_error(err: MigrakitError, fmt: str = "plain") -> str:
    """The error as text (JSON errors: render/json/document.py's error_document)."""
    where = err.file or ""
    if err.file and err.line:
        where += f":{err.line}" + (f":{err.col}" if err.col is not None else "")  # a line alone: no `:None`
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
