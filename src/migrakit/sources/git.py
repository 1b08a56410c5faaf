"""Which Mode 1 migrations did this branch add? (GitPython) [reads git]

The base is where the branch left its base branch: `git merge-base HEAD <base>`. The base branch comes
from, first to last: the `--base` option, `MIGRAKIT_BASE_BRANCH`, `GITHUB_BASE_REF` (set by GitHub Actions
on pull requests, where HEAD is detached), then `base_branch` in `[tool.migrakit]` (default `main`). A
name is looked up as given, then as `origin/<name>`, so CI checkouts without a local `main` work.

New migrations = tags in the working tree's migrations folder that the folder at the merge base did not
have (journal entries for drizzle-kit 0.x folders, migration folders for the Drizzle 1.0 layout).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from migrakit.core.drizzle.journal import JOURNAL_PATH
from migrakit.core.reports.write import BranchCount, BranchMigrations
from migrakit.core.settings import Settings
from migrakit.errors import ConfigError
from migrakit.sources.folders import check_folders, load_folder

DEFAULT_MAX = 20


def base_branch(option: str | None, settings: Settings, env: Mapping[str, str]) -> tuple[str, str]:
    """(base branch name, where it came from)."""
    if option:
        return option, "--base"
    for name in ("MIGRAKIT_BASE_BRANCH", "GITHUB_BASE_REF"):
        if env.get(name):
            return env[name], name
    return settings.base_branch, "base_branch"


def _repo(root: Path) -> Any:
    import git

    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise ConfigError(
            f"{root} is not inside a git repository",
            cause=type(exc).__name__,
            fix="run this in a clone of the project (counting branch migrations needs git history)",
        ) from exc


def _resolve(repo: Any, name: str, source: str) -> tuple[str, Any]:
    import git

    candidates = [name] if name.startswith(("origin/", "refs/")) else [name, f"origin/{name}"]
    for ref in candidates:
        try:
            return ref, repo.commit(ref)
        except (git.BadName, ValueError, git.GitCommandError):
            continue
    raise ConfigError(
        f"base branch {name!r} (from {source}) is not in this clone (tried {', '.join(candidates)})",
        fix=f"fetch it (`git fetch origin {name}`; in GitHub Actions use actions/checkout with fetch-depth: 0), "
        "or name another base with --base or MIGRAKIT_BASE_BRANCH",
    )


def _tags_at(commit: Any, rel: str) -> set[str]:
    """Mode 1 tags of the folder `rel` as it was in `commit` (empty when it did not exist)."""
    try:
        folder = commit.tree / rel if rel not in ("", ".") else commit.tree
    except KeyError:
        return set()
    try:
        journal = folder / JOURNAL_PATH
    except KeyError:
        # Drizzle 1.0 layout: one folder per migration holding migration.sql
        return {t.name for t in folder.trees if any(b.name == "migration.sql" for b in t.blobs)}
    data = json.loads(journal.data_stream.read().decode("utf-8"))
    return {e["tag"] for e in data.get("entries", []) if isinstance(e, dict) and "tag" in e}


def branch_migrations(
    settings: Settings, *, base: str | None = None, env: Mapping[str, str] | None = None
) -> BranchMigrations:
    """The Mode 1 migrations the current branch (or detached HEAD) added since it left its base branch."""
    import os

    env = os.environ if env is None else env
    check_folders(settings)
    repo = _repo(settings.root)
    name, source = base_branch(base, settings, env)
    ref, base_commit = _resolve(repo, name, source)
    try:
        head_commit = repo.head.commit
    except ValueError as exc:
        raise ConfigError("the repository has no commits yet", fix="commit something first") from exc
    bases = repo.merge_base(head_commit, base_commit)
    if not bases:
        raise ConfigError(
            f"HEAD and {ref} share no history (no merge base)",
            fix="name the branch this one was made from with --base",
        )
    head = f"detached HEAD at {head_commit.hexsha[:7]}" if repo.head.is_detached else repo.active_branch.name
    top = Path(repo.working_tree_dir).resolve()
    try:
        rel = settings.migrations_dir.resolve().relative_to(top).as_posix()
    except ValueError as exc:
        raise ConfigError(
            f"the migrations folder {settings.migrations_dir} is outside the git repository {top}",
            fix="point migrations_dir at a folder inside the repository",
        ) from exc
    before = _tags_at(bases[0], rel)
    folder = load_folder(settings.migrations_dir, settings.root, max_bytes=settings.max_file_bytes)
    tags = tuple(m.tag for m in folder.migrations)
    return BranchMigrations(
        base=ref,
        base_source=source,
        merge_base=bases[0].hexsha,
        head=head,
        migrations_dir=rel,
        tags=tuple(t for t in tags if t not in before),
        all_tags=tags,
    )


def count_branch_migrations(
    settings: Settings, *, base: str | None = None, max_count: int = DEFAULT_MAX, env: Mapping[str, str] | None = None
) -> BranchCount:
    """The branch's new Mode 1 migrations against `max_count` (the task exits non-zero above it)."""
    return BranchCount(branch_migrations(settings, base=base, env=env), max_count)
