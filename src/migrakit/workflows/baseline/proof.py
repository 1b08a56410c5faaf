"""`db.baseline`'s proof and install: a folder applied to a shadow database must give the live schema, and only
then are the proven files copied into the real folder and the rows inserted (under the lock the command holds).

`prove` raises a DriftError naming every difference (or the statement that fails on the shadow); `install` undoes
the files it copied when tracking fails; `prefix_copy` and `consolidations_before` build what "everything up to
an existing baseline" means for an adoption. command.py decides what to prove. [I/O]
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from migrakit.core.differences import difference_lines
from migrakit.core.drizzle.journal import JOURNAL_PATH, parse_journal, render_journal
from migrakit.core.migration import CONSOLIDATED, Migration
from migrakit.core.plan.planner import Plan
from migrakit.core.settings import Settings
from migrakit.db import tracking
from migrakit.db.connect import session
from migrakit.db.inspect import schema_diff as schema
from migrakit.db.inspect import shadow
from migrakit.db.run.executor import Executor
from migrakit.errors import DriftError, MigrakitError, MigrationFailed
from migrakit.sources.folders import V1, Folder, load_folder
from migrakit.sources.load import load_sources
from migrakit.workflows.steps import shadow_build
from migrakit.workflows.steps.options import executor_options, shadow_options


def prove(
    settings: Settings,
    migrations_dir: Path,
    target: session.Target,
    ignore: tuple[str, ...],
    what: str,
    tags: tuple[str, ...],
) -> None:
    """Apply `migrations_dir` (and the legacy files) to a shadow database; raise unless it equals the target. A
    failure in one of `tags` (the baseline's migrations) is the baseline's refusal."""
    with shadow.shadow(shadow_options(settings)) as url:
        try:
            files = load_sources(settings.with_overrides(migrations_dir=str(migrations_dir)), require_migrations=False)
            shadow_build.build(settings, url, files)
        except MigrationFailed as err:
            if err.migration not in tags:
                raise
            raise DriftError(
                f"{what} refused: its SQL fails on a shadow database, so it cannot reproduce this database's schema",
                file=None,
                migration=err.migration,
                statement_no=err.statement_no,
                cause=err.cause,
                state="nothing was written and nothing was tracked",
                fix="results generated SQL PostgreSQL rejects for an object of this database (shown below); write a "
                "migration for that object by hand (`inv db.generate --custom NAME`), apply it, then baseline the rest",
                details=[
                    *err.details,
                    *(f"statement {err.statement_no}: {line}" for line in _statement(migrations_dir, err)),
                ],
            ) from err
        diff = schema.compare(url, target.url, ignore_tables=ignore)
    if not diff.equal:
        details = [line for d in diff.differences for line in difference_lines(d)]
        raise DriftError(
            f"{what} refused: applied to a shadow database it does not give this database's schema "
            f"({len(diff.differences) or len(diff.statements)} difference(s))",
            state="nothing was written and nothing was tracked",
            fix="the database holds something the generated SQL cannot reproduce (listed below); write a migration "
            "for it by hand (`inv db.generate --custom NAME`) or change the database, then run `inv db.baseline` again",
            details=details or list(diff.statements),
        )


def _statement(migrations_dir: Path, err: MigrationFailed) -> list[str]:
    """The failing statement's text, for the refusal message."""
    folder = load_folder(migrations_dir)
    m = next((m for m in folder.migrations if m.tag == err.migration), None)
    if m is None or not err.statement_no or err.statement_no > len(m.statements):
        return []
    return m.statements[err.statement_no - 1].text.strip().splitlines()[:8]


def install(
    conn: Any, settings: Settings, copy: Path, relative: list[Path], tags: list[str], legacy: list[Migration]
) -> None:
    """Copy the proven files into the real folder, then insert the tracking rows of `tags` (the baseline's
    migrations) and of `legacy`, in one transaction; undo the files if that fails."""
    real = settings.migrations_dir
    journal = real / JOURNAL_PATH
    journal_before = journal.read_bytes() if journal.is_file() else None
    created: list[Path] = []
    try:
        for rel in relative:
            dest = real / rel
            if dest.exists() and dest != journal:
                raise MigrakitError(
                    f"{dest} appeared while the baseline was being proven", file=str(dest), fix="run again"
                )
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not dest.exists():
                created.append(dest)
            if dest == journal and journal_before is not None:
                _merge_journal(journal, copy / rel, tags)
            else:
                shutil.copyfile(copy / rel, dest)
        folder = load_folder(real, settings.root, max_bytes=settings.max_file_bytes)
        track(conn, settings, [*legacy, *(m for m in folder.migrations if m.tag in tags)], v1=folder.layout == V1)
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        for parent in {p.parent for p in created} - {real, real / "meta"}:
            if parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()  # a Drizzle 1.0 migration folder
        if journal_before is not None:
            journal.write_bytes(journal_before)
        raise


def _merge_journal(journal: Path, proven: Path, tags: list[str]) -> None:
    """Append the proven journal's new entries to the real journal (as it is now, byte-exact otherwise)."""
    current = parse_journal(journal.read_text(encoding="utf-8"), str(journal))
    for entry in (e for e in parse_journal(proven.read_text(encoding="utf-8")).entries if e.tag in tags):
        current = current.with_entry(entry.tag, entry.when, entry.breakpoints)
    journal.write_text(render_journal(current), encoding="utf-8")


def track(conn: Any, settings: Settings, migrations: list[Migration], *, v1: bool) -> None:
    """Insert the rows of `migrations` (proven, not run) in one transaction, on `conn`, which holds the
    migration lock since before the proof; unless one of them is tracked already (re-checked here)."""
    schema_name, table = settings.migrations_schema, settings.migrations_table
    hashes = {r.hash for r in tracking.read_rows(conn, schema_name, table)}
    already = [m.tag for m in migrations if m.hash in hashes]
    if already:
        raise MigrakitError(
            f"{', '.join(already)} got tracked on this database meanwhile",
            migration=already[0],
            state="nothing was tracked by this run",
            fix="another migrator ran at the same time: check `inv db.status`, then run `inv db.baseline` again",
        )
    tracking.ensure_table(conn, schema_name, table, v1=v1)
    Executor(conn, executor_options(settings, v1=v1)).record(migrations)


def consolidations_before(settings: Settings, plan: Plan, baseline_m: Migration, tmp: Path) -> Path:
    """A copy of the consolidated folder holding only the consolidations that run before the baseline."""
    dest = tmp / "consolidated"
    dest.mkdir()
    order = list(plan.migrations)
    for m in order[: order.index(baseline_m)]:
        if m.mode == CONSOLIDATED:
            for suffix in (".sql", ".toml"):
                shutil.copyfile(settings.consolidated_dir / f"{m.tag}{suffix}", dest / f"{m.tag}{suffix}")
    return dest


def prefix_copy(folder: Folder, last_tag: str, dest: Path) -> None:
    """A copy of `folder` holding only the migrations up to and including `last_tag`."""
    tags = [m.tag for m in folder.migrations]
    keep = set(tags[: tags.index(last_tag) + 1])
    if folder.layout == V1:
        dest.mkdir(parents=True)
        for tag in keep:
            shutil.copytree(folder.path / tag, dest / tag)
        return
    shutil.copytree(folder.path, dest)
    assert folder.journal is not None
    journal = folder.journal.without(set(tags) - keep)
    (dest / JOURNAL_PATH).write_text(render_journal(journal), encoding="utf-8")
