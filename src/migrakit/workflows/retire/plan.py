"""`legacy.retire`'s plan: what it found (`RetirePlan`, its outcome), the fold it writes (the legacy files' SQL
byte for byte, with its manifest) and the record it appends to docs/legacy-migration-retirement.md.
command.py gathers the plan, proves the fold and acts on it. [I/O]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from migrakit import __version__
from migrakit.core.migration import Migration, Replaced, drizzle_hash
from migrakit.core.reports import Check
from migrakit.core.settings import Settings
from migrakit.errors import ConfigError, ConfirmationRequired
from migrakit.sources.build_commands import BuildEdit
from migrakit.sources.consolidated import render_manifest

RECORD = Path("docs") / "legacy-migration-retirement.md"
FOLD_NAME = "retired_legacy"

# outcomes
class Outcome(StrEnum):
    """What legacy.retire found or did (JSON `outcome`: the value)."""

    NOTHING = "nothing-to-retire"
    PLANNED = "planned"
    RETIRED = "retired"


NOTHING, PLANNED, RETIRED = Outcome.NOTHING, Outcome.PLANNED, Outcome.RETIRED


@dataclass
class RetirePlan:
    target: str
    outcome: Outcome = PLANNED
    legacy: list[Migration] = field(default_factory=list)
    recorded: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # hash -> (row id, created_at)
    scripts: list[str] = field(default_factory=list)  # relative to the project root
    script_hashes: dict[str, str] = field(default_factory=dict)
    table: str | None = None  # "schema"."table" to drop, when it exists
    table_rows: int | None = None
    fold: str | None = None  # consolidated file, relative to the project root
    fold_when: int | None = None
    build_edits: list[BuildEdit] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)  # "file:line" still naming a legacy script
    checks: list[Check] = field(default_factory=list)
    record: str = str(RECORD)
    head: str | None = None

    @property
    def done(self) -> bool:
        return self.outcome != PLANNED

    @property
    def exit_code(self) -> int:
        return 0 if self.done else ConfirmationRequired.exit_code


def git_repo(settings: Settings) -> Any:
    import git

    try:
        return git.Repo(settings.root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise ConfigError(
            f"{settings.root} is not inside a git repository",
            fix="legacy.retire removes files with `git rm` so the change is one reviewable commit: run it in the "
            "project's git checkout",
        ) from exc


def relative(path: Path, root: Path) -> str:
    return path.resolve().relative_to(root.resolve()).as_posix()


def fold_text(legacy: Sequence[Migration]) -> str:
    """The legacy files in run order, each under a header naming it and its hash, bytes unchanged."""
    parts = [
        "-- migrakit: the retired legacy folder, file by file in the order they ran. Runs as one transaction on a\n"
        "-- fresh database; a database that ran every file below (their hashes are tracked) only records it.\n"
    ]
    for m in legacy:
        body = m.text if m.text.endswith("\n") else m.text + "\n"
        parts.append(f"\n-- legacy file {m.path} (sha256 {m.hash})\n{body}")
    return "".join(parts)


def fold_files(plan: RetirePlan) -> tuple[str, str] | None:
    """(sql text, manifest text) of the fold, or None when there are no legacy files."""
    if not plan.legacy or plan.fold is None or plan.fold_when is None:
        return None
    text = fold_text(plan.legacy)
    replaces = [Replaced(tag=m.tag, when=m.when, hash=m.hash) for m in plan.legacy]
    manifest = render_manifest(Path(plan.fold).name, plan.fold_when, drizzle_hash(text.encode("utf-8")), replaces)
    return text, manifest


def write_fold(folder: Path, plan: RetirePlan, fold: tuple[str, str]) -> list[Path]:
    assert plan.fold is not None
    sql_path = folder / Path(plan.fold).name
    toml_path = sql_path.with_suffix(".toml")
    folder.mkdir(parents=True, exist_ok=True)
    sql_path.write_bytes(fold[0].encode("utf-8"))
    toml_path.write_text(fold[1], encoding="utf-8")
    return [sql_path, toml_path]


# ------------------------------------------------------------------------------------------ output
def render_record(plan: RetirePlan, *, new_file: bool) -> str:
    """The section written to docs/legacy-migration-retirement.md."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = ["# Legacy migration retirement", ""] if new_file else [""]
    lines += [
        f"## Retired on {now}",
        "",
        f"By `inv legacy.retire --yes` (migrakit {__version__}) against {plan.target}"
        + (f", from commit {plan.head[:12]}." if plan.head else "."),
        "",
        "**Why.** Two migration systems owned one schema, and the legacy runner's own table could say a file was "
        "applied when it never ran. migrakit now runs and tracks every migration in Drizzle's tracking table, "
        "where a row exists only after its SQL ran. Before retiring, each file below was proven run (a tracking "
        "row carries its sha256) and `db.check` found no drift, so the legacy runner is no longer needed.",
        "",
    ]
    if plan.legacy:
        lines += [
            f"**Legacy files** (removed; their SQL lives on byte for byte in `{plan.fold}`, which fresh databases "
            "run and databases that ran these files only record):",
            "",
            "| file | sha256 | tracking row id | created_at |",
            "|---|---|---|---|",
        ]
        for m in plan.legacy:
            row_id, created = plan.recorded.get(m.hash, (None, None))
            lines.append(f"| `{m.path}` | `{m.hash}` | {row_id} | {created} |")
        lines.append("")
    if plan.scripts:
        lines += ["**Legacy scripts** (removed):", ""]
        lines += [f"- `{s}` (sha256 `{plan.script_hashes.get(s, '?')}`)" for s in plan.scripts]
        lines.append("")
    if plan.table:
        lines += [f"**Legacy tracking table** `{plan.table}` ({plan.table_rows} row(s)) dropped.", ""]
    if plan.build_edits:
        lines += ["**Build command** switched to migrakit:", ""]
        lines += [f"- `{e.file}` {e.where}: `{e.before}` -> `{e.after}`" for e in plan.build_edits]
        lines.append("")
    lines += ["**Checks:**", ""] + [f"- {c.name}: {c.found}" for c in plan.checks] + [""]
    return "\n".join(lines)
