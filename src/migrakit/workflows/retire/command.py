"""`legacy.retire`: retire a legacy migration system once migrakit has taken over its files. [I/O]

The plan (printed always; acted on only with `yes`):
- **fold**: the legacy files' SQL, byte for byte and in run order, becomes one Mode 2 consolidation in
  `migrations-consolidated/` whose manifest lists every legacy file (tag, created_at, hash) as replaced.
  Fresh databases run it; databases that ran the legacy files (their hashes are tracked, as `db.bootstrap`
  records them) get only its row. So removing the folder loses nothing. Proven before anything changes:
  all migrations plus the fold, without the legacy folder, applied to a shadow database give exactly the
  target's schema.
- **files**: the legacy files and scripts are removed with `git rm`; the fold, the edited build files and
  `docs/legacy-migration-retirement.md` are added with `git add`. Nothing is committed: the staged change
  is one reviewable commit for the user to make.
- **build**: commands in `package.json` scripts and `[tool.migrakit.app]` that call a legacy script call
  `migrakit db.migrate` instead; other tracked files that still name a legacy script are listed.
- **table**: the legacy tracking table is dropped, in the same transaction that records the fold's row.

Preconditions, each checked against the target: every legacy file's hash is in the tracking table,
`db.check` finds no drift, the git working tree is clean. One shadow database serves both the drift check and
the fold's proof (the fold is the legacy files' SQL byte for byte, in their order, after the same migrations);
db.check's own shadow (each legacy file in its own transaction) is built only when that one differs.

The plan itself, the fold's files and the record written into docs/ live in plan.py.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migrakit import __version__
from migrakit.core.differences import SchemaDiff, difference_lines
from migrakit.core.drizzle.naming import utc_stamp
from migrakit.core.migration import CONSOLIDATED, Migration, drizzle_hash
from migrakit.core.reports.check import Check, check_lines
from migrakit.core.reports.retire import NOTHING, RECORD, RETIRED, RetirePlan, render_record
from migrakit.core.settings import Settings
from migrakit.db import tracking
from migrakit.db.connect import server, session
from migrakit.db.inspect import schema_diff as schema
from migrakit.db.inspect import shadow
from migrakit.db.legacy_table import legacy_table, record_and_drop
from migrakit.errors import DriftError, MigrakitError
from migrakit.sources.build_commands import apply_build_edit, build_edits, legacy_scripts, mentions
from migrakit.sources.folders import V1, load_folder
from migrakit.sources.legacy import load_legacy
from migrakit.sources.load import load_sources
from migrakit.workflows.retire.plan import FOLD_NAME, fold_files, git_repo, relative, write_fold
from migrakit.workflows.steps import shadow_build
from migrakit.workflows.steps.options import ignored_tables, shadow_options, target_options, tracking_table
from migrakit.workflows.steps.status import read_status


# ------------------------------------------------------------------------------------------ gathering
@dataclass
class _Shadows:
    """What the shadow databases showed: the schema difference `db.check` would find, and the fold's proof."""

    diff: SchemaDiff
    fold_diff: SchemaDiff | None = None  # all migrations plus the fold, without the legacy folder
    fold_error: MigrakitError | None = None  # the fold failed on its shadow (raised once the preconditions hold)


