"""db.baseline as text: the generated statements, the proof, what was (or would be) written and tracked (its JSON:
render/json/baseline.py's `baseline`)."""

from __future__ import annotations

from migrakit.core.reports.write import (
    ADOPT_PLANNED,
    ADOPTED,
    EMPTY,
    IN_SYNC,
    LEGACY_PLANNED,
    LEGACY_RECORDED,
    PLANNED,
    WRITTEN,
    BaselineReport,
)  # fmt: skip
from migrakit.render.json import baseline as _json  # noqa: F401  (registers this command's JSON serializers)


def render_baseline(report: BaselineReport, fmt: str = "plain") -> str:
    """Text; JSON is render/json/baseline.py's `baseline`."""
    lines = [f"database: {report.target}"]
    if report.outcome in (EMPTY, IN_SYNC):
        return "\n".join(lines + report.notes)
    if report.outcome in (PLANNED, WRITTEN):
        lines.append(f"baseline {report.tag}: {len(report.statements)} statement(s) generated from the live schema")
        lines += [f"  {s.splitlines()[0]}" + (" ..." if "\n" in s else "") for s in report.statements]
        if len(report.tags) > 1:
            lines.append(f"written as {len(report.tags)} migrations (its lock-safe sequence): {', '.join(report.tags)}")
        if report.fixes:
            lines.append("made lock-safe:")
            lines += [f"  {f}" for f in report.fixes]
        lines.append(
            "proof: applied after every migration to a shadow database, it gives exactly this database's schema"
        )
        if report.lint:
            lines.append("db.lint on it (measured on a shadow database, with this database's sizes):")
            lines += [f"  {line}" for line in report.lint]
        lines += [
            f"warning: drops what the migrations create and this database lacks: {s.splitlines()[0]}"
            for s in report.destructive
        ]
    lines += [f"note: {n}" for n in report.notes]
    names, them = ", ".join(report.tags or [str(report.tag)]), "them" if len(report.tags) > 1 else "it"
    if report.outcome == PLANNED:
        rows = "its tracking row" if len(report.tags) < 2 else f"their {len(report.tags)} tracking rows"
        lines.append(f"would write: {', '.join(report.files)}; and insert {rows} here")
        lines.append("nothing was written: run again with --yes to write the baseline and track it on this database")
    elif report.outcome == WRITTEN:
        lines.append(f"wrote: {', '.join(report.files)}")
        lines.append(f"tracked {names} here without running {them} (proven above); commit the files")
    elif report.outcome == ADOPT_PLANNED:
        lines.append(f"nothing was tracked: run again with --yes to record {names} as applied on this database")
    elif report.outcome == ADOPTED:
        lines.append(f"tracked {names} here without running {them} (proven above)")
    elif report.outcome == LEGACY_PLANNED:
        lines.append("nothing was tracked: run again with --yes to record the legacy files as run on this database")
    if report.legacy:
        verb = "recorded" if report.outcome in (WRITTEN, ADOPTED, LEGACY_RECORDED) else "would record"
        lines.append(f"legacy files ({verb} as run, proven by the same schema comparison): {', '.join(report.legacy)}")
    return "\n".join(lines)
