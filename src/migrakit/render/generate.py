"""db.generate as text: the migration written, its destructive statements and the next step (its JSON:
render/json/generate.py's `generated`)."""

from __future__ import annotations

from migrakit.render.json import generate as _json  # noqa: F401  (registers this command's JSON serializers)
from migrakit.workflows.generate import Generated


def render_generated(result: Generated, fmt: str = "plain") -> str:
    """Text; JSON is render/json/generate.py's `generated`."""
    if result.tag is None:
        return result.note
    lines = [f"wrote migration {result.tag}"] + [f"  {f}" for f in result.files]
    if result.destructive:
        lines.append("destructive statements (allowed by --allow-destructive):")
        lines += [f"  {s}" for s in result.destructive]
    if result.note:
        lines.append(result.note)
    lines.append("next: review the SQL, then `inv db.migrate`")
    return "\n".join(lines)