def _gather(settings: Settings) -> tuple[RetirePlan, _Shadows | None]:
    target = session.resolve_target(target_options(settings))
    plan = RetirePlan(target.display)
    limit = settings.max_file_bytes
    plan.legacy = list(load_legacy(settings.legacy_dir, settings.root, required=False, max_bytes=limit))
    scripts = legacy_scripts(settings)
    plan.scripts = [relative(p, settings.root) for p in scripts]
    plan.script_hashes = {relative(p, settings.root): drizzle_hash(p.read_bytes()) for p in scripts}
    with server.connect(target.url, autocommit=True) as conn:
        rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)
        plan.table, plan.table_rows = legacy_table(conn, settings.legacy_table)
    plan.recorded = {r.hash: (r.id, r.created_at) for r in rows}
    if not (plan.legacy or plan.scripts or plan.table):
        plan.outcome = NOTHING
        return plan, None

    repo = git_repo(settings)
    plan.head = repo.head.commit.hexsha if repo.head.is_valid() else None
    unrecorded = [m for m in plan.legacy if m.hash not in plan.recorded]
    plan.checks.append(
        Check(
            "legacy files ran",
            not unrecorded,
            f"{len(plan.legacy) - len(unrecorded)} of {len(plan.legacy)} legacy file(s) "
            "have a tracking row with their hash"
            + (f"; not proven to have run: {', '.join(m.path for m in unrecorded)}" if unrecorded else ""),
            None if not unrecorded else (
                "run `inv db.bootstrap`: it runs each legacy file that has no row and records it "
                "(a legacy runner's own table, or the tables that exist, prove nothing)"
            ),
        )
    )
    status = read_status(settings, load_sources(settings), allow_empty=None)  # db.check's tracking problems
    problems = status.plan.problems + (status.legacy.problems if status.legacy else ())
    if plan.legacy:  # the fold is named now: the shadow below proves it
        plan.fold_when = _fold_when(settings, rows)
        stamp = utc_stamp(plan.fold_when)
        plan.fold = relative(settings.consolidated_dir, settings.root) + f"/{stamp}_{FOLD_NAME}.sql"
    shadows = _shadows(settings, target, plan, fold_files(plan))
    drifted = not shadows.diff.equal or any(p.blocking for p in problems)
    plan.checks.append(
        Check(
            "no drift (db.check)",
            not drifted,
            "the database schema is what the migrations and legacy files produce"
            if not drifted
            else f"{len(shadows.diff.differences)} schema difference(s), "
            f"{sum(p.blocking for p in problems)} tracking problem(s)",
            None if not drifted else "run `inv db.check` to see each difference; usually `inv db.bootstrap` "
            "(legacy files that never ran), or put a manual change into a migration",
        )
    )
    dirty = _dirty(repo)
    plan.checks.append(
        Check(
            "working tree clean",
            not dirty,
            "nothing to commit" if not dirty else f"{len(dirty)} changed or untracked path(s): {', '.join(dirty[:5])}",
            None if not dirty else "commit or stash your changes first, so the retirement is one reviewable commit",
        )
    )
    untracked = [p for p in [*(m.path for m in plan.legacy), *plan.scripts] if not _tracked_by_git(repo, settings, p)]
    if untracked:
        plan.checks.append(
            Check("legacy files in git", False, f"not tracked by git: {', '.join(untracked)}",
                  "commit them first: the retirement removes files with `git rm`, so git keeps them")  # fmt: skip
        )
    plan.build_edits = build_edits(settings, plan.scripts)
    plan.mentions = mentions(settings.root, plan.scripts, set(plan.scripts) | {e.file for e in plan.build_edits})
    return plan, shadows


def _dirty(repo: Any) -> list[str]:
    return [line[3:] for line in repo.git.status("--porcelain", "--untracked-files=all").splitlines() if line.strip()]


def _tracked_by_git(repo: Any, settings: Settings, path: str) -> bool:
    return bool(repo.git.ls_files("--", str((settings.root / path).resolve())).strip())


def _fold_when(settings: Settings, rows: Sequence[Any]) -> int:
    """After every journal `when` and every tracked created_at, so fresh databases run the fold after the Mode 1
    migrations (where the legacy files always ran) and Drizzle never skips a later journal migration."""
    folder = load_folder(settings.migrations_dir, settings.root, max_bytes=settings.max_file_bytes)
    newest = max([m.when for m in folder.migrations] + [r.created_at or 0 for r in rows] + [0])
    return max(int(time.time() * 1000), newest + 1)


# ------------------------------------------------------------------------------------------ acting
def retire(settings: Settings, *, yes: bool = False) -> RetirePlan:
    """Print the plan; with `yes`, and only when every precondition holds, retire the legacy system."""
    plan, shadows = _gather(settings)
    if plan.outcome == NOTHING or shadows is None:
        return plan
    failed = [c for c in plan.checks if not c.ok]
    if failed:
        error = DriftError if any(c.name != "working tree clean" for c in failed) else MigrakitError
        raise error(
            f"cannot retire the legacy system: {len(failed)} precondition(s) failed "
            f"({', '.join(c.name for c in failed)})",
            state="nothing was changed",
            fix=failed[0].fix,
            details=check_lines(plan.checks),
        )
    fold_file = fold_files(plan)
    _prove_fold(plan, shadows)
    if not yes:
        return plan
    _act(settings, plan, fold_file)
    plan.outcome = RETIRED
    return plan


def _shadows(settings: Settings, target: session.Target, plan: RetirePlan, fold: tuple[str, str] | None) -> _Shadows:
    """One shadow database where it suffices: all migrations plus the fold, without the legacy folder. The fold
    is the legacy files' SQL byte for byte, in the order db.bootstrap runs them, after the same migrations, so
    when that shadow equals the target, so would db.check's (migrations, then each legacy file). Only when it
    differs (or the fold fails) is db.check's own shadow built, to tell drift from a fold that cannot stand in
    for the legacy files."""
    fold_diff, fold_error = None, None
    if fold is not None:
        try:
            fold_diff = _fold_diff(settings, target, plan, fold)
        except MigrakitError as err:
            fold_error = err
        if fold_diff is not None and fold_diff.equal:
            return _Shadows(fold_diff, fold_diff)
    with shadow.shadow(shadow_options(settings)) as url:
        shadow_build.build(settings, url, load_sources(settings, require_migrations=False))
        diff = schema.compare(url, target.url, ignore_tables=ignored_tables(settings))
    return _Shadows(diff, fold_diff, fold_error)


