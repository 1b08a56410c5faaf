"""`legacy.retire`'s fold: the legacy files' SQL byte for byte, with its manifest, written into the consolidated
folder; the project's git checkout. The plan itself (`RetirePlan`) and the record appended to
docs/legacy-migration-retirement.md are core/reports/retire.py's; command.py gathers the plan, proves the fold and
acts on it. [I/O]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from migrakit.core.migration import Migration, Replaced, drizzle_hash
from migrakit.core.reports.retire import RetirePlan
from migrakit.core.settings import Settings
from migrakit.errors import ConfigError
from migrakit.sources.consolidated import render_manifest

FOLD_NAME = "retired_legacy"


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
