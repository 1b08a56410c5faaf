"""db.generate as text: the migrations written, what was made lock-safe, db.lint's findings, its destructive
statements and the next step (its JSON: render/json/generate.py's `generated`)."""

from __future__ import annotations

from migrakit.core.reports.write import Generated
from migrakit.render.json import generate as _json  # noqa: F401  (registers this command's JSON serializers)


def render_generated(result: Generated, fmt: str = "plain") -> str:
    """Text; JSON is render/json/generate.py's `generated`."""
    if result.tag is None:
        return result.note
    if len(result.tags) > 1:
        lines = [f"wrote {len(result.tags)} migrations (the change's lock-safe sequence): {', '.join(result.tags)}"]
    else:
        lines = [f"wrote migration {result.tag}"]
    lines += [f"  {f}" for f in result.files]
    if result.fixes:
        lines.append("made lock-safe:")
        lines += [f"  {f}" for f in result.fixes]
    if result.lint:
        lines.append("db.lint on them (measured on a shadow database before they were written):")
        lines += [f"  {line}" for line in result.lint]
    if result.destructive:
        lines.append("destructive statements (allowed by --allow-destructive):")
        lines += [f"  {s}" for s in result.destructive]
    if result.note:
        lines.append(result.note)
    lines.append("next: review the SQL, then `inv db.migrate`")
    return "\n".join(lines)