def _fold_diff(
    settings: Settings, target: session.Target, plan: RetirePlan, fold: tuple[str, str]
) -> SchemaDiff:
    """All migrations plus the fold, without the legacy folder, on a shadow database, compared with the target."""
    with tempfile.TemporaryDirectory(prefix="migrakit-retire-") as tmp:
        consolidated = Path(tmp) / "consolidated"
        if settings.consolidated_dir.is_dir():
            shutil.copytree(settings.consolidated_dir, consolidated)
        consolidated.mkdir(exist_ok=True)
        write_fold(consolidated, plan, fold)
        after = settings.with_overrides(consolidated_dir=str(consolidated))
        after = after.with_overrides(legacy_dir=str(Path(tmp) / "no-legacy"))
        with shadow.shadow(shadow_options(settings)) as url:
            shadow_build.build(after, url, load_sources(after, require_migrations=False))
            return schema.compare(url, target.url, ignore_tables=ignored_tables(settings))


def _prove_fold(plan: RetirePlan, shadows: _Shadows) -> None:
    """All migrations plus the fold, without the legacy folder, on a shadow database == the target's schema."""
    if shadows.fold_error is not None:
        raise shadows.fold_error
    diff = shadows.fold_diff
    if diff is None:
        return
    plan.checks.append(
        Check("fold reproduces the schema", diff.equal,
              "all migrations plus the fold, without the legacy folder, give exactly this database's schema"
              if diff.equal else f"{len(diff.differences)} difference(s) without the legacy folder")  # fmt: skip
    )
    if not diff.equal:
        raise DriftError(
            "cannot retire the legacy system: without the legacy folder, the migrations plus the fold would not "
            "give this database's schema",
            file=plan.fold,
            state="nothing was changed",
            fix="the differences below would be lost for fresh databases; this usually means migrakit cannot yet run "
            "consolidated files here. Report it; keep the legacy folder meanwhile",
            details=[line for d in diff.differences for line in difference_lines(d)],
        )


def _act(settings: Settings, plan: RetirePlan, fold: tuple[str, str] | None) -> None:
    """Files first (undone from git if anything fails: the tree was clean), then the database in one transaction."""
    repo = git_repo(settings)
    root = settings.root
    added: list[Path] = []
    edited: list[str] = []
    removed = [*(m.path for m in plan.legacy), *plan.scripts]
    new_dirs = [d for d in (settings.consolidated_dir, (root / RECORD).parent) if not d.exists()]
    try:
        if fold is not None:
            added += write_fold(settings.consolidated_dir, plan, fold)
        for edit in plan.build_edits:
            if apply_build_edit(root, edit):
                edited.append(edit.file)
            else:
                plan.mentions.append(f"{edit.file} ({edit.where}: edit by hand, the command is escaped in the file)")
        record = root / RECORD
        new_record = not record.exists()
        record.parent.mkdir(parents=True, exist_ok=True)
        with record.open("a", encoding="utf-8") as out:
            out.write(render_record(
                plan, new_file=new_record, now=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"), version=__version__
            ))
        if new_record:
            added.append(record)
        else:
            edited.append(relative(record, root))
        if removed:  # absolute paths: the project may sit below the repository's top folder
            repo.git.rm("-q", "--", *[str(root / p) for p in removed])
        repo.git.add("--", *[str(p) for p in added], *[str(root / e) for e in edited])
        _retire_in_database(settings, plan, fold)
    except BaseException:
        _undo(repo, root, added, edited, removed)
        for d in new_dirs:
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
        raise


def _retire_in_database(settings: Settings, plan: RetirePlan, fold: tuple[str, str] | None) -> None:
    """One transaction: the fold's tracking row (its replaced files are proven run by hash) and DROP TABLE."""
    row = None
    if fold is not None and plan.fold is not None and plan.fold_when is not None:
        digest = drizzle_hash(fold[0].encode("utf-8"))
        row = Migration(
            tag=Path(plan.fold).stem, when=plan.fold_when, path=plan.fold, text=fold[0], hash=digest, mode=CONSOLIDATED
        )
    v1 = load_folder(settings.migrations_dir, settings.root, max_bytes=settings.max_file_bytes).layout == V1
    url = session.resolve_target(target_options(settings)).url
    record_and_drop(
        url, tracking_table(settings), row, legacy=settings.legacy_table, lock_wait_timeout=settings.lock_wait_timeout,
        drop=bool(plan.table), v1=v1,
    )


def _undo(repo: Any, root: Path, added: list[Path], edited: list[str], removed: list[str]) -> None:
    """Put the files back as HEAD has them (the tree was clean before): unstage, restore, delete new files."""
    paths = [str(p) for p in added if p.exists()] + [str(root / p) for p in edited + removed]
    if paths:
        repo.git.reset("-q", "HEAD", "--", *paths)
    restore = [str(root / p) for p in edited + removed]
    if restore:
        repo.git.checkout("HEAD", "--", *restore)
    for p in added:
        p.unlink(missing_ok=True)
